#include "engine/switch_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "unit/engine/fake_connection.h"

namespace ruo::engine {
namespace {

using std::chrono::milliseconds;
using testing::Bulk;
using testing::ConfigValue;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::EventLog;
using testing::FakeConnection;
using testing::FakeServer;
using ::testing::HasSubstr;
using testing::InfoMaster;
using testing::InfoReplica;
using testing::InfoServer;
using testing::Int;
using testing::Ok;
using testing::Queued;

const std::chrono::system_clock::time_point kStart{milliseconds(1700000000000)};

class RecordingSink : public RecordSink {
 public:
  explicit RecordingSink(EventLog* log) : log_(log) {}
  Status Save(const SwitchRecord& r) override { return Store("save: ", r, &saved); }
  // Noted steps are logged apart so the tests show which steps are durable.
  Status Note(const SwitchRecord& r) override { return Store("note: ", r, &noted); }
  std::vector<SwitchRecord> saved;
  std::vector<SwitchRecord> noted;
  std::optional<SwitchStep> fail_at;

 private:
  Status Store(const std::string& what, const SwitchRecord& r, std::vector<SwitchRecord>* into) {
    log_->Add(what + std::string(SwitchStepName(r.step)));
    if (fail_at && *fail_at == r.step && !failed_) {
      failed_ = true;
      return Unavailable("status update refused", "Conflict");
    }
    into->push_back(r);
    return Status::Ok();
  }

  EventLog* log_;
  bool failed_ = false;
};

struct Env {
  EventLog log;
  FakeClock clock{kStart};
  FakeServer old_s;
  FakeServer new_s;
  RecordingSink sink{&log};
  SwitchOptions opts;
  SwitchRecord record;
  int mover_calls = 0;
  TrafficMover mover;
  std::vector<redis::Admin*> replicas;

  explicit Env(const std::string& old_version, const std::string& new_version = "7.0.15")
      : old_s(FakeServer::Make("old", {"127.0.0.1", 7000}, old_version, &log)),
        new_s(FakeServer::Make("new", {"127.0.0.1", 7001}, new_version, &log)) {
    opts.max_read_only = milliseconds(1000);
    opts.poll_interval = milliseconds(100);
    opts.client_kill_grace = milliseconds(200);
    opts.client_kill_interval = milliseconds(100);
    mover = [this] {
      log.Add("mover");
      ++mover_calls;
      return Status::Ok();
    };
  }
  FakeConnection& o() { return *old_s.conn; }
  FakeConnection& n() { return *new_s.conn; }
  SwitchProtocol Proto() {
    return SwitchProtocol(*old_s.admin, *new_s.admin, replicas, opts, clock, sink);
  }
  void ExpectAllConsumed() {
    EXPECT_EQ(o().remaining(), 0u) << "old master: scripted commands not sent";
    EXPECT_EQ(n().remaining(), 0u) << "new master: scripted commands not sent";
  }
};

void ExpectTx(FakeConnection& c, const std::vector<std::string>& cmds,
              std::vector<redis::Reply> results) {
  c.Expect("MULTI", Ok());
  for (const auto& cmd : cmds) c.Expect(cmd, Queued());
  c.Expect("EXEC", redis::Reply::Array(std::move(results)));
}

std::vector<std::string> Tx(const std::string& who, const std::vector<std::string>& cmds) {
  std::vector<std::string> out = {who + ": MULTI"};
  for (const auto& c : cmds) out.push_back(who + ": " + c);
  out.push_back(who + ": EXEC");
  return out;
}

void Append(std::vector<std::string>& a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
}

// "slave" or "replica": the old master's spelling of the seal's settings.
std::string Prefix(Env& env) {
  return env.old_s.admin->caps().replica_config_names ? "replica" : "slave";
}

// The reads before kBlocking: old replicas, new master's link, fence settings,
// the seal's settings (the source's own: read-only off, as a user may run it).
void ScriptPrepare(Env& env, const std::string& names, int64_t offset,
                   const std::string& max_lag = "10") {
  env.o().Expect("INFO replication", Bulk(InfoMaster(offset, 1)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(offset)));
  env.o().Expect("CONFIG GET min-" + names + "-to-write",
                 ConfigValue("min-" + names + "-to-write", "0"));
  env.o().Expect("CONFIG GET min-" + names + "-max-lag",
                 ConfigValue("min-" + names + "-max-lag", max_lag));
  const std::string p = Prefix(env);
  env.o().Expect("CONFIG GET " + p + "-read-only", ConfigValue(p + "-read-only", "no"));
  env.o().Expect("CONFIG GET " + p + "-serve-stale-data",
                 ConfigValue(p + "-serve-stale-data", "yes"));
}

std::vector<std::string> PrepareLines(const std::string& names) {
  const std::string p = names == "slaves" ? "slave" : "replica";
  return {"old: INFO replication",
          "new: INFO replication",
          "old: CONFIG GET min-" + names + "-to-write",
          "old: CONFIG GET min-" + names + "-max-lag",
          "old: CONFIG GET " + p + "-read-only",
          "old: CONFIG GET " + p + "-serve-stale-data"};
}

// The seal transaction's commands after its INFO.
std::vector<std::string> SealCmds(const std::string& p) {
  return {"CONFIG SET " + p + "-read-only yes", "CONFIG SET " + p + "-serve-stale-data no",
          "SLAVEOF 127.0.0.1 1", "CLIENT KILL TYPE normal", "CLIENT KILL TYPE pubsub"};
}

// MULTI / INFO replication / the seal / EXEC; 3 clients closed.
void ExpectSeal(Env& env, int64_t offset) {
  std::vector<std::string> cmds = {"INFO replication"};
  Append(cmds, SealCmds(Prefix(env)));
  ExpectTx(env.o(), cmds, {Bulk(InfoMaster(offset)), Ok(), Ok(), Ok(), Int(2), Int(1)});
}

std::vector<std::string> SealLines(Env& env) {
  std::vector<std::string> cmds = {"INFO replication"};
  Append(cmds, SealCmds(Prefix(env)));
  return Tx("old", cmds);
}

// Undo's restore of the old master's settings (saved_config, by name).
void ExpectRestore(Env& env, const std::string& names) {
  const std::string p = Prefix(env);
  env.o().Expect("CONFIG SET min-" + names + "-to-write 0", Ok());
  env.o().Expect("CONFIG SET " + p + "-read-only no", Ok());
  env.o().Expect("CONFIG SET " + p + "-serve-stale-data yes", Ok());
}

std::vector<std::string> RestoreLines(Env& env, const std::string& names) {
  const std::string p = Prefix(env);
  return {"old: CONFIG SET min-" + names + "-to-write 0", "old: CONFIG SET " + p + "-read-only no",
          "old: CONFIG SET " + p + "-serve-stale-data yes"};
}

// One round of the kill loop: normal and pub/sub clients; a sealed 2.8–6.0
// replica refuses CLIENT, so serve-stale-data is lifted around it.
std::vector<std::string> KillRound(Env& env) {
  std::vector<std::string> round = {"CLIENT KILL TYPE normal", "CLIENT KILL TYPE pubsub"};
  if (!env.old_s.admin->caps().client_ok_stale) {
    const std::string stale = Prefix(env) + "-serve-stale-data";
    round.insert(round.begin(), "CONFIG SET " + stale + " yes");
    round.push_back("CONFIG SET " + stale + " no");
  }
  return round;
}

std::vector<std::string> Kills(Env& env, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    for (const auto& c : KillRound(env)) out.push_back("old: " + c);
  }
  return out;
}

// Each round closes 3 clients.
void ScriptKills(Env& env, int n) {
  for (int i = 0; i < n; ++i) {
    for (const auto& c : KillRound(env)) {
      env.o().Expect(c, c == "CLIENT KILL TYPE normal"   ? Int(2)
                        : c == "CLIENT KILL TYPE pubsub" ? Int(1)
                                                         : Ok());
    }
  }
}

// ---------------------------------------------------------------------------
// The exact command sequence per source version, completed case.

TEST(SwitchProtocolTest, Redis70PauseWriteCompleted) {
  Env env("7.0.15");
  ScriptPrepare(env, "replicas", 1000);
  env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(1100)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  env.o().Expect("CONFIG SET min-replicas-to-write 1001", Ok());
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1200);
  ScriptKills(env, 3);
  env.o().Expect("CLIENT UNPAUSE", Ok());

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  env.ExpectAllConsumed();

  std::vector<std::string> want = PrepareLines("replicas");
  Append(want, {"save: Blocking", "old: CLIENT PAUSE 1000 WRITE", "old: INFO replication",
                "note: Blocked", "new: INFO replication", "new: INFO replication",
                "old: CONFIG SET min-replicas-to-write 1001", "note: Promoting"});
  Append(want, Tx("new", {"INFO replication", "SLAVEOF NO ONE"}));
  Append(want, {"note: Promoted", "note: Sealing"});
  Append(want, SealLines(env));
  Append(want, {"note: Sealed", "save: Verified", "mover", "save: TrafficMoved"});
  Append(want, Kills(env, 3));
  Append(want, {"old: CLIENT UNPAUSE", "save: Completed"});
  EXPECT_THAT(env.log.events, ElementsAreArray(want));

  const SwitchRecord& r = env.record;
  EXPECT_EQ(r.step, SwitchStep::kCompleted);
  EXPECT_EQ(r.attempt, 1);
  EXPECT_EQ(r.block_method, "pause-write");
  EXPECT_EQ(r.old_master, "127.0.0.1:7000");
  EXPECT_EQ(r.new_master, "127.0.0.1:7001");
  EXPECT_EQ(r.source_version, "7.0.15");
  EXPECT_EQ(r.replication_source, "127.0.0.1:7000");
  EXPECT_EQ(r.saved_config,
            (std::map<std::string, std::string>{{"min-replicas-to-write", "0"},
                                                {"replica-read-only", "no"},
                                                {"replica-serve-stale-data", "yes"}}));
  EXPECT_EQ(r.fence_offset, 1200);
  EXPECT_EQ(r.promoted_offset, 1200);
  EXPECT_EQ(r.sealed_offset, 1200);
  EXPECT_EQ(r.block_started_unix_ms, 1700000000000);
  EXPECT_EQ(r.write_blocked_ms, 100);  // one poll interval of catch-up
  EXPECT_EQ(r.clients_killed, 12);     // 3 in the seal, 3 in each of 3 rounds
  EXPECT_EQ(env.mover_calls, 1);
  // The MULTI blocks went out as one pipeline each.
  EXPECT_EQ(env.n().pipelines(), 1);
  EXPECT_EQ(env.o().pipelines(), 4);  // the seal, then one per kill round
}

TEST(SwitchProtocolTest, Redis60MultiFencePauseCompleted) {
  Env env("6.0.20");
  ScriptPrepare(env, "replicas", 1000);
  ExpectTx(env.o(),
           {"CONFIG SET min-replicas-to-write 1001", "CLIENT PAUSE 200", "INFO replication"},
           {Ok(), Ok(), Bulk(InfoMaster(1200))});
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1200);
  ScriptKills(env, 3);

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  env.ExpectAllConsumed();

  std::vector<std::string> want = PrepareLines("replicas");
  want.push_back("save: Blocking");
  Append(want, Tx("old", {"CONFIG SET min-replicas-to-write 1001", "CLIENT PAUSE 200",
                          "INFO replication"}));
  Append(want, {"note: Blocked", "new: INFO replication", "note: Promoting"});
  Append(want, Tx("new", {"INFO replication", "SLAVEOF NO ONE"}));
  Append(want, {"note: Promoted", "note: Sealing"});
  Append(want, SealLines(env));
  Append(want, {"note: Sealed", "save: Verified", "mover", "save: TrafficMoved"});
  Append(want, Kills(env, 3));
  want.push_back("save: Completed");  // no unpause: the pause expired long ago
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.block_method, "multi-fence-pause");
  EXPECT_EQ(env.record.write_blocked_ms, 0);
}

TEST(SwitchProtocolTest, Redis40MultiFencePauseCompletedWithOverhead) {
  Env env("4.0.14");
  ScriptPrepare(env, "slaves", 1000);
  // T includes the 15-byte MULTI no replica counts; N = S - 15 passes.
  ExpectTx(env.o(), {"CONFIG SET min-slaves-to-write 1001", "CLIENT PAUSE 200", "INFO replication"},
           {Ok(), Ok(), Bulk(InfoMaster(1215))});
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1215);
  ScriptKills(env, 3);

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  env.ExpectAllConsumed();

  std::vector<std::string> want = PrepareLines("slaves");
  want.push_back("save: Blocking");
  Append(want, Tx("old",
                  {"CONFIG SET min-slaves-to-write 1001", "CLIENT PAUSE 200", "INFO replication"}));
  Append(want, {"note: Blocked", "new: INFO replication", "note: Promoting"});
  Append(want, Tx("new", {"INFO replication", "SLAVEOF NO ONE"}));
  Append(want, {"note: Promoted", "note: Sealing"});
  Append(want, SealLines(env));
  Append(want, {"note: Sealed", "save: Verified", "mover", "save: TrafficMoved"});
  Append(want, Kills(env, 3));
  want.push_back("save: Completed");
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.fence_offset, 1215);
  EXPECT_EQ(env.record.promoted_offset, 1200);
  EXPECT_EQ(env.record.sealed_offset, 1215);
  EXPECT_EQ(env.record.saved_config,
            (std::map<std::string, std::string>{{"min-slaves-to-write", "0"},
                                                {"slave-read-only", "no"},
                                                {"slave-serve-stale-data", "yes"}}));
}

TEST(SwitchProtocolTest, Redis28FenceCompleted) {
  Env env("2.8.24");
  ScriptPrepare(env, "slaves", 1000);
  ExpectTx(env.o(), {"CONFIG SET min-slaves-to-write 1001", "INFO replication"},
           {Ok(), Bulk(InfoMaster(1200))});
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1200);
  ScriptKills(env, 3);

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  env.ExpectAllConsumed();

  std::vector<std::string> want = PrepareLines("slaves");
  want.push_back("save: Blocking");
  Append(want, Tx("old", {"CONFIG SET min-slaves-to-write 1001", "INFO replication"}));
  Append(want, {"note: Blocked", "new: INFO replication", "note: Promoting"});
  Append(want, Tx("new", {"INFO replication", "SLAVEOF NO ONE"}));
  Append(want, {"note: Promoted", "note: Sealing"});
  Append(want, SealLines(env));
  Append(want, {"note: Sealed", "save: Verified", "mover", "save: TrafficMoved"});
  Append(want, Kills(env, 3));
  want.push_back("save: Completed");
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.block_method, "fence");
}

// ---------------------------------------------------------------------------
// The offsets each release line really reports around a switch with no client
// writes (docs/design/redis-versions.md, "MULTI propagation"): such a switch
// completes in its first attempt on every line, and one byte more on the old
// master than the rule allows is released. `base` is the offset before the
// block; a propagated MULTI is 15 bytes, EXEC 14.

struct LineOffsets {
  const char* version;
  const char* names;  // "slaves" | "replicas"
  const char* method;
  int64_t t;  // master_repl_offset from the INFO inside the blocking transaction
  int64_t n;  // new master's slave_repl_offset at promotion
  int64_t s;  // old master's master_repl_offset from the INFO inside the seal
};

constexpr int64_t kBase = 1000;

void ScriptAttempt(Env& env, const LineOffsets& l, int64_t sealed) {
  const std::string to_write = std::string("min-") + l.names + "-to-write";
  ScriptPrepare(env, l.names, kBase);
  if (std::string(l.method) == "pause-write") {
    env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
    env.o().Expect("INFO replication", Bulk(InfoMaster(l.t)));
  } else {
    std::vector<std::string> block = {"CONFIG SET " + to_write + " 1001"};
    std::vector<redis::Reply> replies = {Ok()};
    if (std::string(l.method) == "multi-fence-pause") {
      block.push_back("CLIENT PAUSE 200");
      replies.push_back(Ok());
    }
    block.push_back("INFO replication");
    replies.push_back(Bulk(InfoMaster(l.t)));
    ExpectTx(env.o(), block, std::move(replies));
  }
  env.n().Expect("INFO replication", Bulk(InfoReplica(l.n)));
  if (std::string(l.method) == "pause-write") {
    env.o().Expect("CONFIG SET " + to_write + " 1001", Ok());
  }
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(l.n)), Ok()});
  ExpectSeal(env, sealed);
}

class LineOffsetsTest : public ::testing::TestWithParam<LineOffsets> {};

TEST_P(LineOffsetsTest, NoClientWritesCompletesInTheFirstAttempt) {
  const LineOffsets& l = GetParam();
  Env env(l.version);
  ScriptAttempt(env, l, l.s);
  ScriptKills(env, 3);
  if (std::string(l.method) == "pause-write") env.o().Expect("CLIENT UNPAUSE", Ok());
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted) << env.record.last_error;
  EXPECT_EQ(env.record.attempt, 1);
  EXPECT_EQ(env.record.block_method, l.method);
  env.ExpectAllConsumed();
}

TEST_P(LineOffsetsTest, OneByteInFlightIsReleased) {
  const LineOffsets& l = GetParam();
  Env env(l.version);
  ScriptAttempt(env, l, l.s + 1);
  // Undo: old master writable again with its settings, new master replicating it.
  env.o().Expect("INFO replication", Bulk(InfoReplica(0, "down", "127.0.0.1", 1)));
  env.o().Expect("SLAVEOF NO ONE", Ok());
  ExpectRestore(env, l.names);
  if (std::string(l.method) == "pause-write") env.o().Expect("CLIENT UNPAUSE", Ok());
  env.n().Expect("INFO replication", Bulk(InfoMaster(l.n, 0)));
  env.n().Expect("SLAVEOF 127.0.0.1 7000", Ok());
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  EXPECT_THAT(env.record.last_error, HasSubstr("verification failed"));
  EXPECT_EQ(env.mover_calls, 0);
  env.ExpectAllConsumed();
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(ReleaseLines, LineOffsetsTest, ::testing::Values(
    // 2.8, 3.0: CONFIG, CLIENT and INFO are flagged read-only, so the blocking
    // transaction propagates nothing, and the seal's MULTI goes out only at
    // SLAVEOF, after its INFO (and is dropped with the backlog): S = N = T.
    LineOffsets{"2.8.19", "slaves",   "fence",             kBase,      kBase,      kBase},
    LineOffsets{"3.0.7",  "slaves",   "multi-fence-pause", kBase,      kBase,      kBase},
    // 3.2–6.0: INFO is not read-only (nor admin, 4.0+), so a MULTI is
    // propagated before it runs: T includes it (the replica gets to T + 14
    // with the EXEC), and so does S, after the new master left: S = N + 15.
    LineOffsets{"3.2.12", "slaves",   "multi-fence-pause", kBase + 15, kBase + 29, kBase + 44},
    LineOffsets{"4.0.14", "slaves",   "multi-fence-pause", kBase + 15, kBase + 29, kBase + 44},
    LineOffsets{"5.0.14", "replicas", "multi-fence-pause", kBase + 15, kBase + 29, kBase + 44},
    LineOffsets{"6.0.20", "replicas", "multi-fence-pause", kBase + 15, kBase + 29, kBase + 44},
    // 6.2+: a MULTI is propagated only around commands that propagate.
    LineOffsets{"6.2.14", "replicas", "pause-write",       kBase,      kBase,      kBase},
    LineOffsets{"7.0.15", "replicas", "pause-write",       kBase,      kBase,      kBase},
    LineOffsets{"8.2.3",  "replicas", "pause-write",       kBase,      kBase,      kBase}),
    [](const ::testing::TestParamInfo<LineOffsets>& info) {
      std::string name = "v" + std::string(info.param.version);
      for (char& c : name) if (c == '.') c = '_';
      return name;
    });
// clang-format on

// ---------------------------------------------------------------------------
// The record is saved before each change.

TEST(SwitchProtocolTest, RecordSavedBeforeEachChange) {
  for (const std::string version : {"7.0.15", "4.0.14"}) {
    SCOPED_TRACE(version);
    Env env(version);
    const bool v7 = version[0] == '7';
    const std::string names = v7 ? "replicas" : "slaves";
    ScriptPrepare(env, names, 1000);
    if (v7) {
      env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
      env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
      env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
      env.o().Expect("CONFIG SET min-replicas-to-write 1001", Ok());
    } else {
      ExpectTx(env.o(),
               {"CONFIG SET min-slaves-to-write 1001", "CLIENT PAUSE 200", "INFO replication"},
               {Ok(), Ok(), Bulk(InfoMaster(1200))});
      env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
    }
    ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
    ExpectSeal(env, 1200);
    ScriptKills(env, 3);
    if (v7) env.o().Expect("CLIENT UNPAUSE", Ok());
    ASSERT_TRUE(env.Proto().Run(env.record, env.mover).ok());

    const EventLog& log = env.log;
    const int blocking = log.IndexOf("save: Blocking");
    ASSERT_GE(blocking, 0);
    EXPECT_LT(blocking, log.IndexOfPrefix("old: CONFIG SET"));
    EXPECT_LT(blocking, log.IndexOfPrefix("old: CLIENT PAUSE"));
    EXPECT_LT(blocking, log.IndexOf("old: MULTI"));
    EXPECT_LT(log.IndexOf("note: Promoting"), log.IndexOf("new: SLAVEOF NO ONE"));
    EXPECT_LT(log.IndexOf("note: Sealing"), log.IndexOf("old: SLAVEOF 127.0.0.1 1"));
    EXPECT_LT(log.IndexOf("save: Verified"), log.IndexOf("mover"));
    // Clients are closed inside the seal, and again after traffic moved.
    EXPECT_LT(log.IndexOf("note: Sealing"), log.IndexOf("old: CLIENT KILL TYPE normal"));
    EXPECT_LT(log.IndexOf("old: CLIENT KILL TYPE pubsub"), log.IndexOf("note: Sealed"));
    int last_kill = -1;
    for (size_t i = 0; i < log.events.size(); ++i) {
      if (log.events[i] == "old: CLIENT KILL TYPE pubsub") last_kill = static_cast<int>(i);
    }
    EXPECT_LT(log.IndexOf("save: TrafficMoved"), last_kill);
    // Blocking carries the original values and when the block began.
    ASSERT_FALSE(env.sink.saved.empty());
    EXPECT_EQ(env.sink.saved[0].step, SwitchStep::kBlocking);
    EXPECT_EQ(env.sink.saved[0].saved_config.at("min-" + names + "-to-write"), "0");
    EXPECT_GT(env.sink.saved[0].block_started_unix_ms, 0);
    // Inside the write-blocked window only the point of no return is durable:
    // the other steps are covered by undo from Blocking (ResumeUndoTest).
    std::vector<std::string> durable, noted;
    for (const auto& r : env.sink.saved) durable.emplace_back(SwitchStepName(r.step));
    for (const auto& r : env.sink.noted) noted.emplace_back(SwitchStepName(r.step));
    EXPECT_THAT(durable, ElementsAre("Blocking", "Verified", "TrafficMoved", "Completed"));
    EXPECT_THAT(noted, ElementsAre("Blocked", "Promoting", "Promoted", "Sealing", "Sealed"));
  }
}

// ---------------------------------------------------------------------------
// Catch-up timeout: writes released, record Idle with last_error, attempt counted.

TEST(SwitchProtocolTest, CatchUpTimeoutOn70Releases) {
  Env env("7.0.15");
  env.opts.max_read_only = milliseconds(300);
  ScriptPrepare(env, "replicas", 1000);
  env.o().Expect("CLIENT PAUSE 300 WRITE", Ok());
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  for (int i = 0; i < 4; ++i) env.n().Expect("INFO replication", Bulk(InfoReplica(1100)));
  env.o().Expect("CLIENT UNPAUSE", Ok());

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.ExpectAllConsumed();

  std::vector<std::string> want = PrepareLines("replicas");
  Append(want, {"save: Blocking", "old: CLIENT PAUSE 300 WRITE", "old: INFO replication",
                "note: Blocked"});
  Append(want, std::vector<std::string>(4, "new: INFO replication"));
  Append(want, {"old: CLIENT UNPAUSE", "save: Idle"});
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
  EXPECT_EQ(env.record.attempt, 1);
  EXPECT_THAT(env.record.last_error, HasSubstr("catch-up timed out"));
  EXPECT_THAT(env.record.last_error, HasSubstr("1100"));
  EXPECT_EQ(env.record.write_blocked_ms, 300);
  EXPECT_EQ(env.mover_calls, 0);
}

TEST(SwitchProtocolTest, CatchUpTimeoutOn40RestoresFence) {
  Env env("4.0.14");
  env.opts.max_read_only = milliseconds(300);
  ScriptPrepare(env, "slaves", 1000);
  ExpectTx(env.o(), {"CONFIG SET min-slaves-to-write 1001", "CLIENT PAUSE 200", "INFO replication"},
           {Ok(), Ok(), Bulk(InfoMaster(1215))});
  for (int i = 0; i < 4; ++i) env.n().Expect("INFO replication", Bulk(InfoReplica(1199)));
  env.o().Expect("CONFIG SET min-slaves-to-write 0", Ok());

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.ExpectAllConsumed();

  std::vector<std::string> want = PrepareLines("slaves");
  want.push_back("save: Blocking");
  Append(want, Tx("old",
                  {"CONFIG SET min-slaves-to-write 1001", "CLIENT PAUSE 200", "INFO replication"}));
  want.push_back("note: Blocked");
  Append(want, std::vector<std::string>(4, "new: INFO replication"));
  Append(want, {"old: CONFIG SET min-slaves-to-write 0", "save: Idle"});
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
  EXPECT_EQ(env.record.attempt, 1);
  EXPECT_FALSE(env.record.last_error.empty());
}

TEST(SwitchProtocolTest, SecondAttemptCountsAgain) {
  Env env("4.0.14");
  env.opts.max_read_only = milliseconds(0);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ScriptPrepare(env, "slaves", 1000);
    ExpectTx(env.o(),
             {"CONFIG SET min-slaves-to-write 1001", "CLIENT PAUSE 200", "INFO replication"},
             {Ok(), Ok(), Bulk(InfoMaster(1215))});
    env.n().Expect("INFO replication", Bulk(InfoReplica(1000)));
    env.o().Expect("CONFIG SET min-slaves-to-write 0", Ok());
    auto out = env.Proto().Run(env.record, env.mover);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(*out, SwitchOutcome::kReleased);
    EXPECT_EQ(env.record.attempt, attempt);
  }
  env.ExpectAllConsumed();
}

TEST(SwitchProtocolTest, MaxLagZeroIsRaisedWithTheFenceAndRestored) {
  Env env("6.0.20");
  env.opts.max_read_only = milliseconds(0);
  ScriptPrepare(env, "replicas", 1000, /*max_lag=*/"0");
  ExpectTx(env.o(),
           {"CONFIG SET min-replicas-to-write 1001", "CONFIG SET min-replicas-max-lag 10",
            "CLIENT PAUSE 200", "INFO replication"},
           {Ok(), Ok(), Ok(), Bulk(InfoMaster(1200))});
  env.n().Expect("INFO replication", Bulk(InfoReplica(1000)));
  // Release restores only the fence: the seal's settings were not touched.
  env.o().Expect("CONFIG SET min-replicas-max-lag 0", Ok());
  env.o().Expect("CONFIG SET min-replicas-to-write 0", Ok());
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.ExpectAllConsumed();
  EXPECT_EQ(env.sink.saved[0].saved_config.at("min-replicas-max-lag"), "0");
}

// ---------------------------------------------------------------------------
// Verification failure (S > N): undo.

TEST(SwitchProtocolTest, VerificationFailureOn70Undoes) {
  Env env("7.0.15");
  ScriptPrepare(env, "replicas", 1000);
  env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  env.o().Expect("CONFIG SET min-replicas-to-write 1001", Ok());
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1250);
  // Undo.
  env.o().Expect("INFO replication", Bulk(InfoReplica(0, "down", "127.0.0.1", 1)));
  env.o().Expect("SLAVEOF NO ONE", Ok());
  ExpectRestore(env, "replicas");
  env.o().Expect("CLIENT UNPAUSE", Ok());
  env.n().Expect("INFO replication", Bulk(InfoMaster(1200, 0)));
  env.n().Expect("SLAVEOF 127.0.0.1 7000", Ok());

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.ExpectAllConsumed();

  std::vector<std::string> tail = {"note: Sealed", "save: Undoing", "old: INFO replication",
                                   "old: SLAVEOF NO ONE"};
  Append(tail, RestoreLines(env, "replicas"));
  Append(tail, {"old: CLIENT UNPAUSE", "new: INFO replication", "new: SLAVEOF 127.0.0.1 7000",
                "save: Idle"});
  ASSERT_GE(env.log.events.size(), tail.size());
  EXPECT_THAT(std::vector<std::string>(env.log.events.end() - tail.size(), env.log.events.end()),
              ElementsAreArray(tail));
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
  EXPECT_THAT(env.record.last_error, HasSubstr("verification failed"));
  EXPECT_EQ(env.record.sealed_offset, 1250);
  EXPECT_EQ(env.mover_calls, 0);
  EXPECT_EQ(env.log.IndexOf("save: Verified"), -1);
}

TEST(SwitchProtocolTest, Redis28OneByteShortFailsVerification) {
  Env env("2.8.24");
  ScriptPrepare(env, "slaves", 1000);
  ExpectTx(env.o(), {"CONFIG SET min-slaves-to-write 1001", "INFO replication"},
           {Ok(), Bulk(InfoMaster(1200))});
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  // An EVAL slipped through the 2.8 fence: S = N + 1.
  ExpectSeal(env, 1201);
  env.o().Expect("INFO replication", Bulk(InfoReplica(0, "down", "127.0.0.1", 1)));
  env.o().Expect("SLAVEOF NO ONE", Ok());
  ExpectRestore(env, "slaves");
  env.n().Expect("INFO replication", Bulk(InfoMaster(1200, 0)));
  env.n().Expect("SLAVEOF 127.0.0.1 7000", Ok());

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.ExpectAllConsumed();
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
  EXPECT_THAT(env.record.last_error, HasSubstr("verification failed"));
  EXPECT_EQ(env.log.IndexOf("old: CLIENT UNPAUSE"), -1);
  EXPECT_EQ(env.mover_calls, 0);
}

TEST(SwitchProtocolTest, Redis40SixteenBytesShortFailsVerification) {
  Env env("4.0.14");
  ScriptPrepare(env, "slaves", 1000);
  ExpectTx(env.o(), {"CONFIG SET min-slaves-to-write 1001", "CLIENT PAUSE 200", "INFO replication"},
           {Ok(), Ok(), Bulk(InfoMaster(1215))});
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1216);
  env.o().Expect("INFO replication", Bulk(InfoReplica(0, "down", "127.0.0.1", 1)));
  env.o().Expect("SLAVEOF NO ONE", Ok());
  ExpectRestore(env, "slaves");
  env.n().Expect("INFO replication", Bulk(InfoMaster(1200, 0)));
  env.n().Expect("SLAVEOF 127.0.0.1 7000", Ok());
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.ExpectAllConsumed();
}

// ---------------------------------------------------------------------------
// The old master's run_id at the block: a restart since the sync was checked
// releases writes at once and fails SourceLost, on every path.

constexpr const char* kRunId = "5f1a0c9e2b7d4e6f8a9b0c1d2e3f405162738495";
constexpr const char* kOtherRunId = "0000000000000000000000000000000000000001";

std::string InfoServerWithRunId(const std::string& version, const std::string& run_id) {
  return InfoServer(version) + "run_id:" + run_id + "\r\n";
}

struct RunIdCase {
  const char* version;
  const char* names;
  const char* method;
};

class RunIdAtTheBlockTest : public ::testing::TestWithParam<RunIdCase> {};

// Scripts the block with INFO server answering `run_id`; returns the log lines.
std::vector<std::string> ScriptBlockWithRunId(Env& env, const RunIdCase& c,
                                              const std::string& run_id) {
  const std::string to_write = std::string("min-") + c.names + "-to-write";
  ScriptPrepare(env, c.names, 1000);
  std::vector<std::string> lines = PrepareLines(c.names);
  lines.push_back("save: Blocking");
  if (std::string(c.method) == "pause-write") {
    env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
    env.o().Expect("INFO server", Bulk(InfoServerWithRunId(c.version, run_id)));
    env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
    Append(lines, {"old: CLIENT PAUSE 1000 WRITE", "old: INFO server", "old: INFO replication"});
  } else {
    std::vector<std::string> block = {"CONFIG SET " + to_write + " 1001"};
    std::vector<redis::Reply> replies = {Ok()};
    if (std::string(c.method) == "multi-fence-pause") {
      block.push_back("CLIENT PAUSE 200");
      replies.push_back(Ok());
    }
    Append(block, {"INFO server", "INFO replication"});
    replies.push_back(Bulk(InfoServerWithRunId(c.version, run_id)));
    replies.push_back(Bulk(InfoMaster(1200)));
    ExpectTx(env.o(), block, std::move(replies));
    Append(lines, Tx("old", block));
  }
  return lines;
}

TEST_P(RunIdAtTheBlockTest, RestartedSourceIsReleasedAndNeverPromoted) {
  const RunIdCase& c = GetParam();
  Env env(c.version);
  env.opts.expected_source_run_id = kRunId;
  std::vector<std::string> want = ScriptBlockWithRunId(env, c, kOtherRunId);
  // Released at once: unpause (6.2+) or the fence restored; nothing else.
  if (std::string(c.method) == "pause-write") {
    env.o().Expect("CLIENT UNPAUSE", Ok());
    want.push_back("old: CLIENT UNPAUSE");
  } else {
    env.o().Expect(std::string("CONFIG SET min-") + c.names + "-to-write 0", Ok());
    want.push_back(std::string("old: CONFIG SET min-") + c.names + "-to-write 0");
  }
  want.push_back("save: Idle");

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().reason(), "SourceLost");
  EXPECT_THAT(out.status().message(), HasSubstr("restarted"));
  EXPECT_THAT(out.status().message(), HasSubstr(kOtherRunId));
  env.ExpectAllConsumed();
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
  EXPECT_THAT(env.record.last_error, HasSubstr("restarted"));
  EXPECT_EQ(env.log.IndexOf("new: SLAVEOF NO ONE"), -1);
  EXPECT_EQ(env.mover_calls, 0);
}

TEST_P(RunIdAtTheBlockTest, SameServerCompletes) {
  const RunIdCase& c = GetParam();
  Env env(c.version);
  env.opts.expected_source_run_id = kRunId;
  ScriptBlockWithRunId(env, c, kRunId);
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  if (std::string(c.method) == "pause-write") {
    env.o().Expect(std::string("CONFIG SET min-") + c.names + "-to-write 1001", Ok());
  }
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1200);
  ScriptKills(env, 3);
  if (std::string(c.method) == "pause-write") env.o().Expect("CLIENT UNPAUSE", Ok());
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  env.ExpectAllConsumed();
}

INSTANTIATE_TEST_SUITE_P(EveryPath, RunIdAtTheBlockTest,
                         ::testing::Values(RunIdCase{"2.8.19", "slaves", "fence"},
                                           RunIdCase{"5.0.14", "replicas", "multi-fence-pause"},
                                           RunIdCase{"7.0.15", "replicas", "pause-write"}),
                         [](const ::testing::TestParamInfo<RunIdCase>& info) {
                           return std::string(info.param.method) == "pause-write" ? "PauseWrite"
                                  : std::string(info.param.method) == "fence"     ? "Fence"
                                                                              : "MultiFencePause";
                         });

// ---------------------------------------------------------------------------
// Failures mid-protocol.

TEST(SwitchProtocolTest, NewMasterNotReplicatingChangesNothing) {
  Env env("7.0.15");
  env.o().Expect("INFO replication", Bulk(InfoMaster(1000, 1)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(900, "down")));
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().reason(), "NewMasterNotReplicating");
  EXPECT_TRUE(env.sink.saved.empty());
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
  EXPECT_EQ(env.record.attempt, 0);
  env.ExpectAllConsumed();
}

TEST(SwitchProtocolTest, SinkFailureBeforePromotionUndoes) {
  Env env("7.0.15");
  env.sink.fail_at = SwitchStep::kPromoting;
  ScriptPrepare(env, "replicas", 1000);
  env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  env.o().Expect("CONFIG SET min-replicas-to-write 1001", Ok());
  // Undo: the old master is still a master, the new one still replicates it.
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  ExpectRestore(env, "replicas");
  env.o().Expect("CLIENT UNPAUSE", Ok());
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().reason(), "Conflict");
  env.ExpectAllConsumed();
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
  EXPECT_EQ(env.log.IndexOf("new: SLAVEOF NO ONE"), -1);
  EXPECT_EQ(env.sink.saved.back().step, SwitchStep::kIdle);
}

TEST(SwitchProtocolTest, UnsavedVerifiedIsUndoneNotFinished) {
  Env env("7.0.15");
  env.sink.fail_at = SwitchStep::kVerified;
  ScriptPrepare(env, "replicas", 1000);
  env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  env.o().Expect("CONFIG SET min-replicas-to-write 1001", Ok());
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1200);
  env.o().Expect("INFO replication", Bulk(InfoReplica(0, "down", "127.0.0.1", 1)));
  env.o().Expect("SLAVEOF NO ONE", Ok());
  ExpectRestore(env, "replicas");
  env.o().Expect("CLIENT UNPAUSE", Ok());
  env.n().Expect("INFO replication", Bulk(InfoMaster(1200, 0)));
  env.n().Expect("SLAVEOF 127.0.0.1 7000", Ok());
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_FALSE(out.ok());
  env.ExpectAllConsumed();
  EXPECT_EQ(env.mover_calls, 0);
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
}

TEST(SwitchProtocolTest, TransportFailureAtSealLeavesRecordForResume) {
  Env env("7.0.15");
  ScriptPrepare(env, "replicas", 1000);
  env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  env.o().Expect("CONFIG SET min-replicas-to-write 1001", Ok());
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  env.o().Expect("MULTI", Unavailable("connection to 127.0.0.1:7000 lost", "ConnectionLost"));
  // Undo is tried once; the connection is gone.
  env.o().Expect("INFO replication", Unavailable("connection to 127.0.0.1:7000 is unusable"));

  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
  env.ExpectAllConsumed();
  EXPECT_EQ(env.record.step, SwitchStep::kUndoing);
  EXPECT_EQ(env.sink.saved.back().step, SwitchStep::kUndoing);
  EXPECT_EQ(env.mover_calls, 0);
}

TEST(SwitchProtocolTest, MoverFailureAfterVerifiedIsReturnedNotUndone) {
  Env env("7.0.15");
  env.mover = [] { return Unavailable("patching the Service failed"); };
  ScriptPrepare(env, "replicas", 1000);
  env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  env.o().Expect("CONFIG SET min-replicas-to-write 1001", Ok());
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1200);
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("moving traffic"));
  EXPECT_EQ(env.record.step, SwitchStep::kVerified);
  env.ExpectAllConsumed();
}

TEST(SwitchProtocolTest, RepointsNewReplicaWhoseLinkIsDown) {
  Env env("7.0.15");
  FakeServer rep1 = FakeServer::Make("rep1", {"127.0.0.1", 7002}, "7.0.15", &env.log);
  FakeServer rep2 = FakeServer::Make("rep2", {"127.0.0.1", 7003}, "7.0.15", &env.log);
  env.replicas = {rep1.admin.get(), rep2.admin.get()};
  ScriptPrepare(env, "replicas", 1000);
  env.o().Expect("CLIENT PAUSE 1000 WRITE", Ok());
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  env.o().Expect("CONFIG SET min-replicas-to-write 1001", Ok());
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"}, {Bulk(InfoReplica(1200)), Ok()});
  ExpectSeal(env, 1200);
  rep1.conn->Expect("INFO replication", Bulk(InfoReplica(1200, "up", "127.0.0.1", 7001)));
  rep2.conn->Expect("INFO replication", Bulk(InfoReplica(900, "down", "127.0.0.1", 7001)));
  rep2.conn->Expect("SLAVEOF 127.0.0.1 7001", Ok());
  ScriptKills(env, 3);
  env.o().Expect("CLIENT UNPAUSE", Ok());
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  env.ExpectAllConsumed();
  EXPECT_EQ(rep1.conn->remaining(), 0u);
  EXPECT_EQ(rep2.conn->remaining(), 0u);
  EXPECT_LT(env.log.IndexOf("save: Verified"), env.log.IndexOf("rep2: SLAVEOF 127.0.0.1 7001"));
}

// ---------------------------------------------------------------------------
// Resume from every step.

SwitchRecord Interrupted(SwitchStep step) {
  SwitchRecord r;
  r.attempt = 2;
  r.step = step;
  r.old_master = "127.0.0.1:7000";
  r.new_master = "127.0.0.1:7001";
  r.source_version = "7.0.15";
  r.saved_config = {{"min-replicas-to-write", "0"},
                    {"replica-read-only", "no"},
                    {"replica-serve-stale-data", "yes"}};
  r.block_method = "pause-write";
  r.fence_offset = 1200;
  r.block_started_unix_ms = 1700000000000 - 5000;
  r.replication_source = "127.0.0.1:7000";
  return r;
}

struct UndoCase {
  SwitchStep step;
  bool old_sealed;
  bool new_promoted;
};

class ResumeUndoTest : public ::testing::TestWithParam<UndoCase> {};

TEST_P(ResumeUndoTest, UndoesTheAttempt) {
  const UndoCase c = GetParam();
  Env env("7.0.15");
  env.record = Interrupted(c.step);
  env.o().Expect("INFO replication",
                 Bulk(c.old_sealed ? InfoReplica(0, "down", "127.0.0.1", 1) : InfoMaster(1200)));
  if (c.old_sealed) env.o().Expect("SLAVEOF NO ONE", Ok());
  ExpectRestore(env, "replicas");
  env.o().Expect("CLIENT UNPAUSE", Ok());
  env.n().Expect("INFO replication",
                 Bulk(c.new_promoted ? InfoMaster(1200, 0) : InfoReplica(1200)));
  if (c.new_promoted) env.n().Expect("SLAVEOF 127.0.0.1 7000", Ok());

  auto out = env.Proto().Resume(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.ExpectAllConsumed();

  std::vector<std::string> want = {"save: Undoing", "old: INFO replication"};
  if (c.old_sealed) want.push_back("old: SLAVEOF NO ONE");
  Append(want, RestoreLines(env, "replicas"));
  Append(want, {"old: CLIENT UNPAUSE", "new: INFO replication"});
  if (c.new_promoted) want.push_back("new: SLAVEOF 127.0.0.1 7000");
  want.push_back("save: Idle");
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
  EXPECT_EQ(env.record.attempt, 2);
  EXPECT_THAT(env.record.last_error, HasSubstr("interrupted at step"));
  EXPECT_EQ(env.mover_calls, 0);
}

INSTANTIATE_TEST_SUITE_P(EveryStepBeforeVerified, ResumeUndoTest,
                         // A crash anywhere inside the window leaves Blocking stored,
                         // whatever the servers' roles are by then.
                         ::testing::Values(UndoCase{SwitchStep::kBlocking, false, false},
                                           UndoCase{SwitchStep::kBlocking, false, true},
                                           UndoCase{SwitchStep::kBlocking, true, true},
                                           UndoCase{SwitchStep::kBlocked, false, false},
                                           UndoCase{SwitchStep::kPromoting, false, false},
                                           UndoCase{SwitchStep::kPromoting, false, true},
                                           UndoCase{SwitchStep::kPromoted, false, true},
                                           UndoCase{SwitchStep::kSealing, false, true},
                                           UndoCase{SwitchStep::kSealing, true, true},
                                           UndoCase{SwitchStep::kSealed, true, true},
                                           UndoCase{SwitchStep::kUndoing, true, true},
                                           UndoCase{SwitchStep::kUndoing, false, false}),
                         [](const ::testing::TestParamInfo<UndoCase>& info) {
                           return std::string(SwitchStepName(info.param.step)) +
                                  (info.param.old_sealed ? "OldSealed" : "") +
                                  (info.param.new_promoted ? "NewPromoted" : "");
                         });

TEST(SwitchProtocolResumeTest, FinishesFromVerified) {
  Env env("7.0.15");
  env.record = Interrupted(SwitchStep::kVerified);
  env.n().Expect("INFO replication", Bulk(InfoMaster(1200, 0)));
  env.o().Expect("INFO replication", Bulk(InfoReplica(0, "down", "127.0.0.1", 1)));
  ScriptKills(env, 3);
  env.o().Expect("CLIENT UNPAUSE", Ok());
  auto out = env.Proto().Resume(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  env.ExpectAllConsumed();
  std::vector<std::string> want = {"new: INFO replication", "old: INFO replication", "mover",
                                   "save: TrafficMoved"};
  Append(want, Kills(env, 3));
  Append(want, {"old: CLIENT UNPAUSE", "save: Completed"});
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.write_blocked_ms, 5000);  // wall clock since the block
  EXPECT_EQ(env.record.clients_killed, 9);
}

TEST(SwitchProtocolResumeTest, FinishesWithTheOldMasterGone) {
  Env env("7.0.15");
  env.record = Interrupted(SwitchStep::kVerified);
  env.n().Expect("INFO replication", Bulk(InfoMaster(1200, 0)));
  env.o().Expect("INFO replication", Unavailable("connect to 127.0.0.1:7000: Connection refused"));
  env.o().Expect("CLIENT KILL TYPE normal", Unavailable("connection unusable"));
  env.o().Expect("CLIENT UNPAUSE", Unavailable("connection unusable"));
  auto out = env.Proto().Resume(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  EXPECT_EQ(env.mover_calls, 1);
  env.ExpectAllConsumed();
}

// A resumed finish proves before it finishes (docs/switch-protocol.md,
// "Resume"): the record at Verified carries the old master's run_id and the id
// the new master shared with it when promoted.

constexpr const char* kSharedReplid = "a1b2c3d4e5f60718293a4b5c6d7e8f9010111213";
constexpr const char* kNewReplid = "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233";
constexpr const char* kNoReplid = "0000000000000000000000000000000000000000";

SwitchRecord StoredWithIds(SwitchStep step) {
  SwitchRecord r = Interrupted(step);
  r.promoted_offset = r.sealed_offset = 1200;
  r.source_run_id = kRunId;
  r.promoted_replid = kSharedReplid;
  return r;
}

// The new master as the promotion left it: the shared id moved to master_replid2.
std::string InfoPromoted(int64_t offset, const std::string& replid2 = kSharedReplid) {
  return InfoMaster(offset, 0) + "master_replid:" + kNewReplid + "\r\nmaster_replid2:" + replid2 +
         "\r\nsecond_repl_offset:1201\r\n";
}

TEST(SwitchProtocolTest, VerifiedRecordCarriesTheIds) {
  Env env("7.0.15");
  env.opts.expected_source_run_id = kRunId;
  ScriptBlockWithRunId(env, {"7.0.15", "replicas", "pause-write"}, kRunId);
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  env.o().Expect("CONFIG SET min-replicas-to-write 1001", Ok());
  ExpectTx(env.n(), {"INFO replication", "SLAVEOF NO ONE"},
           {Bulk(InfoReplica(1200) + "master_replid:" + kSharedReplid + "\r\n"), Ok()});
  ExpectSeal(env, 1200);
  ScriptKills(env, 3);
  env.o().Expect("CLIENT UNPAUSE", Ok());
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  env.ExpectAllConsumed();
  const auto verified =
      std::find_if(env.sink.saved.begin(), env.sink.saved.end(),
                   [](const SwitchRecord& r) { return r.step == SwitchStep::kVerified; });
  ASSERT_NE(verified, env.sink.saved.end());
  EXPECT_EQ(verified->source_run_id, kRunId);
  EXPECT_EQ(verified->promoted_replid, kSharedReplid);
  EXPECT_TRUE(verified->resume_notice.empty());
}

TEST(SwitchProtocolResumeTest, FinishesFromVerifiedWhenTheIdsProveIt) {
  Env env("7.0.15");
  env.record = StoredWithIds(SwitchStep::kVerified);
  env.n().Expect("INFO replication", Bulk(InfoPromoted(1350)));  // clients wrote since
  env.o().Expect("INFO replication", Bulk(InfoReplica(0, "down", "127.0.0.1", 1)));
  ScriptKills(env, 3);
  env.o().Expect("CLIENT UNPAUSE", Ok());
  auto out = env.Proto().Resume(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  env.ExpectAllConsumed();
  std::vector<std::string> want = {"new: INFO replication", "old: INFO replication", "mover",
                                   "save: TrafficMoved"};
  Append(want, Kills(env, 3));
  Append(want, {"old: CLIENT UNPAUSE", "save: Completed"});
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_TRUE(env.record.resume_notice.empty());
}

// Traffic was moved to the new master and the old one lost its seal: resealed
// (it keeps its data: the seal never syncs), and the finish says so.
struct ResealCase {
  const char* run_id;  // the old master's now
  const char* reason;
};

class ResealAfterTrafficMovedTest : public ::testing::TestWithParam<ResealCase> {};

TEST_P(ResealAfterTrafficMovedTest, ResealsAndNamesIt) {
  const ResealCase& c = GetParam();
  Env env("7.0.15");
  env.record = StoredWithIds(SwitchStep::kTrafficMoved);
  env.record.write_blocked_ms = 180;
  env.n().Expect("INFO replication", Bulk(InfoPromoted(1200)));
  env.o().Expect("INFO replication", Bulk(InfoMaster(40, 0)));
  env.o().Expect("INFO server", Bulk(InfoServerWithRunId("7.0.15", c.run_id)));
  ExpectTx(env.o(), SealCmds("replica"), {Ok(), Ok(), Ok(), Int(2), Int(1)});
  ScriptKills(env, 3);
  env.o().Expect("CLIENT UNPAUSE", Ok());
  auto out = env.Proto().Resume(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  env.ExpectAllConsumed();
  // Resealed whole: a restart drops the settings with the SLAVEOF.
  std::vector<std::string> want = {"new: INFO replication", "old: INFO replication",
                                   "old: INFO server"};
  Append(want, Tx("old", SealCmds("replica")));
  want.push_back("mover");
  Append(want, Kills(env, 3));
  Append(want, {"old: CLIENT UNPAUSE", "save: Completed"});
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.write_blocked_ms, 180);
  EXPECT_EQ(env.record.clients_killed, 12);
  EXPECT_THAT(env.record.resume_notice, HasSubstr(c.reason));
  EXPECT_THAT(env.record.resume_notice, HasSubstr("resealed"));
  ASSERT_FALSE(env.sink.saved.empty());
  EXPECT_EQ(env.sink.saved.back().resume_notice, env.record.resume_notice);
}

INSTANTIATE_TEST_SUITE_P(OldMasterWritableAgain, ResealAfterTrafficMovedTest,
                         ::testing::Values(ResealCase{kOtherRunId, "OldMasterRestarted"},
                                           ResealCase{kRunId, "OldMasterUnsealed"}),
                         [](const ::testing::TestParamInfo<ResealCase>& info) {
                           return std::string(info.param.reason);
                         });

// At Verified clients may still write to the old master that lost its seal:
// neither side can be shown to hold everything, so nothing is changed.
class OldMasterWritableAtVerifiedTest : public ::testing::TestWithParam<ResealCase> {};

TEST_P(OldMasterWritableAtVerifiedTest, FailsAndLeavesItWritable) {
  const ResealCase& c = GetParam();
  Env env("7.0.15");
  env.record = StoredWithIds(SwitchStep::kVerified);
  env.n().Expect("INFO replication", Bulk(InfoPromoted(1200)));
  env.o().Expect("INFO replication", Bulk(InfoMaster(1260, 0)));
  env.o().Expect("INFO server", Bulk(InfoServerWithRunId("7.0.15", c.run_id)));
  auto out = env.Proto().Resume(env.record, env.mover);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().reason(), c.reason);
  EXPECT_THAT(out.status().message(), HasSubstr("left writable"));
  env.ExpectAllConsumed();
  EXPECT_THAT(env.log.events,
              ElementsAre("new: INFO replication", "old: INFO replication", "old: INFO server"));
  EXPECT_EQ(env.record.step, SwitchStep::kVerified);
  EXPECT_EQ(env.mover_calls, 0);
}

INSTANTIATE_TEST_SUITE_P(OldMasterWritableAgain, OldMasterWritableAtVerifiedTest,
                         ::testing::Values(ResealCase{kOtherRunId, "OldMasterRestarted"},
                                           ResealCase{kRunId, "OldMasterUnsealed"}),
                         [](const ::testing::TestParamInfo<ResealCase>& info) {
                           return std::string(info.param.reason);
                         });

// The attempt was undone after its Verified write was stored (the reply was
// lost): the new master replicates the old one again, which took writes since.
// Promoting would lose them; the undo is completed instead and the switch retried.
struct UndoneCase {
  SwitchStep step;
  const char* version;
  const char* names;
};

class UndoneAfterVerifiedTest : public ::testing::TestWithParam<UndoneCase> {};

TEST_P(UndoneAfterVerifiedTest, CompletesTheUndoNeverPromotes) {
  const UndoneCase& c = GetParam();
  Env env(c.version);
  env.record = StoredWithIds(c.step);
  const bool v28 = std::string(c.names) == "slaves";
  if (v28) {
    env.record.source_version = c.version;
    env.record.block_method = "fence";
    env.record.promoted_replid.clear();  // 2.8 reports no ids
    env.record.saved_config = {
        {"min-slaves-to-write", "0"}, {"slave-read-only", "no"}, {"slave-serve-stale-data", "yes"}};
  }
  env.n().Expect("INFO replication", Bulk(InfoReplica(1500)));
  env.o().Expect("INFO replication", Bulk(InfoMaster(1500)));
  // Undo, as from any step before Verified: every action conditional, so only
  // what was left (the settings, the pause) is put back.
  env.o().Expect("INFO replication", Bulk(InfoMaster(1500)));
  ExpectRestore(env, c.names);
  if (!v28) env.o().Expect("CLIENT UNPAUSE", Ok());
  env.n().Expect("INFO replication", Bulk(InfoReplica(1500)));

  auto out = env.Proto().Resume(env.record, env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.ExpectAllConsumed();
  std::vector<std::string> want = {"new: INFO replication", "old: INFO replication",
                                   "save: Undoing", "old: INFO replication"};
  Append(want, RestoreLines(env, c.names));
  if (!v28) want.push_back("old: CLIENT UNPAUSE");
  Append(want, {"new: INFO replication", "save: Idle"});
  EXPECT_THAT(env.log.events, ElementsAreArray(want));
  EXPECT_EQ(env.record.step, SwitchStep::kIdle);
  EXPECT_EQ(env.record.attempt, 2);  // the next Run counts the retry
  EXPECT_THAT(env.record.last_error, HasSubstr("VerifiedNotFinished"));
  EXPECT_THAT(env.record.last_error, HasSubstr("offset 1500, sealed at 1200"));
  EXPECT_EQ(env.mover_calls, 0);
}

INSTANTIATE_TEST_SUITE_P(Steps, UndoneAfterVerifiedTest,
                         ::testing::Values(UndoneCase{SwitchStep::kVerified, "7.0.15", "replicas"},
                                           UndoneCase{SwitchStep::kTrafficMoved, "7.0.15",
                                                      "replicas"},
                                           UndoneCase{SwitchStep::kVerified, "2.8.19", "slaves"}),
                         [](const ::testing::TestParamInfo<UndoneCase>& info) {
                           std::string v = info.param.version;
                           for (char& ch : v) {
                             if (ch == '.') ch = '_';
                           }
                           return std::string(SwitchStepName(info.param.step)) + "_v" + v;
                         });

// Anything else a finish cannot prove: refused, nothing changed on either side.
struct UnprovenCase {
  const char* name;
  std::function<void(Env&)> script;
  std::vector<std::string> reads;
};

class CannotProveFinishTest : public ::testing::TestWithParam<UnprovenCase> {};

TEST_P(CannotProveFinishTest, ChangesNothing) {
  const UnprovenCase& c = GetParam();
  for (SwitchStep step : {SwitchStep::kVerified, SwitchStep::kTrafficMoved}) {
    SCOPED_TRACE(SwitchStepName(step));
    Env env("7.0.15");
    env.record = StoredWithIds(step);
    c.script(env);
    auto out = env.Proto().Resume(env.record, env.mover);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().reason(), "CannotProveFinish") << out.status().ToString();
    EXPECT_THAT(out.status().message(), HasSubstr("nothing was changed"));
    env.ExpectAllConsumed();
    EXPECT_THAT(env.log.events, ElementsAreArray(c.reads));
    EXPECT_EQ(env.record.step, step);
    EXPECT_EQ(env.mover_calls, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CannotProveFinishTest,
    ::testing::Values(
        // Restarted (or resynced) since the promotion: a new id, none second.
        UnprovenCase{
            "NewMasterNotThePromotedOne",
            [](Env& env) { env.n().Expect("INFO replication", Bulk(InfoPromoted(0, kNoReplid))); },
            {"new: INFO replication"}},
        UnprovenCase{"NewMasterReplicatesElsewhere",
                     [](Env& env) {
                       env.n().Expect("INFO replication",
                                      Bulk(InfoReplica(1200, "up", "10.0.0.9", 6379)));
                     },
                     {"new: INFO replication"}},
        UnprovenCase{"NewMasterReplicatesTheSealedOldMaster",
                     [](Env& env) {
                       env.n().Expect("INFO replication", Bulk(InfoReplica(1200, "down")));
                       env.o().Expect("INFO replication",
                                      Bulk(InfoReplica(0, "down", "127.0.0.1", 1)));
                     },
                     {"new: INFO replication", "old: INFO replication"}},
        UnprovenCase{"NewMasterReplicatesAnUnreachableOldMaster",
                     [](Env& env) {
                       env.n().Expect("INFO replication", Bulk(InfoReplica(1200, "down")));
                       env.o().Expect("INFO replication",
                                      Unavailable("connect to 127.0.0.1:7000: Connection refused"));
                     },
                     {"new: INFO replication", "old: INFO replication"}}),
    [](const ::testing::TestParamInfo<UnprovenCase>& info) {
      return std::string(info.param.name);
    });

TEST(SwitchProtocolResumeTest, IdleAndCompletedDoNothing) {
  Env env("7.0.15");
  env.record.step = SwitchStep::kIdle;
  auto out = env.Proto().Resume(env.record, env.mover);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.record.step = SwitchStep::kCompleted;
  out = env.Proto().Resume(env.record, env.mover);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  // Run on a completed record does nothing either.
  out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, SwitchOutcome::kCompleted);
  EXPECT_TRUE(env.log.events.empty());
}

TEST(SwitchProtocolResumeTest, RunOnAnInterruptedRecordResumesFirst) {
  Env env("7.0.15");
  env.record = Interrupted(SwitchStep::kBlocked);
  env.o().Expect("INFO replication", Bulk(InfoMaster(1200)));
  ExpectRestore(env, "replicas");
  env.o().Expect("CLIENT UNPAUSE", Ok());
  env.n().Expect("INFO replication", Bulk(InfoReplica(1200)));
  auto out = env.Proto().Run(env.record, env.mover);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, SwitchOutcome::kReleased);
  env.ExpectAllConsumed();
}

TEST(SwitchProtocolResumeTest, UndoRefusedPastThePointOfNoReturn) {
  Env env("7.0.15");
  env.record = Interrupted(SwitchStep::kTrafficMoved);
  Status s = env.Proto().Undo(env.record, "test");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.reason(), "PastPointOfNoReturn");
  EXPECT_TRUE(env.log.events.empty());
}

// ---------------------------------------------------------------------------
// Closing old clients until traffic settled (SwitchOptions::traffic_settled),
// on a finish from Verified: kill rounds interleaved with the predicate's
// checks, each check logged with the fake clock's time since the finish began.

struct KillEnv {
  Env env{"7.0.15"};
  std::vector<StatusOr<bool>> answers;  // one per check; the last repeats
  size_t checks = 0;
  std::optional<ClientKillReport> report;

  KillEnv() {
    env.record = Interrupted(SwitchStep::kVerified);
    env.opts.client_kill_interval = milliseconds(100);
    env.opts.client_kill_min = milliseconds(200);
    env.opts.client_kill_max = milliseconds(1000);
    const auto start = env.clock.Monotonic();
    env.opts.traffic_settled = [this, start]() -> StatusOr<bool> {
      const auto at =
          std::chrono::duration_cast<milliseconds>(env.clock.Monotonic() - start).count();
      StatusOr<bool> a = answers[std::min(checks++, answers.size() - 1)];
      env.log.Add("settled? @" + std::to_string(at) + " " +
                  (a.ok() ? (*a ? "yes" : "no") : "error"));
      return a;
    };
    env.opts.on_clients_closed = [this](const ClientKillReport& r) { report = r; };
    env.n().Expect("INFO replication", Bulk(InfoMaster(1200, 0)));
    env.o().Expect("INFO replication", Bulk(InfoReplica(0, "down", "127.0.0.1", 1)));
  }

  // Scripts `rounds` kill rounds and the unpause, finishes, and returns the
  // log from the first kill on.
  std::vector<std::string> Finish(int rounds) {
    ScriptKills(env, rounds);
    env.o().Expect("CLIENT UNPAUSE", Ok());
    auto out = env.Proto().Resume(env.record, env.mover);
    EXPECT_TRUE(out.ok() && *out == SwitchOutcome::kCompleted) << out.status().ToString();
    env.ExpectAllConsumed();
    const auto& e = env.log.events;
    const int first = env.log.IndexOf("save: TrafficMoved") + 1;
    return {e.begin() + first, e.end()};
  }

  std::vector<std::string> Round() { return Kills(env, 1); }
};

std::vector<std::string> Concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) Append(out, p);
  return out;
}

TEST(ClientKillTest, SettledAtOnceStillKillsAgainAtTheMinimum) {
  KillEnv k;
  k.answers = {true};
  const auto got = k.Finish(2);
  EXPECT_THAT(got, ElementsAreArray(Concat({k.Round(),
                                            {"settled? @0 yes"},
                                            k.Round(),
                                            {"old: CLIENT UNPAUSE", "save: Completed"}})));
  ASSERT_TRUE(k.report);
  EXPECT_EQ(k.report->rounds, 2);
  EXPECT_EQ(k.report->took, milliseconds(200));  // client_kill_min
  EXPECT_EQ(k.report->settled, true);
  EXPECT_EQ(k.report->killed, 6);
  EXPECT_EQ(k.env.record.clients_killed, 6);
  EXPECT_TRUE(k.env.record.last_error.empty());
}

TEST(ClientKillTest, KillsEveryIntervalUntilSettledThenOnceMore) {
  KillEnv k;
  k.answers = {false, false, false, true};
  const auto got = k.Finish(5);
  EXPECT_THAT(got, ElementsAreArray(Concat({k.Round(),
                                            {"settled? @0 no"},
                                            k.Round(),
                                            {"settled? @100 no"},
                                            k.Round(),
                                            {"settled? @200 no"},
                                            k.Round(),
                                            {"settled? @300 yes"},
                                            k.Round(),  // at 400: one interval later
                                            {"old: CLIENT UNPAUSE", "save: Completed"}})));
  ASSERT_TRUE(k.report);
  EXPECT_EQ(k.report->rounds, 5);
  EXPECT_EQ(k.report->took, milliseconds(400));
  EXPECT_EQ(k.report->settled, true);
  EXPECT_EQ(k.env.record.clients_killed, 15);
  EXPECT_TRUE(k.env.record.last_error.empty());
}

TEST(ClientKillTest, NeverSettledStopsAtTheMaximumAndRecordsIt) {
  KillEnv k;
  k.answers = {false};
  const auto got = k.Finish(11);  // at 0, 100, ... 1000
  EXPECT_EQ(std::count(got.begin(), got.end(), "old: CLIENT KILL TYPE normal"), 11);
  EXPECT_EQ(std::count_if(got.begin(), got.end(),
                          [](const std::string& e) { return e.rfind("settled? ", 0) == 0; }),
            11);
  EXPECT_THAT(got, ::testing::Contains("settled? @1000 no"));
  ASSERT_TRUE(k.report);
  EXPECT_EQ(k.report->took, milliseconds(1000));
  EXPECT_EQ(k.report->settled, false);
  EXPECT_TRUE(k.report->kill_error.empty());
  // Finished anyway (the old master is sealed), with the note stored in Completed.
  EXPECT_EQ(k.env.record.step, SwitchStep::kCompleted);
  ASSERT_FALSE(k.env.sink.saved.empty());
  EXPECT_THAT(k.env.sink.saved.back().last_error, HasSubstr("client_kill_max (1000 ms) ran out"));
}

TEST(ClientKillTest, PredicateErrorsAreRetriedWhileKilling) {
  KillEnv k;
  k.answers = {Unavailable("list endpointslices: connection refused"),
               Unavailable("list endpointslices: connection refused"), true};
  const auto got = k.Finish(4);
  EXPECT_THAT(got, ElementsAreArray(Concat({k.Round(),
                                            {"settled? @0 error"},
                                            k.Round(),
                                            {"settled? @100 error"},
                                            k.Round(),
                                            {"settled? @200 yes"},
                                            k.Round(),
                                            {"old: CLIENT UNPAUSE", "save: Completed"}})));
  ASSERT_TRUE(k.report);
  EXPECT_EQ(k.report->predicate_errors, 2);
  EXPECT_EQ(k.report->settled, true);
  EXPECT_EQ(k.report->took, milliseconds(300));
  EXPECT_TRUE(k.env.record.last_error.empty());
}

TEST(ClientKillTest, PredicateFailingUntilTheMaximumNamesTheLastError) {
  KillEnv k;
  k.env.opts.client_kill_max = milliseconds(300);
  k.answers = {Unavailable("list endpointslices: connection refused")};
  k.Finish(4);
  ASSERT_TRUE(k.report);
  EXPECT_EQ(k.report->settled, false);
  EXPECT_EQ(k.report->predicate_errors, 4);
  EXPECT_THAT(k.env.record.last_error, HasSubstr("connection refused"));
}

TEST(ClientKillTest, WithoutAPredicateKillsForTheFixedGrace) {
  KillEnv k;
  k.env.opts.traffic_settled = nullptr;
  k.env.opts.client_kill_grace = milliseconds(300);
  const auto got = k.Finish(4);  // at 0, 100, 200, 300
  EXPECT_THAT(got, ElementsAreArray(Concat({k.Round(),
                                            k.Round(),
                                            k.Round(),
                                            k.Round(),
                                            {"old: CLIENT UNPAUSE", "save: Completed"}})));
  ASSERT_TRUE(k.report);
  EXPECT_FALSE(k.report->settled.has_value());
  EXPECT_EQ(k.report->took, milliseconds(300));
}

TEST(ClientKillTest, AFailedKillStopsWithoutTheNote) {
  KillEnv k;
  k.answers = {false};
  k.env.o().Expect("CLIENT KILL TYPE normal", Unavailable("connection unusable"));
  k.env.o().Expect("CLIENT UNPAUSE", Unavailable("connection unusable"));
  auto out = k.env.Proto().Resume(k.env.record, k.env.mover);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  k.env.ExpectAllConsumed();
  ASSERT_TRUE(k.report);
  EXPECT_EQ(k.report->rounds, 0);
  EXPECT_FALSE(k.report->kill_error.empty());
  EXPECT_EQ(k.checks, 0u);  // an old master that is gone has no clients to wait for
  EXPECT_TRUE(k.env.record.last_error.empty());
}

}  // namespace
}  // namespace ruo::engine
