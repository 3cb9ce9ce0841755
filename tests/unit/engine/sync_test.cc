#include "engine/sync.h"

#include <gtest/gtest.h>

#include "unit/engine/fake_connection.h"

namespace ruo::engine {
namespace {

using testing::Bulk;
using testing::ConfigValue;
using testing::EventLog;
using testing::FakeServer;
using testing::InfoMaster;
using testing::InfoReplica;
using testing::Ok;

constexpr int64_t kMiB = 1024 * 1024;
const char kDefaultObuf[] = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

redis::Info Source(int64_t offset) {
  redis::Info i;
  i.replication.role = "master";
  i.replication.master_repl_offset = offset;
  return i;
}

redis::Info Target(int64_t offset, const std::string& link, bool syncing = false) {
  redis::Info i;
  i.replication.role = "slave";
  i.replication.master_link_status = link;
  i.replication.master_sync_in_progress = syncing;
  i.replication.slave_repl_offset = offset;
  return i;
}

TEST(ComputeSyncStatusTest, LinkUpGivesLag) {
  SyncStatus s = ComputeSyncStatus(Source(1000), Target(877, "up"));
  EXPECT_TRUE(s.link_up);
  EXPECT_TRUE(s.full_sync_done);
  EXPECT_FALSE(s.sync_in_progress);
  EXPECT_EQ(s.lag_bytes, 123);
  EXPECT_EQ(s.source_offset, 1000);
  EXPECT_EQ(s.target_offset, 877);
  EXPECT_EQ(s.master_link_status, "up");
}

TEST(ComputeSyncStatusTest, TargetAheadIsZeroLag) {
  EXPECT_EQ(ComputeSyncStatus(Source(1000), Target(1010, "up")).lag_bytes, 0);
}

TEST(ComputeSyncStatusTest, SyncingOrDownHasNoLag) {
  redis::Info t = Target(0, "down", /*syncing=*/true);
  t.replication.master_sync_left_bytes = 4096;
  SyncStatus s = ComputeSyncStatus(Source(1000), t);
  EXPECT_FALSE(s.link_up);
  EXPECT_FALSE(s.full_sync_done);
  EXPECT_TRUE(s.sync_in_progress);
  EXPECT_EQ(s.sync_left_bytes, 4096);
  EXPECT_EQ(s.lag_bytes, -1);

  s = ComputeSyncStatus(Source(1000), Target(900, "down"));
  EXPECT_FALSE(s.full_sync_done);
  EXPECT_EQ(s.lag_bytes, -1);
  EXPECT_EQ(s.master_link_status, "down");
}

TEST(ComputeSyncStatusTest, LoadingIsNotDone) {
  redis::Info t = Target(1000, "up");
  t.persistence.loading = true;
  EXPECT_FALSE(ComputeSyncStatus(Source(1000), t).full_sync_done);
}

TEST(ComputeSyncStatusTest, MasterTargetIsNotLinked) {
  redis::Info t = Target(0, "");
  t.replication.role = "master";
  SyncStatus s = ComputeSyncStatus(Source(1000), t);
  EXPECT_FALSE(s.link_up);
  EXPECT_EQ(s.lag_bytes, -1);
}

TEST(RequiredSyncLimitsTest, SmallDataSetGetsFloors) {
  SyncLimits l = RequiredSyncLimits(10 * kMiB, kDefaultObuf, 1 * kMiB);
  EXPECT_EQ(l.replica_obuf_hard, 256 * kMiB);
  EXPECT_EQ(l.replica_obuf_soft, 256 * kMiB);
  EXPECT_EQ(l.replica_obuf_soft_seconds, 60);
  EXPECT_EQ(l.repl_backlog_size, 16 * kMiB);
}

TEST(RequiredSyncLimitsTest, LargeDataSetScales) {
  SyncLimits l = RequiredSyncLimits(1024 * kMiB, kDefaultObuf, 1 * kMiB);
  EXPECT_EQ(l.replica_obuf_hard, 1024 * kMiB);
  EXPECT_EQ(l.replica_obuf_soft, 1024 * kMiB);
  EXPECT_EQ(l.repl_backlog_size, 128 * kMiB);
  // The backlog is capped at 512 MiB.
  l = RequiredSyncLimits(8192 * kMiB, kDefaultObuf, 1 * kMiB);
  EXPECT_EQ(l.repl_backlog_size, 512 * kMiB);
  EXPECT_EQ(l.replica_obuf_hard, 8192 * kMiB);
}

TEST(RequiredSyncLimitsTest, NeverLowersAndKeepsUnlimited) {
  SyncLimits l = RequiredSyncLimits(
      10 * kMiB, "normal 0 0 0 slave 0 1073741824 120 pubsub 33554432 8388608 60", 600 * kMiB);
  EXPECT_EQ(l.replica_obuf_hard, 0);  // unlimited stays unlimited
  EXPECT_EQ(l.replica_obuf_soft, 1024 * kMiB);
  EXPECT_EQ(l.replica_obuf_soft_seconds, 120);
  EXPECT_EQ(l.repl_backlog_size, 600 * kMiB);
}

TEST(RequiredSyncLimitsTest, ReplicaClassNameAndUnits) {
  SyncLimits l = RequiredSyncLimits(0, "normal 0 0 0 replica 1gb 512mb 30", 0);
  EXPECT_EQ(l.replica_obuf_hard, 1024 * kMiB);
  EXPECT_EQ(l.replica_obuf_soft, 512 * kMiB);
  EXPECT_EQ(l.replica_obuf_soft_seconds, 30);
}

struct Servers {
  EventLog log;
  FakeServer s;
  explicit Servers(const std::string& version)
      : s(FakeServer::Make("src", {"127.0.0.1", 7000}, version, &log)) {}
};

TEST(RaiseSyncLimitsTest, SavesOriginalsBeforeChanging) {
  Servers env("7.0.15");
  env.s.conn->Expect("CONFIG GET client-output-buffer-limit",
                     ConfigValue("client-output-buffer-limit", kDefaultObuf));
  env.s.conn->Expect("CONFIG GET repl-backlog-size", ConfigValue("repl-backlog-size", "1048576"));
  env.s.conn->Expect("INFO memory", Bulk("# Memory\r\nused_memory:1000000\r\n"));
  env.s.conn->ExpectArgv(
      {"CONFIG", "SET", "client-output-buffer-limit", "slave 268435456 268435456 60"}, Ok());
  env.s.conn->Expect("CONFIG SET repl-backlog-size 16777216", Ok());
  std::map<std::string, std::string> saved;
  std::vector<std::map<std::string, std::string>> persisted;
  Status s = RaiseSyncLimits(*env.s.admin, &saved, [&](const auto& m) {
    persisted.push_back(m);
    env.log.Add("persist");
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(env.s.conn->remaining(), 0u);
  EXPECT_EQ(saved.at("client-output-buffer-limit"), kDefaultObuf);
  EXPECT_EQ(saved.at("repl-backlog-size"), "1048576");
  ASSERT_EQ(persisted.size(), 1u);
  EXPECT_EQ(persisted[0], saved);
  EXPECT_LT(env.log.IndexOf("persist"), env.log.IndexOfPrefix("src: CONFIG SET"));
}

TEST(RaiseSyncLimitsTest, KeepsOriginalsFromAnEarlierRunAndSkipsWhenHighEnough) {
  Servers env("7.0.15");
  const std::string raised = "normal 0 0 0 slave 268435456 268435456 60 pubsub 33554432 8388608 60";
  env.s.conn->Expect("CONFIG GET client-output-buffer-limit",
                     ConfigValue("client-output-buffer-limit", raised));
  env.s.conn->Expect("CONFIG GET repl-backlog-size", ConfigValue("repl-backlog-size", "16777216"));
  env.s.conn->Expect("INFO memory", Bulk("# Memory\r\nused_memory:1000000\r\n"));
  std::map<std::string, std::string> saved = {{"client-output-buffer-limit", kDefaultObuf}};
  ASSERT_TRUE(RaiseSyncLimits(*env.s.admin, &saved).ok());
  EXPECT_EQ(env.s.conn->remaining(), 0u);
  EXPECT_EQ(saved.at("client-output-buffer-limit"), kDefaultObuf);
}

TEST(RestoreConfigTest, SetsEverySavedValue) {
  Servers env("7.0.15");
  env.s.conn->ExpectArgv({"CONFIG", "SET", "client-output-buffer-limit", kDefaultObuf}, Ok());
  env.s.conn->Expect("CONFIG SET repl-backlog-size 1048576", Ok());
  ASSERT_TRUE(RestoreConfig(*env.s.admin, {{"client-output-buffer-limit", kDefaultObuf},
                                           {"repl-backlog-size", "1048576"}})
                  .ok());
  EXPECT_EQ(env.s.conn->remaining(), 0u);
}

TEST(StartReplicationTest, SetsMasterauthThenSlaveof) {
  Servers env("7.0.15");
  env.s.conn->Expect("INFO replication", Bulk(InfoMaster(0, 0)));
  env.s.conn->Expect("CONFIG SET masterauth s3cret", Ok());
  env.s.conn->Expect("SLAVEOF 127.0.0.1 6379", Ok());
  ASSERT_TRUE(StartReplication(*env.s.admin, {"127.0.0.1", 6379}, "s3cret").ok());
  EXPECT_EQ(env.s.conn->remaining(), 0u);
}

TEST(StartReplicationTest, IdempotentWhenAlreadyReplicating) {
  Servers env("7.0.15");
  env.s.conn->Expect("INFO replication", Bulk(InfoReplica(10, "up", "127.0.0.1", 6379)));
  ASSERT_TRUE(StartReplication(*env.s.admin, {"127.0.0.1", 6379}, std::nullopt).ok());
  EXPECT_EQ(env.s.conn->remaining(), 0u);
}

TEST(StartReplicationTest, MasterauthFailureHidesPassword) {
  Servers env("7.0.15");
  env.s.conn->Expect("INFO replication", Bulk(InfoMaster(0, 0)));
  env.s.conn->Expect("CONFIG SET masterauth s3cret", redis::Reply::Error("ERR s3cret bad"));
  Status s = StartReplication(*env.s.admin, {"127.0.0.1", 6379}, "s3cret");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.ToString().find("s3cret"), std::string::npos) << s.ToString();
}

TEST(PollSyncTest, ReadsBothServers) {
  EventLog log;
  FakeServer src = FakeServer::Make("src", {"127.0.0.1", 7000}, "5.0.14", &log);
  FakeServer tgt = FakeServer::Make("tgt", {"127.0.0.1", 7001}, "7.0.15", &log);
  src.conn->Expect("INFO replication", Bulk(InfoMaster(500)));
  tgt.conn->Expect("INFO", Bulk(InfoReplica(450)));
  auto s = PollSync(*src.admin, *tgt.admin);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->lag_bytes, 50);
  EXPECT_TRUE(s->full_sync_done);
}

}  // namespace
}  // namespace ruo::engine
