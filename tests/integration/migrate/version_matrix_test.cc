// `migrate` between real servers of different versions, under a live writer
// that mixes SET, EVAL, MULTI/EXEC and expiring keys (with a pub/sub
// subscriber) through a VIP the switch hook moves: every source the project
// installs into every newer target, 0 acknowledged writes lost.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "integration/migrate/migrate_fixture.h"
#include "redis/admin.h"

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
  // The subscriber was closed on the old master and, reconnected through the
  // VIP, hears what is published on the new one.
  EXPECT_GE(p.json.value("/pubsub/subscriber_reconnects"_json_pointer, int64_t{0}), 1) << p.out;
  EXPECT_GT(p.json.value("/pubsub/received_after_last_reconnect"_json_pointer, int64_t{0}), 0)
      << p.out;
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
  ASSERT_NO_FATAL_FAILURE(AllowStaleReads(*source));
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

// ---------------------------------------------------------------------------
// The seal on real sources: it holds whatever the source's own replica
// settings were, and no client's transaction crosses it.

struct SealCase {
  const char* source;
  const char* read_only_flag;  // the source's spelling of replica-read-only
};

class SealTest : public MigrateIntegrationTest, public ::testing::WithParamInterface<SealCase> {
 protected:
  // A source whose replicas would be writable: the seal alone must refuse writes.
  std::unique_ptr<RedisServer> StartWritableReplicaSource() {
    return StartServer("redis", GetParam().source,
                       {std::string("--") + GetParam().read_only_flag, "no"});
  }
};

void PrintTo(const SealCase& c, std::ostream* os) {
  *os << c.source;
}

TEST_P(SealTest, SealedSourceRefusesWritesWithReadOnlyOff) {
  auto source = StartWritableReplicaSource();
  auto target = StartServer("redis", "8.2.3");
  ASSERT_TRUE(source && target);
  ASSERT_NO_FATAL_FAILURE(Populate(*source, 1000));
  ASSERT_EQ(ConfigGet(*source, GetParam().read_only_flag), "no");
  CmdResult m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
                     target->endpoint().ToString()});
  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_EQ(m.json["result"], "completed") << m.out;

  EXPECT_EQ(Info(*source).replication.role, "slave");
  auto set = source->Command({"SET", "after-seal", "1"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->str.rfind("READONLY", 0), 0u) << set->str;
  // Stale reads are refused too: the sealed master's data stops at the seal.
  auto get = source->Command({"GET", "key:1"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str.rfind("MASTERDOWN", 0), 0u) << get->str;
  EXPECT_EQ(ConfigGet(*source, GetParam().read_only_flag), "yes");
}

TEST_P(SealTest, ReleasedAttemptLeavesReadOnlyOff) {
  auto source = StartWritableReplicaSource();
  auto target = StartServer("redis", "8.2.3");
  ASSERT_TRUE(source && target);
  const std::string stale_flag = std::string(GetParam().read_only_flag) == "slave-read-only"
                                     ? "slave-serve-stale-data"
                                     : "replica-serve-stale-data";
  const std::string orig_stale = ConfigGet(*source, stale_flag);
  // As in CatchUpTimeoutReleasesWrites: a link 500 ms behind under steady writes.
  const std::string backend = tmp_.File("backend");
  WriteFileAtomic(backend, source->endpoint().ToString() + "\n");
  const int slow_link = StartForwarder(backend, {"--delay-ms", "500"});
  ASSERT_GT(slow_link, 0);
  Subprocess* writer = Spawn("probe", {kBinary, "probe", "--addr", source->endpoint().ToString(),
                                       "--rate", "2000", "--duration", "300"});
  ASSERT_NE(writer, nullptr);
  CmdResult m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
                     target->endpoint().ToString(), "--source-as-seen-by-target",
                     "127.0.0.1:" + std::to_string(slow_link), "--max-read-only-seconds", "0.2",
                     "--max-attempts", "1", "--max-lag-bytes", "1000000000"});
  EXPECT_EQ(Reason(m), "CatchUpTimeout") << m.out << m.err;
  EXPECT_EQ(Info(*source).replication.role, "master");
  EXPECT_EQ(ConfigGet(*source, GetParam().read_only_flag), "no");
  EXPECT_EQ(ConfigGet(*source, stale_flag), orig_stale);
  auto set = source->Command({"SET", "after-release", "x"});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->IsOk()) << set->str;
  FinishProbe(writer);
}

// A client that queued MULTI ... SET before the switch and sends EXEC after
// the seal, before the old clients are closed (here: while the switch hook
// runs): 2.8 would run the transaction on the sealed replica and answer OK (an
// acknowledged write the new master never sees). The seal closes it first.
TEST_P(SealTest, TransactionAcrossTheSealIsNotAcknowledged) {
  auto source = StartServer("redis", GetParam().source);
  auto target = StartServer("redis", "8.2.3");
  ASSERT_TRUE(source && target);
  ASSERT_NO_FATAL_FAILURE(Populate(*source, 1000));
  auto dialer = redis::NewHiredisDialer();
  auto raw = dialer->Dial(source->endpoint(), redis::ConnectOptions{});
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  auto multi = (*raw)->Command({"MULTI"});
  ASSERT_TRUE(multi.ok() && multi->IsOk());
  auto queued = (*raw)->Command({"SET", "across-the-seal", "1"});
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->str, "QUEUED");

  const std::string in_hook = tmp_.File("in-hook");
  const std::string go_on = tmp_.File("go-on");
  const std::string hook = "touch " + in_hook + "; for i in $(seq 200); do [ -e " + go_on +
                           " ] && break; sleep 0.05; done";
  CmdResult m;
  std::thread migrate([&] {
    m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
             target->endpoint().ToString(), "--switch-hook", hook});
  });
  for (int i = 0; i < 1200 && !std::filesystem::exists(in_hook); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const bool hook_ran = std::filesystem::exists(in_hook);
  auto exec = (*raw)->Command({"EXEC"});
  WriteFileAtomic(go_on, "go\n");
  migrate.join();
  ASSERT_TRUE(hook_ran) << m.out << m.err;
  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  if (exec.ok()) {
    EXPECT_TRUE(exec->IsError()) << "EXEC after the seal answered " << redis::DebugString(*exec);
  }
  ASSERT_NO_FATAL_FAILURE(AllowStaleReads(*source));
  auto on_source = source->Command({"EXISTS", "across-the-seal"});
  auto on_target = target->Command({"EXISTS", "across-the-seal"});
  ASSERT_TRUE(on_source.ok() && on_target.ok());
  EXPECT_EQ(on_source->integer, 0);
  EXPECT_EQ(on_target->integer, 0);
}

// clang-format off
// A sealed old master (replica of the seal address, serve-stale-data off) must
// stay reachable for the switch's undo and finish: an operator restarted after
// the seal dials it again. Real 2.8.19 refuses CLIENT there (-MASTERDOWN), so a
// dial that named its connection with CLIENT SETNAME was refused and the undo
// could never run: writes stayed blocked (found by the chaos suite).
TEST_P(SealTest, SealedSourceCanBeDialedAndUnsealed) {
  auto source = StartServer("redis", GetParam().source);
  ASSERT_TRUE(source);
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"CONFIG", "SET", "slave-serve-stale-data", "no"},
        std::vector<std::string>{"SLAVEOF", "127.0.0.1", "1"}}) {
    auto r = source->Command(cmd);
    ASSERT_TRUE(r.ok() && !r->IsError()) << (r.ok() ? r->str : r.status().ToString());
  }
  auto get = source->Command({"GET", "k"});
  ASSERT_TRUE(get.ok());
  ASSERT_EQ(get->str.rfind("MASTERDOWN", 0), 0u) << get->str;  // the seal refuses reads

  auto dialer = redis::NewHiredisDialer();
  redis::ConnectOptions co;
  co.client_name = "redis-upgrade-operator";
  auto admin = redis::Admin::Connect(*dialer, source->endpoint(), co);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto info = (*admin)->GetInfo("replication");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->replication.role, "slave");
  // The undo's first step works on it.
  ASSERT_TRUE((*admin)->ReplicaOfNoOne().ok());
  EXPECT_EQ(Info(*source).replication.role, "master");
}

INSTANTIATE_TEST_SUITE_P(RealSources, SealTest, ::testing::Values(
    SealCase{"2.8.19", "slave-read-only"},
    SealCase{"6.2.14", "replica-read-only"},
    SealCase{"7.0.15", "replica-read-only"}),
    [](const ::testing::TestParamInfo<SealCase>& info) {
      std::string n = std::string("from_") + info.param.source;
      for (char& c : n) if (c == '.') c = '_';
      return n;
    });
// clang-format on

}  // namespace
}  // namespace ruo::testing
