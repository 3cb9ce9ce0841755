#include "engine/precheck.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ruo::engine {
namespace {

using ::testing::HasSubstr;

redis::Version V(const std::string& s) {
  auto v = redis::Version::Parse(s);
  EXPECT_TRUE(v.ok()) << s;
  return *v;
}

redis::Info Server(const std::string& version, const std::string& role = "master") {
  redis::Info i;
  i.server.redis_version = version;
  i.server.version = V(version);
  i.server.redis_mode = "standalone";
  i.server.run_id = "run-" + version + "-" + role;
  i.replication.role = role;
  return i;
}

PrecheckInput Input(const std::string& source, const std::string& target) {
  PrecheckInput in;
  in.source = Server(source);
  in.target = Server(target);
  in.target->server.run_id = "target-run-id";
  return in;
}

TEST(PrecheckTest, SourceMustBeMaster) {
  PrecheckInput in = Input("5.0.14", "7.0.15");
  EXPECT_FALSE(CheckSourceIsMaster(in));
  in.source.replication.role = "slave";
  in.source.replication.master_host = "10.0.0.1";
  in.source.replication.master_port = 6379;
  auto r = CheckSourceIsMaster(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "NotAMaster");
  EXPECT_THAT(r->message, HasSubstr("10.0.0.1:6379"));
}

TEST(PrecheckTest, ClusterModeRefused) {
  PrecheckInput in = Input("5.0.14", "7.0.15");
  EXPECT_FALSE(CheckNotClusterMode(in));
  in.source.cluster_enabled = true;
  auto r = CheckNotClusterMode(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "ClusterModeNotSupported");
  EXPECT_THAT(r->message, HasSubstr("cluster_enabled:1"));
}

TEST(PrecheckTest, BusySourceRefused) {
  PrecheckInput in = Input("5.0.14", "7.0.15");
  EXPECT_FALSE(CheckNoBackgroundSave(in));
  in.source.persistence.rdb_bgsave_in_progress = true;
  auto r = CheckNoBackgroundSave(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "SourceBusy");
  EXPECT_THAT(r->message, HasSubstr("BGSAVE"));
  in.source.persistence.rdb_bgsave_in_progress = false;
  in.source.persistence.aof_rewrite_in_progress = true;
  r = CheckNoBackgroundSave(in);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->message, HasSubstr("AOF"));
  in.source.persistence.aof_rewrite_in_progress = false;
  in.source.persistence.loading = true;
  r = CheckNoBackgroundSave(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "SourceBusy");
  EXPECT_THAT(r->message, HasSubstr("loading"));
}

TEST(PrecheckTest, VersionsOlderThan28Refused) {
  EXPECT_FALSE(CheckSupportedVersions(Input("2.8.0", "7.0.15")));
  auto r = CheckSupportedVersions(Input("2.6.17", "7.0.15"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "UnsupportedVersion");
  EXPECT_THAT(r->message, HasSubstr("2.6.17"));
  EXPECT_THAT(r->message, HasSubstr("2.8 or newer"));
  r = CheckSupportedVersions(Input("2.8.19", "2.6.0"));
  ASSERT_TRUE(r);
  EXPECT_THAT(r->message, HasSubstr("target runs Redis 2.6.0"));
  PrecheckInput in = Input("5.0.14", "7.0.15");
  in.target.reset();
  in.requested_target = V("1.2");
  r = CheckSupportedVersions(in);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->message, HasSubstr("1.2"));
}

TEST(PrecheckTest, SourceWithoutClientKillTypeRefused) {
  // The seal closes every client with CLIENT KILL TYPE (2.8.12+).
  for (const auto* chain : {&DefaultPrechecks(), &RefusalPrechecks()}) {
    auto r = RunPrechecks(Input("2.8.11", "7.0.15"), *chain);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->reason, "ClientKillUnsupported");
    EXPECT_THAT(r->message, HasSubstr("2.8.11"));
    EXPECT_THAT(r->message, HasSubstr("2.8.12"));
    EXPECT_FALSE(RunPrechecks(Input("2.8.12", "7.0.15"), *chain));
  }
}

TEST(PrecheckTest, VersionsNewerThanCheckedAcceptedWithAWarning) {
  // Redis 8.0/8.2 are checked lines; 8.4, 9.1 and 12.0 are newer than any.
  EXPECT_FALSE(CheckSupportedVersions(Input("5.0.14", "8.2.3")));
  EXPECT_TRUE(UncheckedVersionWarnings(Input("5.0.14", "8.2.3")).empty());
  EXPECT_FALSE(CheckSupportedVersions(Input("5.0.14", "9.1.0")));
  auto w = UncheckedVersionWarnings(Input("5.0.14", "9.1.0"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("target's Redis 9.1.0"));
  EXPECT_THAT(w[0], HasSubstr("rules of 8.2 are assumed"));
  PrecheckInput in = Input("8.4.0", "7.0.15");
  in.target.reset();
  in.requested_target = V("12.0");
  EXPECT_FALSE(CheckSupportedVersions(in));
  w = UncheckedVersionWarnings(in);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_THAT(w[0], HasSubstr("source's Redis 8.4.0"));
  EXPECT_THAT(w[1], HasSubstr("target's Redis 12.0"));
}

TEST(PrecheckTest, UpgradePasses) {
  EXPECT_FALSE(CheckVersionOrder(Input("2.8.24", "7.0.15")));
  EXPECT_FALSE(CheckVersionOrder(Input("7.0.11", "7.0.15")));  // a patch upgrade
}

TEST(PrecheckTest, DowngradeAlwaysRefused) {
  PrecheckInput in = Input("7.0.15", "5.0.14");
  auto r = CheckVersionOrder(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "DowngradeRefused");
  EXPECT_THAT(r->message, HasSubstr("source 7.0.15, target 5.0.14"));
  in.allow_same_version = true;
  r = CheckVersionOrder(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "DowngradeRefused");
  // A lower patch is a downgrade too.
  r = CheckVersionOrder(Input("7.0.15", "7.0.11"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "DowngradeRefused");
  // Requested line only, no target server yet.
  in = Input("7.0.15", "7.0.15");
  in.target.reset();
  in.requested_target = V("6.2");
  r = CheckVersionOrder(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "DowngradeRefused");
}

TEST(PrecheckTest, SameVersionRefusedUnlessAllowed) {
  PrecheckInput in = Input("7.0.15", "7.0.15");
  auto r = CheckVersionOrder(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "SameVersionRefused");
  EXPECT_THAT(r->message, HasSubstr("7.0.15"));
  in.allow_same_version = true;
  EXPECT_FALSE(CheckVersionOrder(in));
  // "7.0" requested against a 7.0.x source is the same line.
  in = Input("7.0.15", "7.0.15");
  in.target.reset();
  in.requested_target = V("7.0");
  r = CheckVersionOrder(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "SameVersionRefused");
  in.allow_same_version = true;
  EXPECT_FALSE(CheckVersionOrder(in));
}

TEST(PrecheckTest, TargetMustMatchRequested) {
  PrecheckInput in = Input("5.0.14", "7.0.15");
  in.requested_target = V("7.0");
  EXPECT_FALSE(CheckTargetMatchesRequested(in));
  in.requested_target = V("7.0.15");
  EXPECT_FALSE(CheckTargetMatchesRequested(in));
  in.requested_target = V("7.2");
  auto r = CheckTargetMatchesRequested(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "TargetVersionMismatch");
  EXPECT_THAT(r->message, HasSubstr("7.0.15"));
  EXPECT_THAT(r->message, HasSubstr("7.2"));
}

TEST(PrecheckTest, ForkHeadroom) {
  PrecheckInput in = Input("5.0.14", "7.0.15");
  in.source.memory.used_memory = 900;
  in.source.memory.used_memory_rss = 1000;
  EXPECT_FALSE(CheckForkHeadroom(in));  // limit unknown
  in.source_memory_limit_bytes = 2000;
  EXPECT_FALSE(CheckForkHeadroom(in));  // exactly 2x fits
  in.source_memory_limit_bytes = 1999;
  auto r = CheckForkHeadroom(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "InsufficientMemory");
  EXPECT_THAT(r->message, HasSubstr("1000 bytes"));
  EXPECT_THAT(r->message, HasSubstr("2000 bytes"));
  EXPECT_THAT(r->message, HasSubstr("1999 bytes"));
  EXPECT_THAT(r->message, HasSubstr("copy-on-write"));
  // Without RSS, used_memory counts.
  in.source.memory.used_memory_rss = 0;
  in.source_memory_limit_bytes = 1799;
  r = CheckForkHeadroom(in);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->message, HasSubstr("900 bytes"));
}

TEST(PrecheckTest, TargetMemory) {
  PrecheckInput in = Input("5.0.14", "7.0.15");
  in.source.memory.used_memory = 268435456;
  EXPECT_FALSE(CheckTargetMemory(in));
  in.target_memory_limit_bytes = 268435456;
  EXPECT_FALSE(CheckTargetMemory(in));
  in.target_memory_limit_bytes = 134217728;
  auto r = CheckTargetMemory(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "TargetMemoryTooSmall");
  EXPECT_THAT(r->message, HasSubstr("134217728 bytes (128.0 MiB)"));
  EXPECT_THAT(r->message, HasSubstr("268435456 bytes (256.0 MiB)"));
}

TEST(PrecheckTest, TargetEmptyOrReplicaOfSource) {
  PrecheckInput in = Input("5.0.14", "7.0.15");
  EXPECT_FALSE(CheckTargetIsEmptyOrReplica(in));
  in.target->keyspace[0] = {42, 0};
  auto r = CheckTargetIsEmptyOrReplica(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "TargetNotEmpty");
  EXPECT_THAT(r->message, HasSubstr("42 keys"));
  // Already a replica of this source: resuming.
  in.target->replication.role = "slave";
  in.target->replication.master_host = "127.0.0.1";
  in.target->replication.master_port = 7000;
  in.source_as_seen_by_target = redis::Endpoint{"127.0.0.1", 7000};
  EXPECT_FALSE(CheckTargetIsEmptyOrReplica(in));
  // A replica of something else, with data.
  in.source_as_seen_by_target = redis::Endpoint{"127.0.0.1", 7500};
  r = CheckTargetIsEmptyOrReplica(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "TargetNotEmpty");
  EXPECT_THAT(r->message, HasSubstr("127.0.0.1:7000"));
}

TEST(PrecheckTest, TargetIsNotSource) {
  PrecheckInput in = Input("7.0.15", "7.0.15");
  EXPECT_FALSE(CheckTargetIsNotSource(in));
  in.target->server.run_id = in.source.server.run_id;
  auto r = CheckTargetIsNotSource(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "TargetIsSource");
}

TEST(PrecheckTest, ChainFirstRefusalWins) {
  PrecheckInput in = Input("7.0.15", "5.0.14");
  in.source.persistence.rdb_bgsave_in_progress = true;
  auto r = RunPrechecks(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "SourceBusy");
  in.source.persistence.rdb_bgsave_in_progress = false;
  r = RunPrechecks(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "DowngradeRefused");
  EXPECT_FALSE(RunPrechecks(Input("5.0.14", "7.0.15")));
}

TEST(PrecheckTest, RefusalChainLeavesABusySourceToTheCaller) {
  PrecheckInput in = Input("5.0.14", "7.0.15");
  in.source.persistence.rdb_bgsave_in_progress = true;
  // Busy is transient: not a refusal of this chain, still reported on its own.
  EXPECT_FALSE(RunPrechecks(in, RefusalPrechecks()));
  ASSERT_TRUE(CheckNoBackgroundSave(in));
  EXPECT_EQ(CheckNoBackgroundSave(in)->reason, "SourceBusy");
  // Every other refusal still wins.
  in = Input("7.0.15", "5.0.14");
  in.source.persistence.rdb_bgsave_in_progress = true;
  auto r = RunPrechecks(in, RefusalPrechecks());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "DowngradeRefused");
  in.source.cluster_enabled = true;
  EXPECT_EQ(RunPrechecks(in, RefusalPrechecks())->reason, "ClusterModeNotSupported");
}

}  // namespace
}  // namespace ruo::engine
