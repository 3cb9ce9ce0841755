#include "redis/info.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ruo::redis {
namespace {

std::string ReadSample(const std::string& name) {
  std::ifstream in(std::string(RUO_REDIS_TESTDATA) + "/" + name);
  EXPECT_TRUE(in.good()) << "missing sample " << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ToCrlf(const std::string& lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// Every sample parses identically with LF and CRLF line endings (servers send CRLF).
class InfoSampleTest : public ::testing::TestWithParam<bool> {
 protected:
  Info Parse(const std::string& name) {
    std::string text = ReadSample(name);
    if (GetParam()) text = ToCrlf(text);
    auto info = ParseInfo(text);
    EXPECT_TRUE(info.ok()) << name << ": " << info.status().ToString();
    return info.ok() ? *info : Info{};
  }
};

INSTANTIATE_TEST_SUITE_P(LineEndings, InfoSampleTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("Crlf") : std::string("Lf");
                         });

TEST_P(InfoSampleTest, Redis28EarlyMaster) {
  Info info = Parse("2.8.0_master_early.info");
  EXPECT_EQ(info.server.redis_version, "2.8.0");
  EXPECT_EQ(info.server.version.ToString(), "2.8.0");
  EXPECT_EQ(info.server.redis_mode, "standalone");  // absent on early 2.8
  EXPECT_FALSE(info.raw.contains("redis_mode"));
  EXPECT_EQ(info.server.tcp_port, 6379);
  EXPECT_EQ(info.server.run_id, "3d6e8c5a0e4f1b2c7d9a8b6c5d4e3f2a1b0c9d8e");
  EXPECT_EQ(info.replication.role, "master");
  EXPECT_EQ(info.replication.connected_slaves, 1);
  ASSERT_EQ(info.replication.replicas.size(), 1u);
  const ReplicaEntry& r = info.replication.replicas[0];
  EXPECT_EQ(r.ip, "10.0.0.12");
  EXPECT_EQ(r.port, 6380);
  EXPECT_EQ(r.state, "online");
  EXPECT_EQ(r.offset, 0);
  EXPECT_EQ(r.lag, -1);
  EXPECT_EQ(info.replication.master_repl_offset, 48213);
  EXPECT_TRUE(info.replication.master_replid.empty());
  EXPECT_EQ(info.replication.second_repl_offset, -1);
  EXPECT_TRUE(info.replication.repl_backlog_active);
  EXPECT_EQ(info.replication.repl_backlog_size, 1048576);
  EXPECT_FALSE(info.cluster_enabled);   // no Cluster section before 3.0
  EXPECT_EQ(info.memory.maxmemory, 0);  // not in INFO on 2.8
  EXPECT_EQ(info.memory.total_system_memory, 0);
  EXPECT_EQ(info.memory.used_memory, 1893256);
  EXPECT_EQ(info.clients.connected_clients, 3);
  ASSERT_EQ(info.keyspace.size(), 2u);
  EXPECT_EQ(info.keyspace.at(0).keys, 118);
  EXPECT_EQ(info.keyspace.at(0).expires, 3);
  EXPECT_EQ(info.keyspace.at(2).keys, 4);
  EXPECT_EQ(info.TotalKeys(), 122);
}

TEST_P(InfoSampleTest, Redis28Master) {
  Info info = Parse("2.8.24_master.info");
  EXPECT_EQ(info.server.version.ToString(), "2.8.24");
  EXPECT_EQ(info.server.redis_mode, "standalone");
  EXPECT_EQ(info.server.process_id, 1);
  EXPECT_EQ(info.server.uptime_in_seconds, 3621);
  EXPECT_EQ(info.clients.blocked_clients, 1);
  EXPECT_TRUE(info.persistence.aof_enabled);
  EXPECT_FALSE(info.persistence.rdb_bgsave_in_progress);
  EXPECT_EQ(info.persistence.rdb_last_bgsave_status, "ok");
  EXPECT_EQ(info.replication.role, "master");
  EXPECT_EQ(info.replication.connected_slaves, 2);
  EXPECT_EQ(info.replication.min_slaves_good_slaves, 2);
  ASSERT_EQ(info.replication.replicas.size(), 2u);
  EXPECT_EQ(info.replication.replicas[0].ip, "10.0.0.12");
  EXPECT_EQ(info.replication.replicas[0].offset, 1540329);
  EXPECT_EQ(info.replication.replicas[0].lag, 0);
  EXPECT_EQ(info.replication.replicas[1].ip, "10.0.0.13");
  EXPECT_EQ(info.replication.replicas[1].offset, 1540315);
  EXPECT_EQ(info.replication.replicas[1].lag, 1);
  EXPECT_EQ(info.replication.master_repl_offset, 1540329);
  EXPECT_TRUE(info.replication.master_replid.empty());
  EXPECT_EQ(info.replication.repl_backlog_first_byte_offset, 491754);
  EXPECT_EQ(info.replication.repl_backlog_histlen, 1048576);
  EXPECT_FALSE(info.cluster_enabled);
  EXPECT_EQ(info.TotalKeys(), 1523);
}

TEST_P(InfoSampleTest, Redis28Replica) {
  Info info = Parse("2.8.24_replica.info");
  const ReplicationInfo& r = info.replication;
  EXPECT_EQ(r.role, "slave");
  EXPECT_EQ(r.master_host, "10.0.0.11");
  EXPECT_EQ(r.master_port, 6379);
  EXPECT_EQ(r.master_link_status, "up");
  EXPECT_EQ(r.master_last_io_seconds_ago, 0);
  EXPECT_FALSE(r.master_sync_in_progress);
  EXPECT_EQ(r.master_sync_left_bytes, -1);
  EXPECT_EQ(r.master_sync_total_bytes, -1);
  EXPECT_EQ(r.slave_repl_offset, 1540329);
  EXPECT_EQ(r.slave_read_repl_offset, -1);
  EXPECT_EQ(r.master_link_down_since_seconds, -1);
  EXPECT_EQ(r.replica_priority, 100);
  EXPECT_TRUE(r.replica_read_only);
  EXPECT_TRUE(r.replicas.empty());
  EXPECT_EQ(r.master_repl_offset, 0);  // a 2.8 replica keeps no offset of its own
}

TEST_P(InfoSampleTest, Redis28ReplicaSyncing) {
  Info info = Parse("2.8.24_replica_syncing.info");
  const ReplicationInfo& r = info.replication;
  EXPECT_EQ(r.role, "slave");
  EXPECT_EQ(r.master_link_status, "down");
  EXPECT_EQ(r.master_last_io_seconds_ago, -1);
  EXPECT_TRUE(r.master_sync_in_progress);
  EXPECT_EQ(r.master_sync_left_bytes, 52428800);
  EXPECT_EQ(r.master_sync_total_bytes, -1);  // not reported before 7.0
  EXPECT_EQ(r.master_link_down_since_seconds, 1546304421);
  EXPECT_TRUE(info.keyspace.empty());
  EXPECT_EQ(info.TotalKeys(), 0);
}

TEST_P(InfoSampleTest, Redis32) {
  Info master = Parse("3.2.12_master.info");
  EXPECT_EQ(master.server.version.ToString(), "3.2.12");
  EXPECT_EQ(master.memory.maxmemory, 1073741824);
  EXPECT_EQ(master.memory.maxmemory_policy, "allkeys-lru");
  EXPECT_EQ(master.memory.total_system_memory, 8369913856);
  EXPECT_EQ(master.memory.used_memory_peak, 131096112);
  EXPECT_EQ(master.memory.used_memory_rss, 112672768);
  EXPECT_TRUE(master.persistence.rdb_bgsave_in_progress);
  EXPECT_FALSE(master.cluster_enabled);
  EXPECT_TRUE(master.raw.contains("cluster_enabled"));
  EXPECT_EQ(master.replication.master_repl_offset, 77391244);
  ASSERT_EQ(master.replication.replicas.size(), 1u);
  EXPECT_EQ(master.replication.replicas[0].offset, 77391211);
  EXPECT_EQ(master.TotalKeys(), 402125);

  Info replica = Parse("3.2.12_replica.info");
  EXPECT_EQ(replica.replication.role, "slave");
  EXPECT_EQ(replica.replication.slave_repl_offset, 77391211);
  EXPECT_EQ(replica.replication.master_host, "10.1.4.21");
}

TEST_P(InfoSampleTest, Redis40) {
  Info master = Parse("4.0.14_master.info");
  EXPECT_EQ(master.server.version.ToString(), "4.0.14");
  EXPECT_EQ(master.replication.master_replid, "8d4f0e2a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e");
  EXPECT_EQ(master.replication.master_replid2, "0000000000000000000000000000000000000000");
  EXPECT_EQ(master.replication.second_repl_offset, -1);
  EXPECT_EQ(master.replication.master_repl_offset, 91822345);
  ASSERT_EQ(master.replication.replicas.size(), 1u);
  EXPECT_EQ(master.replication.replicas[0].offset, 91822345);

  Info replica = Parse("4.0.14_replica.info");
  EXPECT_EQ(replica.replication.role, "slave");
  EXPECT_EQ(replica.replication.master_link_status, "up");
  EXPECT_EQ(replica.replication.slave_repl_offset, 91822345);
  // 4.0 replicas keep the master's replication id and offset (PSYNC2).
  EXPECT_EQ(replica.replication.master_replid, master.replication.master_replid);
  EXPECT_EQ(replica.replication.master_repl_offset, 91822345);
}

TEST_P(InfoSampleTest, Redis50) {
  Info master = Parse("5.0.14_master.info");
  EXPECT_EQ(master.server.version.ToString(), "5.0.14");
  EXPECT_EQ(master.clients.connected_clients, 22);
  EXPECT_EQ(master.clients.blocked_clients, 2);
  EXPECT_TRUE(master.persistence.aof_enabled);
  EXPECT_TRUE(master.persistence.aof_rewrite_in_progress);
  EXPECT_FALSE(master.persistence.aof_rewrite_scheduled);
  EXPECT_EQ(master.memory.maxmemory, 2147483648);
  ASSERT_EQ(master.replication.replicas.size(), 2u);
  EXPECT_EQ(master.replication.replicas[1].state, "send_bulk");
  EXPECT_EQ(master.replication.replicas[1].lag, 12);
  EXPECT_EQ(master.replication.master_repl_offset, 30511920217);
  EXPECT_EQ(master.TotalKeys(), 3120995);
  EXPECT_EQ(master.keyspace.at(3).keys, 1);

  Info replica = Parse("5.0.14_replica.info");
  EXPECT_EQ(replica.replication.role, "slave");  // 5.0 renamed configs, not INFO
  EXPECT_EQ(replica.replication.master_host, "redis-old-0.redis-old.default.svc.cluster.local");
  EXPECT_EQ(replica.server.tcp_port, 6380);
  EXPECT_EQ(replica.replication.slave_repl_offset, 30511920144);
  EXPECT_EQ(replica.replication.replica_priority, 100);

  Info syncing = Parse("5.0.14_replica_syncing.info");
  EXPECT_TRUE(syncing.replication.master_sync_in_progress);
  EXPECT_EQ(syncing.replication.master_link_status, "down");
  EXPECT_EQ(syncing.replication.master_sync_left_bytes, 301989888);
  EXPECT_EQ(syncing.replication.master_sync_total_bytes, -1);
  EXPECT_EQ(syncing.replication.master_link_down_since_seconds, 1640995231);
  EXPECT_EQ(syncing.TotalKeys(), 0);
}

TEST_P(InfoSampleTest, Redis60) {
  Info master = Parse("6.0.20_master.info");
  EXPECT_EQ(master.server.version.ToString(), "6.0.20");
  EXPECT_TRUE(master.replication.master_failover_state.empty());
  EXPECT_EQ(master.replication.master_repl_offset, 750);
  ASSERT_EQ(master.replication.replicas.size(), 1u);
  EXPECT_EQ(master.replication.replicas[0].port, 6380);

  Info replica = Parse("6.0.20_replica.info");
  EXPECT_EQ(replica.replication.slave_repl_offset, 750);
  EXPECT_EQ(replica.replication.slave_read_repl_offset, -1);
  EXPECT_FALSE(replica.raw.contains("replica_announced"));
}

TEST_P(InfoSampleTest, Redis62) {
  Info master = Parse("6.2.14_master.info");
  EXPECT_EQ(master.server.version.ToString(), "6.2.14");
  EXPECT_EQ(master.replication.master_failover_state, "no-failover");
  Info replica = Parse("6.2.14_replica.info");
  EXPECT_EQ(replica.raw.at("replica_announced"), "1");
  EXPECT_EQ(replica.replication.master_port, 6379);
  EXPECT_EQ(replica.replication.slave_repl_offset, 750);
}

TEST_P(InfoSampleTest, Redis70MasterAndReplica) {
  Info master = Parse("7.0_master.info");
  EXPECT_EQ(master.server.redis_version, "7.0.15");
  EXPECT_EQ(master.server.redis_mode, "standalone");
  EXPECT_EQ(master.server.process_id, 15968);
  EXPECT_EQ(master.replication.role, "master");
  EXPECT_EQ(master.replication.master_repl_offset, 750);
  EXPECT_EQ(master.replication.master_replid, "7e02ec0347b9eb0e64ea8cbf18edd4e992f6d293");
  ASSERT_EQ(master.replication.replicas.size(), 1u);
  EXPECT_EQ(master.replication.replicas[0].ip, "127.0.0.1");
  EXPECT_EQ(master.replication.replicas[0].port, 55273);
  EXPECT_EQ(master.replication.replicas[0].state, "online");
  EXPECT_EQ(master.replication.replicas[0].offset, 750);
  EXPECT_EQ(master.memory.maxmemory_policy, "noeviction");
  EXPECT_EQ(master.keyspace.at(0).keys, 22);
  EXPECT_EQ(master.keyspace.at(0).expires, 1);

  Info replica = Parse("7.0_replica.info");
  EXPECT_EQ(replica.replication.role, "slave");
  EXPECT_EQ(replica.replication.master_host, "127.0.0.1");
  EXPECT_EQ(replica.replication.master_port, 55999);
  EXPECT_EQ(replica.replication.master_link_status, "up");
  EXPECT_EQ(replica.replication.slave_repl_offset, master.replication.master_repl_offset);
  EXPECT_EQ(replica.replication.slave_read_repl_offset, 750);
  EXPECT_EQ(replica.replication.replica_priority, 100);  // 7.0 still says slave_priority
  EXPECT_TRUE(replica.raw.contains("slave_priority"));
  EXPECT_EQ(replica.replication.master_sync_left_bytes, -1);
  EXPECT_EQ(replica.TotalKeys(), master.TotalKeys());
}

TEST_P(InfoSampleTest, Redis70ReplicaInFullSync) {
  Info info = Parse("7.0_replica_syncing.info");
  const ReplicationInfo& r = info.replication;
  EXPECT_TRUE(r.master_sync_in_progress);
  EXPECT_EQ(r.master_link_status, "down");
  EXPECT_EQ(r.master_sync_total_bytes, 85489071);
  EXPECT_EQ(r.master_sync_read_bytes, 0);
  EXPECT_EQ(r.master_sync_left_bytes, 85489071);
  EXPECT_EQ(r.master_link_down_since_seconds, -1);

  Info diskless = Parse("7.0_replica_syncing_diskless.info");
  EXPECT_TRUE(diskless.replication.master_sync_in_progress);
  // Size unknown: total -1, and the reported left bytes (-1) are not a count.
  EXPECT_EQ(diskless.replication.master_sync_total_bytes, -1);
  EXPECT_EQ(diskless.replication.master_sync_left_bytes, -1);
  EXPECT_EQ(diskless.raw.at("master_sync_left_bytes"), "-1");
}

TEST_P(InfoSampleTest, Redis70Cluster) {
  Info info = Parse("7.0_cluster.info");
  EXPECT_TRUE(info.cluster_enabled);
  EXPECT_EQ(info.server.redis_mode, "cluster");
  EXPECT_TRUE(info.keyspace.empty());
}

TEST(InfoTest, EmptyInputGivesDefaults) {
  auto info = ParseInfo("");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->server.redis_mode, "standalone");
  EXPECT_TRUE(info->replication.role.empty());
  EXPECT_EQ(info->replication.master_sync_left_bytes, -1);
  EXPECT_EQ(info->replication.master_last_io_seconds_ago, -1);
  EXPECT_EQ(info->replication.master_link_down_since_seconds, -1);
  EXPECT_EQ(info->TotalKeys(), 0);
}

TEST(InfoTest, SectionSubsetAndUnknownFields) {
  auto info = ParseInfo(
      "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nsome_future_field:abc\r\n"
      "master_repl_offset:99\r\n");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->replication.role, "master");
  EXPECT_EQ(info->replication.master_repl_offset, 99);
  EXPECT_EQ(info->raw.at("some_future_field"), "abc");
  EXPECT_FALSE(info->raw.contains("redis_version"));
}

TEST(InfoTest, ValuesMayContainColons) {
  auto info =
      ParseInfo("# Sentinel\nmaster0:name=mymaster,status=ok,address=127.0.0.1:6379,slaves=1\n");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->raw.at("master0"), "name=mymaster,status=ok,address=127.0.0.1:6379,slaves=1");
}

TEST(InfoTest, ReplicasOrderedByIndexAndIpv6) {
  auto info = ParseInfo(
      "slave1:ip=::1,port=7001,state=online,offset=5,lag=0\n"
      "slave0:ip=10.0.0.1,port=7000,state=wait_bgsave,offset=0,lag=3\n");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_EQ(info->replication.replicas.size(), 2u);
  EXPECT_EQ(info->replication.replicas[0].ip, "10.0.0.1");
  EXPECT_EQ(info->replication.replicas[0].state, "wait_bgsave");
  EXPECT_EQ(info->replication.replicas[1].ip, "::1");
  EXPECT_EQ(info->replication.replicas[1].port, 7001);
}

TEST(InfoTest, KeyspaceWithLaterFields) {
  auto info = ParseInfo("db0:keys=7,expires=2,avg_ttl=100,subexpiry=0\ndb15:keys=3,expires=0\n");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->keyspace.at(0).keys, 7);
  EXPECT_EQ(info->keyspace.at(15).keys, 3);
  EXPECT_EQ(info->TotalKeys(), 10);
}

TEST(InfoTest, MalformedInputIsInvalidArgument) {
  for (std::string_view bad : {
           "role:master\nthis line has no colon\n",
           ":novalue\n",
           "master_repl_offset:12ab\n",
           "master_repl_offset:\n",
           "connected_slaves:99999999999\n",
           "loading:2\n",
           "cluster_enabled:yes\n",
           "redis_version:seven\n",
           "slave0:ip=1.2.3.4,port=x,state=online,offset=0,lag=0\n",
           "slave0:ip=1.2.3.4,state=online\n",
           "slave0:1.2.3.4,6380\n",
           "slave0:1.2.3.4,99999,online\n",
           "db0:keys=abc,expires=0\n",
           "db0:expires=0\n",
           "db0:garbage\n",
           "master_sync_left_bytes:lots\n",
       }) {
    auto info = ParseInfo(bad);
    ASSERT_FALSE(info.ok()) << "accepted: " << bad;
    EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(info.status().reason(), "MalformedInfo") << bad;
  }
}

TEST(InfoTest, NegativeLeftBytesMeansUnknown) {
  auto info = ParseInfo("master_sync_in_progress:1\nmaster_sync_left_bytes:-1235\n");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->replication.master_sync_left_bytes, -1);
  info = ParseInfo("master_sync_total_bytes:0\n");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->replication.master_sync_total_bytes, -1);
}

TEST(InfoTest, ReplicaPriorityUnderEitherName) {
  auto info = ParseInfo("replica_priority:0\nreplica_read_only:0\n");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->replication.replica_priority, 0);
  EXPECT_FALSE(info->replication.replica_read_only);
}

TEST(InfoTest, ParseInfoReply) {
  auto ok = ParseInfoReply(Reply::String("# Server\r\nredis_version:6.2.14\r\n"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->server.version.ToString(), "6.2.14");
  auto err = ParseInfoReply(Reply::Error("NOAUTH Authentication required."));
  EXPECT_EQ(err.status().code(), StatusCode::kUnauthenticated);
  auto wrong = ParseInfoReply(Reply::Integer(3));
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ruo::redis
