// `migrate` between real servers of different versions, under a live writer
// that mixes SET, EVAL, MULTI/EXEC and expiring keys (with a pub/sub
// subscriber) through a VIP the switch hook moves: every source the project
// installs into every newer target, 0 acknowledged writes lost.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "integration/migrate/migrate_fixture.h"

namespace ruo::testing {
namespace {

using std::chrono::seconds;

struct Pair {
  const char* source;  // redis version, as FindServer takes it
  const char* target;
  const char* block_method;  // what the source's version gets
};

void PrintTo(const Pair& p, std::ostream* os) {
  *os << p.source << " -> " << p.target;
}

std::string PairName(const ::testing::TestParamInfo<Pair>& info) {
  std::string n = std::string("from_") + info.param.source + "_to_" + info.param.target;
  for (char& c : n) {
    if (c == '.') c = '_';
  }
  return n;
}

class VersionMatrixTest : public MigrateIntegrationTest,
                          public ::testing::WithParamInterface<Pair> {};

TEST_P(VersionMatrixTest, LiveMixedWritesLoseNothing) {
  const Pair& pair = GetParam();
  auto source = StartServer("redis", pair.source);
  auto target = StartServer("redis", pair.target);
  ASSERT_TRUE(source && target);
  ASSERT_NO_FATAL_FAILURE(Populate(*source, 20000));
  const std::string source_version = Info(*source).server.redis_version;
  const std::string target_version = Info(*target).server.redis_version;

  const std::string backend = tmp_.File("backend");
  WriteFileAtomic(backend, source->endpoint().ToString() + "\n");
  const int vip = StartForwarder(backend);
  ASSERT_GT(vip, 0);
  Subprocess* probe = Spawn(
      "probe", {kBinary, "probe", "--addr", "127.0.0.1:" + std::to_string(vip), "--rate", "1000",
                "--duration", "300", "--mix", "--verify", target->endpoint().ToString()});
  ASSERT_NE(probe, nullptr);
  std::this_thread::sleep_for(seconds(1));
  ASSERT_TRUE(probe->Running()) << probe->Stderr();

  const std::string hook = "printf '%s\\n' \"$RUO_NEW_MASTER\" > " + backend + ".new && mv " +
                           backend + ".new " + backend;
  CmdResult m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
                     target->endpoint().ToString(), "--switch-hook", hook});
  std::this_thread::sleep_for(seconds(1));  // writes through the new master, too
  CmdResult p = FinishProbe(probe);

  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_EQ(m.json["result"], "completed") << m.out;
  EXPECT_EQ(m.json["source_version"], source_version);
  EXPECT_EQ(m.json["target_version"], target_version);
  EXPECT_EQ(m.json["block_method"], pair.block_method);
  EXPECT_FALSE(m.json.contains("warnings")) << m.out;
  EXPECT_EQ(ReadFile(backend), target->endpoint().ToString() + "\n");

  ASSERT_TRUE(p.json.is_object()) << p.out << p.err;
  EXPECT_EQ(p.exit_code, 0) << p.out;
  EXPECT_EQ(p.json.value("lost", int64_t{-1}), 0) << p.out;
  EXPECT_EQ(p.json.value("ttl_lost", int64_t{-1}), 0) << p.out;
  for (const char* kind : {"set", "eval", "multi", "set_ex"}) {
    EXPECT_GT(p.json.value("/mix"_json_pointer / kind / "acked", int64_t{0}), 100)
        << kind << ": " << p.out;
  }
  std::cout << source_version << " -> " << target_version << ": attempts=" << m.json["attempts"]
            << " write_blocked_ms=" << m.json["write_blocked_ms"]
            << " block_method=" << m.json["block_method"] << " acked=" << p.json["acked"]
            << " max_gap_ms=" << p.json["max_gap_ms"] << " mix=" << p.json["mix"]
            << " pubsub=" << p.json["pubsub"] << std::endl;

  // The old master is sealed; the new one holds every key it had.
  EXPECT_EQ(Info(*source).replication.role, "slave");
  auto set = source->Command({"SET", "after-switch", "x"});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->str.rfind("READONLY", 0), 0u) << set->str;
  EXPECT_EQ(Info(*target).replication.role, "master");
  // The MULTI counter goes on counting on the new master.
  ExpectAllKeysCopied(*source, *target, ":multi-count");
}

// With no client writes the offsets around the switch are the servers' own
// bookkeeping only (a propagated MULTI, EXEC, PINGs): the verification must
// accept them the first time, on every real version.
TEST_P(VersionMatrixTest, NoClientWritesCompletesInTheFirstAttempt) {
  const Pair& pair = GetParam();
  auto source = StartServer("redis", pair.source);
  auto target = StartServer("redis", pair.target);
  ASSERT_TRUE(source && target);
  ASSERT_NO_FATAL_FAILURE(Populate(*source, 1000));
  CmdResult m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
                     target->endpoint().ToString()});
  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_EQ(m.json["result"], "completed") << m.out;
  EXPECT_EQ(m.json["attempts"], 1) << m.err;
  EXPECT_EQ(m.json["block_method"], pair.block_method);
  EXPECT_EQ(DbSize(*target), 1000);
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(RealServers, VersionMatrixTest, ::testing::Values(
    Pair{"2.8.19", "7.0.15", "fence"},
    Pair{"2.8.19", "8.2.3",  "fence"},
    Pair{"6.2.7",  "7.0.15", "pause-write"},
    Pair{"6.2.7",  "8.2.3",  "pause-write"},
    Pair{"6.2.14", "7.0.15", "pause-write"},
    Pair{"6.2.14", "8.2.3",  "pause-write"},
    Pair{"7.0.15", "8.2.3",  "pause-write"}),
    PairName);
// clang-format on

}  // namespace
}  // namespace ruo::testing
