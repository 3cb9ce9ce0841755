#include "redis/capabilities.h"

#include <gtest/gtest.h>

namespace ruo::redis {
namespace {

Capabilities For(std::string_view version) {
  auto v = Version::Parse(version);
  EXPECT_TRUE(v.ok()) << version;
  return CapabilitiesFor(v.ok() ? *v : Version{});
}

// One row per version: the facts docs/design/redis-versions.md derives from
// the Redis sources (and, for 2.8.19, 6.2.x, 7.0.15 and 8.2.3, real servers).
struct Row {
  std::string_view version;
  bool client_pause;
  bool client_pause_write;
  bool client_kill_type;
  bool fence_blocks_scripts;
  bool atomic_multi_pause;
  bool offsets_reset_on_slaveof;
  long long multi_offset_overhead;
  bool replica_config_names;
  bool acl;
  bool psync2;
  int rdb_version;
  std::string_view line;  // the release line whose rules apply
  bool checked;
};

class CapabilitiesTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(CapabilitiesTableTest, MatchesTheSources) {
  const Row& row = GetParam();
  Capabilities c = For(row.version);
  EXPECT_EQ(c.version.ToString(), row.version);
  EXPECT_EQ(c.client_pause, row.client_pause);
  EXPECT_EQ(c.client_pause_write, row.client_pause_write);
  EXPECT_EQ(c.client_kill_type, row.client_kill_type);
  EXPECT_EQ(c.fence_blocks_scripts, row.fence_blocks_scripts);
  EXPECT_EQ(c.atomic_multi_pause, row.atomic_multi_pause);
  EXPECT_EQ(c.offsets_reset_on_slaveof, row.offsets_reset_on_slaveof);
  EXPECT_EQ(c.multi_offset_overhead, row.multi_offset_overhead);
  EXPECT_EQ(c.replica_config_names, row.replica_config_names);
  EXPECT_EQ(c.acl, row.acl);
  EXPECT_EQ(c.psync2, row.psync2);
  EXPECT_EQ(c.rdb_version, row.rdb_version);
  EXPECT_EQ(c.line.ToString(), row.line);
  EXPECT_EQ(c.checked, row.checked);
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Versions, CapabilitiesTableTest, ::testing::Values(
  //   version    pause  pauseW killT  fenceS atomic reset  ovh  replN  acl    psync2 rdb line   checked
  Row{"2.8.0",   false, false, false, false, false, true,  0,   false, false, false, 6,  "2.8", true},
  Row{"2.8.11",  false, false, false, false, false, true,  0,   false, false, false, 6,  "2.8", true},
  Row{"2.8.12",  false, false, true,  false, false, true,  0,   false, false, false, 6,  "2.8", true},
  Row{"2.8.19",  false, false, true,  false, false, true,  0,   false, false, false, 6,  "2.8", true},
  Row{"2.8.24",  false, false, true,  false, false, true,  0,   false, false, false, 6,  "2.8", true},
  Row{"3.0.7",   true,  false, true,  false, true,  true,  0,   false, false, false, 6,  "3.0", true},
  Row{"3.2.12",  true,  false, true,  false, true,  false, 15,  false, false, false, 7,  "3.2", true},
  Row{"4.0.14",  true,  false, true,  false, true,  false, 15,  false, false, true,  8,  "4.0", true},
  Row{"5.0.14",  true,  false, true,  false, true,  false, 15,  true,  false, true,  9,  "5.0", true},
  Row{"6.0.16",  true,  false, true,  false, true,  false, 15,  true,  true,  true,  9,  "6.0", true},
  Row{"6.0.17",  true,  false, true,  false, true,  false, 15,  true,  true,  true,  9,  "6.0", true},
  Row{"6.0.20",  true,  false, true,  false, true,  false, 15,  true,  true,  true,  9,  "6.0", true},
  Row{"6.2.6",   true,  true,  true,  false, false, false, 0,   true,  true,  true,  9,  "6.2", true},
  Row{"6.2.7",   true,  true,  true,  true,  false, false, 0,   true,  true,  true,  9,  "6.2", true},
  Row{"6.2.14",  true,  true,  true,  true,  false, false, 0,   true,  true,  true,  9,  "6.2", true},
  Row{"7.0.0",   true,  true,  true,  true,  false, false, 0,   true,  true,  true,  10, "7.0", true},
  Row{"7.0.15",  true,  true,  true,  true,  false, false, 0,   true,  true,  true,  10, "7.0", true},
  Row{"7.2.4",   true,  true,  true,  true,  false, false, 0,   true,  true,  true,  11, "7.2", true},
  Row{"7.4.1",   true,  true,  true,  true,  false, false, 0,   true,  true,  true,  12, "7.4", true},
  Row{"8.0.2",   true,  true,  true,  true,  false, false, 0,   true,  true,  true,  12, "8.0", true},
  Row{"8.2.3",   true,  true,  true,  true,  false, false, 0,   true,  true,  true,  12, "8.2", true},
  // Lines between checked ones take the rules of the line below; newer than
  // every checked line: the newest line's rules, flagged unchecked.
  Row{"7.1.0",   true,  true,  true,  true,  false, false, 0,   true,  true,  true,  10, "7.0", true},
  Row{"8.4.0",   true,  true,  true,  true,  false, false, 0,   true,  true,  true,  12, "8.2", false},
  Row{"9.0.1",   true,  true,  true,  true,  false, false, 0,   true,  true,  true,  12, "8.2", false}),
  [](const ::testing::TestParamInfo<Row>& info) {
    std::string name = "v" + std::string(info.param.version);
    for (char& c : name) if (c == '.') c = '_';
    return name;
  });
// clang-format on

TEST(CapabilitiesTest, SupportedVersionsAreAnyReleaseFrom28) {
  for (std::string_view v :
       {"2.8", "2.8.0", "3.0", "7.2", "8.0", "8.2.3", "8.4", "9.0", "12.3.4"}) {
    EXPECT_TRUE(IsSupportedVersion(*Version::Parse(v))) << v;
  }
  // Older than 2.8, or no release line named ("7" alone).
  for (std::string_view v : {"2.6", "2.6.17", "1.0", "0.0.1", "7"}) {
    EXPECT_FALSE(IsSupportedVersion(*Version::Parse(v))) << v;
  }
  EXPECT_EQ(OldestSupportedLine().ToString(), "2.8");
  EXPECT_EQ(NewestCheckedLine().ToString(), "8.2");
  EXPECT_EQ(SupportedVersionsText(), "2.8 or newer (checked against 2.8 to 8.2)");
}

TEST(CapabilitiesTest, UncheckedWarningNamesVersionAndAssumedLine) {
  EXPECT_EQ(UncheckedVersionWarning(*Version::Parse("8.2.3"), "target"), "");
  EXPECT_EQ(UncheckedVersionWarning(*Version::Parse("2.6.0"), "target"), "");
  EXPECT_EQ(UncheckedVersionWarning(*Version::Parse("8.4"), "the target's Redis"),
            "the target's Redis 8.4 is newer than every release line this operator was checked "
            "against (the newest is 8.2); the rules of 8.2 are assumed");
}

TEST(CapabilitiesTest, ReleaseLineWithoutPatchIsItsFirstRelease) {
  EXPECT_FALSE(For("2.8").client_kill_type);  // 2.8 means 2.8.0 here
  EXPECT_TRUE(For("6.2").client_pause_write);
  EXPECT_TRUE(For("3.0").client_pause);
}

TEST(CapabilitiesTest, MinReplicasNames) {
  EXPECT_EQ(MinReplicasToWriteName(For("2.8.24")), "min-slaves-to-write");
  EXPECT_EQ(MinReplicasToWriteName(For("4.0.14")), "min-slaves-to-write");
  EXPECT_EQ(MinReplicasToWriteName(For("5.0.0")), "min-replicas-to-write");
  EXPECT_EQ(MinReplicasToWriteName(For("7.0.15")), "min-replicas-to-write");
  EXPECT_EQ(MinReplicasMaxLagName(For("3.2.12")), "min-slaves-max-lag");
  EXPECT_EQ(MinReplicasMaxLagName(For("6.2.14")), "min-replicas-max-lag");
}

TEST(CapabilitiesTest, ConfigNameForTranslatesBothWays) {
  EXPECT_EQ(ConfigNameFor(For("4.0.14"), "min-replicas-to-write"), "min-slaves-to-write");
  EXPECT_EQ(ConfigNameFor(For("4.0.14"), "min-slaves-to-write"), "min-slaves-to-write");
  EXPECT_EQ(ConfigNameFor(For("7.0.15"), "min-slaves-to-write"), "min-replicas-to-write");
  EXPECT_EQ(ConfigNameFor(For("7.0.15"), "SLAVE-READ-ONLY"), "replica-read-only");
  EXPECT_EQ(ConfigNameFor(For("2.8.24"), "repl-ping-replica-period"), "repl-ping-slave-period");
  // Names that never changed pass through untouched.
  EXPECT_EQ(ConfigNameFor(For("2.8.24"), "repl-backlog-size"), "repl-backlog-size");
  EXPECT_EQ(ConfigNameFor(For("7.0.15"), "maxmemory"), "maxmemory");
}

}  // namespace
}  // namespace ruo::redis
