// End-to-end tests of `redis-upgrade-operator migrate` (and `probe`): the real
// binary runs as a subprocess against real redis-server processes, the way a
// user outside Kubernetes runs it. A tcp_forwarder plays the VIP that the
// switch hook moves.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/migrate/migrate_fixture.h"
#include "integration/migrate/subprocess.h"
#include "redis/connection.h"
#include "redis/info.h"
#include "support/redis_server.h"

namespace ruo::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// (a) The whole switch under a live writer going through a VIP.
TEST_F(MigrateIntegrationTest, LiveSwitchUnderProbeLosesNothing) {
  auto source = StartRedis();
  auto target = StartRedis();
  ASSERT_TRUE(source && target);
  ASSERT_NO_FATAL_FAILURE(Populate(*source, 50000));

  const std::string backend = tmp_.File("backend");
  WriteFileAtomic(backend, source->endpoint().ToString() + "\n");
  const int vip = StartForwarder(backend);
  ASSERT_GT(vip, 0);
  const std::string vip_addr = "127.0.0.1:" + std::to_string(vip);

  Subprocess* probe =
      Spawn("probe", {kBinary, "probe", "--addr", vip_addr, "--rate", "5000", "--duration", "300",
                      "--verify", target->endpoint().ToString(), "--key-prefix", "itest"});
  ASSERT_NE(probe, nullptr);
  std::this_thread::sleep_for(seconds(1));
  ASSERT_TRUE(probe->Running()) << probe->Stderr();

  // The hook moves the VIP: new connections reach the new master. What it
  // prints must not reach migrate's stdout, which carries only the report.
  const std::string hook =
      "echo \"moving the VIP from $RUO_OLD_MASTER\"; printf '%s\\n' "
      "\"$RUO_NEW_MASTER\" > " +
      backend + ".new && mv " + backend + ".new " + backend;
  CmdResult m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
                     target->endpoint().ToString(), "--allow-same-version", "--switch-hook", hook});
  std::this_thread::sleep_for(seconds(1));  // writes through the new master, too
  CmdResult p = FinishProbe(probe);

  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  ASSERT_TRUE(m.json.is_object()) << m.out;
  EXPECT_EQ(m.json["result"], "completed");
  EXPECT_EQ(m.json["source_version"], "7.0.15");
  EXPECT_EQ(m.json["target_version"], "7.0.15");
  EXPECT_GE(m.json["attempts"].get<int>(), 1);
  const int64_t blocked = m.json["write_blocked_ms"].get<int64_t>();
  EXPECT_GE(blocked, 0);
  EXPECT_EQ(ReadFile(backend), target->endpoint().ToString() + "\n");
  EXPECT_NE(m.err.find("moving the VIP from " + source->endpoint().ToString()), std::string::npos)
      << m.err;

  ASSERT_TRUE(p.json.is_object()) << p.out << p.err;
  EXPECT_EQ(p.exit_code, 0) << p.out;
  EXPECT_EQ(p.json["lost"], 0) << p.out;
  EXPECT_GT(p.json["acked"].get<int64_t>(), 5000);
  EXPECT_GE(p.json["rate_achieved"].get<double>(), 4000) << p.out;
  const double gap = p.json["max_gap_ms"].get<double>();
  RecordProperty("write_blocked_ms", std::to_string(blocked));
  RecordProperty("probe_max_gap_ms", std::to_string(gap));
  std::cout << "write_blocked_ms=" << blocked << " probe_max_gap_ms=" << gap
            << " probe_acked=" << p.json["acked"] << " probe_errors=" << p.json["errors_by_kind"]
            << std::endl;

  // The old master is sealed: a read-only replica that keeps its data.
  redis::Info old_info = Info(*source);
  EXPECT_EQ(old_info.replication.role, "slave");
  auto set = source->Command({"SET", "after-switch", "x"});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->IsError());
  EXPECT_EQ(set->str.rfind("READONLY", 0), 0u) << set->str;
  EXPECT_EQ(Info(*target).replication.role, "master");

  // The target holds every key the source had at the seal, and more (probe writes after it).
  ASSERT_NO_FATAL_FAILURE(AllowStaleReads(*source));
  EXPECT_GE(DbSize(*target), DbSize(*source));
  ExpectAllKeysCopied(*source, *target);
}

// (b) The target cannot catch up inside the read-only bound: writes are released.
TEST_F(MigrateIntegrationTest, CatchUpTimeoutReleasesWrites) {
  auto source = StartRedis();
  auto target = StartRedis();
  ASSERT_TRUE(source && target);
  const std::string orig_min = ConfigGet(*source, "min-replicas-to-write");

  // The target replicates through a link that delays every byte by 500 ms, so
  // under steady writes it is always ~500 ms behind: catch-up in 0.2 s is impossible.
  const std::string backend = tmp_.File("backend");
  WriteFileAtomic(backend, source->endpoint().ToString() + "\n");
  const int slow_link = StartForwarder(backend, {"--delay-ms", "500"});
  ASSERT_GT(slow_link, 0);
  Subprocess* writer = Spawn("probe", {kBinary, "probe", "--addr", source->endpoint().ToString(),
                                       "--rate", "2000", "--duration", "300"});
  ASSERT_NE(writer, nullptr);

  CmdResult m =
      Run({"migrate", "--source", source->endpoint().ToString(), "--target",
           target->endpoint().ToString(), "--source-as-seen-by-target",
           "127.0.0.1:" + std::to_string(slow_link), "--max-read-only-seconds", "0.2",
           "--max-attempts", "1", "--max-lag-bytes", "1000000000", "--allow-same-version"});
  EXPECT_EQ(m.exit_code, 1) << m.out << m.err;
  EXPECT_EQ(m.json.value("result", ""), "failed") << m.out;
  EXPECT_EQ(Reason(m), "CatchUpTimeout") << m.out;

  // The old master is a writable master again, with its settings restored.
  EXPECT_EQ(Info(*source).replication.role, "master");
  auto set = source->Command({"SET", "after-release", "x"});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->IsOk()) << set->str;
  EXPECT_EQ(ConfigGet(*source, "min-replicas-to-write"), orig_min);
  EXPECT_EQ(Info(*target).replication.role, "slave");  // never promoted

  CmdResult p = FinishProbe(writer);
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
}

// (c) A wrong password is refused and never echoed; a missing one is named.
TEST_F(MigrateIntegrationTest, WrongOrMissingPasswordIsRefused) {
  const std::string password = "correct-Horse-7x";
  auto source = StartRedis({}, password);
  auto target = StartRedis({}, password);
  ASSERT_TRUE(source && target);
  const std::vector<std::string> args = {"migrate", "--source", source->endpoint().ToString(),
                                         "--target", target->endpoint().ToString()};

  const std::string wrong = "wrong-Pa55-zyx-31";
  CmdResult bad = Run(args, {{"REDISCLI_AUTH", wrong}});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_EQ(Reason(bad), "AuthFailed") << bad.out;
  EXPECT_EQ(bad.out.find(wrong), std::string::npos) << bad.out;
  EXPECT_EQ(bad.err.find(wrong), std::string::npos) << bad.err;
  EXPECT_EQ(bad.err.find(password), std::string::npos);

  CmdResult none = Run(args);
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
  EXPECT_EQ(Reason(none), "AuthRequired") << none.out;

  EXPECT_EQ(Info(*source).replication.role, "master");
  EXPECT_EQ(Info(*target).replication.role, "master");
}

// The password from the environment reaches both servers (and replication).
TEST_F(MigrateIntegrationTest, PasswordFromEnvironmentCompletes) {
  const std::string password = "correct-Horse-7x";
  auto source = StartRedis({}, password);
  auto target = StartRedis({}, password);
  ASSERT_TRUE(source && target);
  ASSERT_NO_FATAL_FAILURE(Populate(*source, 1000));
  CmdResult m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
                     target->endpoint().ToString(), "--allow-same-version"},
                    {{"REDISCLI_AUTH", password}});
  EXPECT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_EQ(m.json.value("result", ""), "completed") << m.out;
  EXPECT_EQ(m.out.find(password), std::string::npos);
  EXPECT_EQ(m.err.find(password), std::string::npos);
  EXPECT_EQ(DbSize(*target), 1000);
}

// A failing hook after the point of no return: reported with its exit status.
TEST_F(MigrateIntegrationTest, FailingSwitchHookIsReported) {
  auto source = StartRedis();
  auto target = StartRedis();
  ASSERT_TRUE(source && target);
  CmdResult m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
                     target->endpoint().ToString(), "--allow-same-version", "--switch-hook",
                     "echo cannot move the VIP >&2; exit 7"});
  EXPECT_EQ(m.exit_code, 1) << m.out << m.err;
  EXPECT_EQ(m.json.value("result", ""), "failed") << m.out;
  EXPECT_EQ(Reason(m), "SwitchHookFailed") << m.out;
  EXPECT_NE(m.json.value("error", "").find("exited with status 7"), std::string::npos) << m.out;
  EXPECT_NE(m.err.find("cannot move the VIP"), std::string::npos) << m.err;
  // Verified before the hook ran: the new master holds everything and stays promoted.
  EXPECT_EQ(Info(*target).replication.role, "master");
  EXPECT_EQ(Info(*source).replication.role, "slave");
}

// (d) Redis Cluster is not a standalone instance.
TEST_F(MigrateIntegrationTest, ClusterModeSourceIsRefused) {
  auto source =
      StartRedis({"--cluster-enabled", "yes", "--cluster-config-file", tmp_.File("nodes.conf")});
  auto target = StartRedis();
  ASSERT_TRUE(source && target);
  const std::string obuf = ConfigGet(*source, "client-output-buffer-limit");
  const std::string backlog = ConfigGet(*source, "repl-backlog-size");

  CmdResult m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
                     target->endpoint().ToString(), "--allow-same-version"});
  EXPECT_EQ(m.exit_code, 1) << m.out << m.err;
  EXPECT_EQ(Reason(m), "ClusterModeNotSupported") << m.out;
  redis::Info info = Info(*source);
  EXPECT_EQ(info.replication.role, "master");
  EXPECT_EQ(info.replication.connected_slaves, 0);
  EXPECT_EQ(ConfigGet(*source, "client-output-buffer-limit"), obuf);
  EXPECT_EQ(ConfigGet(*source, "repl-backlog-size"), backlog);
  EXPECT_EQ(Info(*target).replication.role, "master");
}

// (e) A target reporting an older version: never a downgrade, nothing touched.
TEST_F(MigrateIntegrationTest, DowngradeIsRefused) {
  auto source = StartRedis();
  ASSERT_TRUE(source);
  Subprocess* fake = Spawn("fake-redis", {kFakeRedis, "--version", "6.2.0"});
  ASSERT_NE(fake, nullptr);
  auto port = fake->FirstStdoutLine(seconds(10));
  ASSERT_TRUE(port.has_value()) << fake->Stderr();
  const std::vector<std::string> watched = {"client-output-buffer-limit", "repl-backlog-size",
                                            "min-replicas-to-write", "masterauth"};
  std::vector<std::string> before;
  for (const auto& name : watched) before.push_back(ConfigGet(*source, name));

  CmdResult m = Run({"migrate", "--source", source->endpoint().ToString(), "--target",
                     "127.0.0.1:" + *port, "--allow-same-version"});
  EXPECT_EQ(m.exit_code, 1) << m.out << m.err;
  EXPECT_EQ(Reason(m), "DowngradeRefused") << m.out;
  EXPECT_EQ(m.json.value("target_version", ""), "6.2.0") << m.out;
  for (size_t i = 0; i < watched.size(); ++i) {
    EXPECT_EQ(ConfigGet(*source, watched[i]), before[i]) << watched[i];
  }
  redis::Info info = Info(*source);
  EXPECT_EQ(info.replication.role, "master");
  EXPECT_EQ(info.replication.connected_slaves, 0);
}

// (f) Same version only with --allow-same-version.
TEST_F(MigrateIntegrationTest, SameVersionNeedsTheFlag) {
  auto source = StartRedis();
  auto target = StartRedis();
  ASSERT_TRUE(source && target);
  ASSERT_NO_FATAL_FAILURE(Populate(*source, 2000));
  const std::vector<std::string> args = {"migrate", "--source", source->endpoint().ToString(),
                                         "--target", target->endpoint().ToString()};
  CmdResult refused = Run(args);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_EQ(Reason(refused), "SameVersionRefused") << refused.out;
  EXPECT_EQ(Info(*source).replication.role, "master");
  EXPECT_EQ(Info(*target).replication.role, "master");
  EXPECT_EQ(DbSize(*target), 0);

  std::vector<std::string> allowed = args;
  allowed.push_back("--allow-same-version");
  CmdResult m = Run(allowed);
  EXPECT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_EQ(m.json.value("result", ""), "completed") << m.out;
  EXPECT_EQ(Info(*target).replication.role, "master");
  EXPECT_EQ(Info(*source).replication.role, "slave");
  EXPECT_EQ(DbSize(*target), 2000);
}

// (g) The source dies during the full sync: a clear failure, the target not promoted.
TEST_F(MigrateIntegrationTest, SourceKilledMidSyncFails) {
  // 1 ms per key while producing the RDB: a 20k-key full sync takes ~20 s.
  auto source = StartRedis({"--rdb-key-save-delay", "1000"});
  auto target = StartRedis();
  ASSERT_TRUE(source && target);
  ASSERT_NO_FATAL_FAILURE(Populate(*source, 20000));

  std::vector<std::string> argv = {kBinary,
                                   "migrate",
                                   "--source",
                                   source->endpoint().ToString(),
                                   "--target",
                                   target->endpoint().ToString(),
                                   "--allow-same-version"};
  Subprocess* m = Spawn("migrate", argv);
  ASSERT_NE(m, nullptr);
  bool syncing = false;
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (!syncing && std::chrono::steady_clock::now() < deadline && m->Running()) {
    syncing = Info(*target).replication.master_sync_in_progress;
    if (!syncing) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(syncing) << "the target never started a full sync: " << m->Stderr();
  source->Kill();

  auto code = m->Wait(seconds(120));
  ASSERT_TRUE(code.has_value()) << "migrate did not give up after the source died";
  const nlohmann::json report = ParseReport(m->Stdout());
  EXPECT_EQ(*code, 1) << m->Stdout() << m->Stderr();
  ASSERT_TRUE(report.is_object()) << m->Stdout();
  EXPECT_EQ(report["result"], "failed");
  const std::string reason = report.value("error_reason", "");
  EXPECT_TRUE(reason == "SourceLost" || reason == "SourceUnreachable") << m->Stdout();
  EXPECT_FALSE(report.value("error", "").empty());
  EXPECT_EQ(Info(*target).replication.role, "slave");
}

// (h) Usage errors: exit 2, one line naming the flag, nothing on stdout.
TEST_F(MigrateIntegrationTest, BadFlagsAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{"migrate", "--source", "127.0.0.1:6379"}, "--target"},
      {{"migrate", "--source", "nonsense", "--target", "127.0.0.1:6380"}, "--source"},
      {{"migrate", "--source", "127.0.0.1:6379", "--target", "127.0.0.1:notaport"}, "--target"},
      {{"migrate", "--source", "127.0.0.1:6379", "--target", "127.0.0.1:6380", "--max-lag-bytes",
        "-1"},
       "--max-lag-bytes"},
      {{"migrate", "--source", "127.0.0.1:6379", "--target", "127.0.0.1:6380",
        "--max-read-only-seconds", "0"},
       "--max-read-only-seconds"},
      {{"migrate", "--source", "127.0.0.1:6379", "--target", "127.0.0.1:6380", "--max-attempts",
        "x"},
       "--max-attempts"},
      {{"probe", "--addr", "127.0.0.1:6379", "--rate", "0"}, "--rate"},
      {{"probe", "--rate", "10"}, "--addr"},
      {{"frobnicate"}, "frobnicate"},
  };
  for (const auto& c : cases) {
    CmdResult r = Run(c.args, {}, seconds(10));
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << joined << "\n" << r.out;
    EXPECT_EQ(Lines(r.err).size(), 1u) << joined << "\n" << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << joined << "\n" << r.err;
  }
}

TEST_F(MigrateIntegrationTest, VersionPrintsAndRunHasItsFlags) {
  CmdResult version = Run({"version"}, {}, seconds(10));
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("redis-upgrade-operator ", 0), 0u) << version.out;
  CmdResult help = Run({"run", "--help"}, {}, seconds(10));
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* flag : {"--kubeconfig", "--namespace", "--metrics-bind-address",
                           "--health-probe-bind-address", "--leader-elect"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  }
}

// The probe's own verdict: lost writes are found, and none when there are none.
TEST_F(MigrateIntegrationTest, ProbeVerifiesAcknowledgedWrites) {
  auto a = StartRedis();
  auto b = StartRedis();
  ASSERT_TRUE(a && b);
  CmdResult same = Run({"probe", "--addr", a->endpoint().ToString(), "--rate", "2000", "--duration",
                        "0.5", "--verify", a->endpoint().ToString()});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  ASSERT_TRUE(same.json.is_object()) << same.out;
  EXPECT_EQ(same.json["lost"], 0);
  // 2000/s for 0.5 s: never more than the schedule, and a loaded machine may fall behind.
  EXPECT_LE(same.json["acked"].get<int64_t>(), 1001);
  EXPECT_GT(same.json["acked"].get<int64_t>(), 100);
  EXPECT_EQ(same.json["errors"], 0);

  CmdResult other = Run({"probe", "--addr", a->endpoint().ToString(), "--rate", "1000",
                         "--duration", "0.3", "--verify", b->endpoint().ToString()});
  EXPECT_EQ(other.exit_code, 1) << other.out << other.err;
  ASSERT_TRUE(other.json.is_object()) << other.out;
  EXPECT_EQ(other.json["lost"], other.json["acked"]);
  EXPECT_EQ(other.json["lost_sample"].size(), 10u);

  // Nothing listens: every dial fails, the run still ends and reports.
  CmdResult dead = Run({"probe", "--addr", "127.0.0.1:1", "--rate", "100", "--duration", "0.3"});
  EXPECT_EQ(dead.exit_code, 0) << dead.out << dead.err;
  ASSERT_TRUE(dead.json.is_object()) << dead.out;
  EXPECT_EQ(dead.json["acked"], 0);
  EXPECT_GT(dead.json["errors_by_kind"]["connection"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace ruo::testing
