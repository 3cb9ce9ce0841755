#include "redis/capabilities.h"

#include <gtest/gtest.h>

namespace ruo::redis {
namespace {

Capabilities For(std::string_view version) {
  auto v = Version::Parse(version);
  EXPECT_TRUE(v.ok()) << version;
  return CapabilitiesFor(v.ok() ? *v : Version{});
}

// One row of the table in the design brief §4, plus the further facts.
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
};

class CapabilitiesTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(CapabilitiesTableTest, MatchesBrief) {
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
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Versions, CapabilitiesTableTest, ::testing::Values(
  //   version    pause  pauseW killT  fenceS atomic reset  ovh  replN  acl    psync2
  Row{"2.8.0",   false, false, false, false, false, true,  0,   false, false, false},
  Row{"2.8.11",  false, false, false, false, false, true,  0,   false, false, false},
  Row{"2.8.12",  false, false, true,  false, false, true,  0,   false, false, false},
  Row{"2.8.24",  false, false, true,  false, false, true,  0,   false, false, false},
  Row{"3.0.7",   true,  false, true,  false, true,  false, 0,   false, false, false},
  Row{"3.2.12",  true,  false, true,  false, true,  false, 0,   false, false, false},
  Row{"4.0.14",  true,  false, true,  false, true,  false, 15,  false, false, true},
  Row{"5.0.14",  true,  false, true,  false, true,  false, 15,  true,  false, true},
  Row{"6.0.20",  true,  false, true,  true,  true,  false, 0,   true,  true,  true},
  Row{"6.2.14",  true,  true,  true,  true,  false, false, 0,   true,  true,  true},
  Row{"7.0.15",  true,  true,  true,  true,  false, false, 0,   true,  true,  true},
  Row{"7.2.4",   true,  true,  true,  true,  false, false, 0,   true,  true,  true},
  Row{"7.4.1",   true,  true,  true,  true,  false, false, 0,   true,  true,  true}),
  [](const ::testing::TestParamInfo<Row>& info) {
    std::string name = "v" + std::string(info.param.version);
    for (char& c : name) if (c == '.') c = '_';
    return name;
  });
// clang-format on

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
