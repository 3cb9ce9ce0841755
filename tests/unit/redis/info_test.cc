#include "redis/info.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string_view>

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

// Hand-written: the "ip,port,state" replica form with no redis_mode. Real 2.8.19
// has neither (see Redis2819); the form is kept for the parser's fallback.
TEST_P(InfoSampleTest, Redis28EarlyMaster) {
  Info info = Parse("2.8.0_master_early.handwritten.info");
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

// Captured from real servers (testdata/README.md): the fields every caller reads.
struct RealCapture {
  const char* file;
  const char* redis_version;
  const char* role;
  const char* run_id;
  int tcp_port;
  int connected_slaves;
  int64_t master_repl_offset;
  int64_t slave_repl_offset;
  const char* master_link_status;
  bool master_sync_in_progress;
  int64_t master_sync_left_bytes;
};

// clang-format off
const RealCapture kRealCaptures[] = {
    {"2.8.19_master.info", "2.8.19", "master", "70881b0b361b036471bc3ffa29a24983e514eb44", 17100, 1, 986, 0, "", false, -1},
    {"2.8.19_master_fenced.info", "2.8.19", "master", "bd7b2b0bd8781af55b490579bb40f79462723f51", 17180, 1, 51, 0, "", false, -1},
    {"2.8.19_master_syncing.info", "2.8.19", "master", "70881b0b361b036471bc3ffa29a24983e514eb44", 17100, 2, 27679899, 0, "", false, -1},
    {"2.8.19_replica.info", "2.8.19", "slave", "08c17a76ee379977a6ddf8d0131cdb536702cbbc", 17101, 0, 0, 986, "up", false, -1},
    {"2.8.19_replica_syncing.info", "2.8.19", "slave", "ff03ede6cdae46e9fd154cb9d4842203fad1d2cf", 17102, 0, 0, 1, "down", true, 22823776},
    {"6.2.7_master.info", "6.2.7", "master", "2ecf951b7e468396c6a599ad460d37526155ba57", 17110, 1, 991, 0, "", false, -1},
    {"6.2.7_master_syncing.info", "6.2.7", "master", "2ecf951b7e468396c6a599ad460d37526155ba57", 17110, 2, 27679904, 0, "", false, -1},
    {"6.2.7_replica.info", "6.2.7", "slave", "c2030402d3456be6fbf949ae360e40bb55282448", 17111, 0, 991, 991, "up", false, -1},
    {"6.2.7_replica_syncing.info", "6.2.7", "slave", "3e1383b5bf19ffa0b49201df48851b241bd8e162", 17112, 0, 0, 1, "down", true, 22823947},
    {"6.2.14_master.info", "6.2.14", "master", "9da531e049708b26fb56aee140e42a7f7b26bca0", 17120, 1, 991, 0, "", false, -1},
    {"6.2.14_master_syncing.info", "6.2.14", "master", "9da531e049708b26fb56aee140e42a7f7b26bca0", 17120, 2, 27679904, 0, "", false, -1},
    {"6.2.14_replica.info", "6.2.14", "slave", "fccd0b6ea12ed8b216b5b5c192a81bf8e9d127e5", 17121, 0, 991, 991, "up", false, -1},
    {"6.2.14_replica_syncing.info", "6.2.14", "slave", "29a997c59a421ab43407ba02727be35e7ae8c019", 17122, 0, 0, 1, "down", true, 22774807},
    {"7.0.15_master.info", "7.0.15", "master", "79cba9e46b28a351e543bd68a774d9658b6d45cf", 17130, 1, 1009, 0, "", false, -1},
    {"7.0.15_master_syncing.info", "7.0.15", "master", "79cba9e46b28a351e543bd68a774d9658b6d45cf", 17130, 2, 27679922, 0, "", false, -1},
    {"7.0.15_replica.info", "7.0.15", "slave", "7c631b3fc34b05930b3082a4f266116850eb1a31", 17131, 0, 1009, 1009, "up", false, -1},
    {"7.0.15_replica_syncing.info", "7.0.15", "slave", "b47a0a30cce4d04f35346635001965df3f548a8a", 17132, 0, 0, 1, "down", true, 22791184},
    {"8.2.3_master.info", "8.2.3", "master", "5ae8e06ed5500add0066f222b04682dd8bf58382", 17140, 1, 1009, 0, "", false, -1},
    {"8.2.3_master_fenced.info", "8.2.3", "master", "1fa55b78b7e0b5d633d410074483f6e6475eda5d", 17182, 1, 50, 0, "", false, -1},
    {"8.2.3_master_syncing.info", "8.2.3", "master", "5ae8e06ed5500add0066f222b04682dd8bf58382", 17140, 2, 27679922, 0, "", false, -1},
    {"8.2.3_replica.info", "8.2.3", "slave", "9ffb9dcf578fc1eefc70264e4fe5c9554db85398", 17141, 0, 1009, 1009, "up", false, -1},
    {"8.2.3_replica_syncing.info", "8.2.3", "slave", "19af6aedef01a218042c0cfc75aa8d89fbc375dc", 17142, 0, 0, 1, "down", true, 22807556},
    {"8.2.3_cluster.info", "8.2.3", "master", "7db498e52ecdebeaac5c908f1c4438a1c26988c2", 17161, 0, 0, 0, "", false, -1},
    {"valkey-8.1.8_master.info", "7.2.4", "master", "9a53ee38bd241ef3f4f8501a8e6fa03c425d4241", 17150, 1, 1009, 0, "", false, -1},
    {"valkey-8.1.8_master_fenced.info", "7.2.4", "master", "47dee58088b1a17c74a6d27fb971630afa43d9aa", 17184, 1, 50, 0, "", false, -1},
    {"valkey-8.1.8_master_syncing.info", "7.2.4", "master", "9a53ee38bd241ef3f4f8501a8e6fa03c425d4241", 17150, 2, 27679922, 0, "", false, -1},
    {"valkey-8.1.8_replica.info", "7.2.4", "slave", "123770d47be119000935c7169170753ba89c09f1", 17151, 0, 1009, 1009, "up", false, -1},
    {"valkey-8.1.8_replica_syncing.info", "7.2.4", "slave", "06c36397f4f272ae6f22d26e3a6c6d4de722855b", 17152, 0, 0, 1, "down", true, 22676485},
    {"valkey-8.1.8_cluster.info", "7.2.4", "master", "de42c6b5562170f2d47d506068970557cc192357", 17160, 0, 0, 0, "", false, -1},
};
// clang-format on

TEST_P(InfoSampleTest, RealCapturesKeyFields) {
  for (const RealCapture& c : kRealCaptures) {
    SCOPED_TRACE(c.file);
    Info info = Parse(c.file);
    const ReplicationInfo& r = info.replication;
    EXPECT_EQ(info.server.redis_version, c.redis_version);
    EXPECT_EQ(info.server.version.ToString(), c.redis_version);
    EXPECT_EQ(info.server.run_id, c.run_id);
    EXPECT_EQ(info.server.tcp_port, c.tcp_port);
    const bool cluster = std::string_view(c.file).ends_with("_cluster.info");
    EXPECT_EQ(info.server.redis_mode, cluster ? "cluster" : "standalone");
    EXPECT_EQ(info.cluster_enabled, cluster);
    EXPECT_EQ(r.role, c.role);
    EXPECT_EQ(r.connected_slaves, c.connected_slaves);
    ASSERT_EQ(r.replicas.size(), static_cast<size_t>(c.connected_slaves));
    for (const ReplicaEntry& e : r.replicas) {
      EXPECT_EQ(e.ip, "127.0.0.1");
      EXPECT_GT(e.port, 0);
      EXPECT_TRUE(e.state == "online" || e.state == "send_bulk") << e.state;
      EXPECT_GE(e.lag, 0);  // every real capture has the "ip=..,lag=.." form
    }
    EXPECT_EQ(r.master_repl_offset, c.master_repl_offset);
    EXPECT_EQ(r.slave_repl_offset, c.slave_repl_offset);
    EXPECT_EQ(r.master_link_status, c.master_link_status);
    EXPECT_EQ(r.master_sync_in_progress, c.master_sync_in_progress);
    EXPECT_EQ(r.master_sync_left_bytes, c.master_sync_left_bytes);
    if (r.role == "slave") {
      EXPECT_EQ(r.master_host, "127.0.0.1");
      EXPECT_EQ(r.replica_priority, 100);  // still "slave_priority" on every version
      EXPECT_TRUE(info.raw.contains("slave_priority"));
      EXPECT_TRUE(r.replica_read_only);
    }
    // Captured with INFO all: Commandstats are in (every capture ran a PING or an INFO).
    EXPECT_TRUE(std::any_of(info.raw.begin(), info.raw.end(),
                            [](const auto& kv) { return kv.first.starts_with("cmdstat_"); }));
  }
}

TEST_P(InfoSampleTest, Redis2819) {
  Info master = Parse("2.8.19_master.info");
  EXPECT_TRUE(master.raw.contains("redis_mode"));  // 2.8.19 has it
  ASSERT_EQ(master.replication.replicas.size(), 1u);
  const ReplicaEntry& e = master.replication.replicas[0];
  EXPECT_EQ(e.port, 17101);
  EXPECT_EQ(e.state, "online");
  EXPECT_EQ(e.offset, 986);  // = master_repl_offset once the replica's ACK is in
  EXPECT_EQ(e.lag, 0);
  EXPECT_TRUE(master.replication.master_replid.empty());  // no PSYNC2 before 4.0
  EXPECT_EQ(master.replication.second_repl_offset, -1);
  EXPECT_TRUE(master.replication.master_failover_state.empty());
  EXPECT_TRUE(master.replication.repl_backlog_active);
  EXPECT_EQ(master.replication.repl_backlog_first_byte_offset, 2);
  EXPECT_EQ(master.replication.repl_backlog_histlen, 985);
  EXPECT_EQ(master.replication.min_slaves_good_slaves, -1);
  EXPECT_FALSE(master.raw.contains("cluster_enabled"));  // no Cluster section before 3.0
  EXPECT_EQ(master.memory.maxmemory, 0);                 // not in INFO on 2.8
  EXPECT_EQ(master.memory.total_system_memory, 0);
  ASSERT_EQ(master.keyspace.size(), 2u);
  EXPECT_EQ(master.keyspace.at(0).keys, 22);
  EXPECT_EQ(master.keyspace.at(0).expires, 2);
  EXPECT_EQ(master.keyspace.at(2).keys, 2);

  Info replica = Parse("2.8.19_replica.info");
  const ReplicationInfo& r = replica.replication;
  EXPECT_EQ(r.master_port, 17100);
  EXPECT_EQ(r.master_last_io_seconds_ago, 1);
  EXPECT_EQ(r.master_repl_offset, 0);  // a 2.8 replica keeps no offset of its own
  EXPECT_EQ(r.slave_read_repl_offset, -1);
  EXPECT_EQ(r.master_sync_total_bytes, -1);
  EXPECT_EQ(r.master_link_down_since_seconds, -1);
  EXPECT_EQ(replica.TotalKeys(), master.TotalKeys());

  Info syncing = Parse("2.8.19_replica_syncing.info");
  EXPECT_EQ(syncing.replication.master_port, 17103);  // through the throttling proxy
  EXPECT_EQ(syncing.replication.master_last_io_seconds_ago, -1);
  EXPECT_EQ(syncing.replication.master_sync_total_bytes, -1);  // only left bytes on 2.8
  EXPECT_EQ(syncing.raw.at("master_sync_last_io_seconds_ago"), "0");
  // A replica that was never linked reports "now - 0": a Unix time, not a duration.
  EXPECT_EQ(syncing.replication.master_link_down_since_seconds, 1796410998);
  EXPECT_EQ(syncing.TotalKeys(), 0);

  Info both = Parse("2.8.19_master_syncing.info");
  ASSERT_EQ(both.replication.replicas.size(), 2u);
  EXPECT_EQ(both.replication.replicas[0].state, "online");
  EXPECT_EQ(both.replication.replicas[0].offset, 27679899);
  EXPECT_EQ(both.replication.replicas[0].lag, 1);
  EXPECT_EQ(both.replication.replicas[1].port, 17102);
  EXPECT_EQ(both.replication.replicas[1].state, "send_bulk");
  EXPECT_EQ(both.replication.replicas[1].offset, 0);
  EXPECT_EQ(both.TotalKeys(), 200024);

  // The switch's fence: min-slaves-to-write 1001 with one good replica.
  Info fenced = Parse("2.8.19_master_fenced.info");
  EXPECT_EQ(fenced.replication.min_slaves_good_slaves, 1);
}

TEST_P(InfoSampleTest, Redis62) {
  for (const char* v : {"6.2.7", "6.2.14"}) {
    SCOPED_TRACE(v);
    const std::string prefix = v;
    Info master = Parse(prefix + "_master.info");
    EXPECT_EQ(master.replication.master_failover_state, "no-failover");
    EXPECT_EQ(master.replication.second_repl_offset, -1);
    EXPECT_EQ(master.memory.total_system_memory, 25276194816);
    EXPECT_EQ(master.raw.at("cluster_enabled"), "0");
    ASSERT_EQ(master.replication.replicas.size(), 1u);
    EXPECT_EQ(master.replication.replicas[0].offset, 991);

    Info replica = Parse(prefix + "_replica.info");
    // PSYNC2: the replica carries the master's replication id and offset.
    EXPECT_EQ(replica.replication.master_replid, master.replication.master_replid);
    EXPECT_EQ(replica.replication.master_repl_offset, 991);
    // 6.2 already reports the read offset (not only 7.0+).
    EXPECT_EQ(replica.replication.slave_read_repl_offset, 991);
    EXPECT_EQ(replica.raw.at("replica_announced"), "1");
    EXPECT_EQ(replica.TotalKeys(), master.TotalKeys());

    Info syncing = Parse(prefix + "_replica_syncing.info");
    const ReplicationInfo& s = syncing.replication;
    // 6.2 reports total and read bytes during a full sync too; left = total - read.
    EXPECT_GT(s.master_sync_total_bytes, 22000000);
    EXPECT_GT(s.master_sync_read_bytes, 0);
    EXPECT_EQ(s.master_sync_left_bytes, s.master_sync_total_bytes - s.master_sync_read_bytes);
    EXPECT_EQ(s.master_link_down_since_seconds, -1);
    EXPECT_EQ(s.slave_read_repl_offset, 1);
    EXPECT_NE(s.master_replid, master.replication.master_replid);  // its own, until loaded
  }
}

TEST_P(InfoSampleTest, Redis7015) {
  Info master = Parse("7.0.15_master.info");
  Info replica = Parse("7.0.15_replica.info");
  EXPECT_EQ(replica.replication.master_replid, master.replication.master_replid);
  EXPECT_EQ(replica.replication.slave_read_repl_offset, 1009);
  Info syncing = Parse("7.0.15_replica_syncing.info");
  EXPECT_EQ(syncing.replication.master_sync_total_bytes, 22889477);
  EXPECT_EQ(syncing.replication.master_sync_read_bytes, 98293);
  EXPECT_TRUE(syncing.raw.contains("master_sync_perc"));
  Info both = Parse("7.0.15_master_syncing.info");
  ASSERT_EQ(both.replication.replicas.size(), 2u);
  EXPECT_EQ(both.replication.replicas[1].state, "send_bulk");
}

TEST_P(InfoSampleTest, Redis823) {
  Info master = Parse("8.2.3_master.info");
  // "db0_distrib_strings_sizes" (# Keysizes, 8.0+) is not a keyspace line.
  EXPECT_TRUE(master.raw.contains("db0_distrib_strings_sizes"));
  ASSERT_EQ(master.keyspace.size(), 2u);
  EXPECT_EQ(master.keyspace.at(0).keys, 22);
  EXPECT_EQ(master.keyspace.at(0).expires, 2);
  EXPECT_EQ(master.raw.at("db0"), "keys=22,expires=2,avg_ttl=3599894,subexpiry=0");
  EXPECT_EQ(master.replication.master_failover_state, "no-failover");
  ASSERT_EQ(master.replication.replicas.size(), 1u);
  EXPECT_EQ(master.replication.replicas[0].port, 17141);

  Info replica = Parse("8.2.3_replica.info");
  EXPECT_EQ(replica.replication.master_replid, master.replication.master_replid);
  EXPECT_EQ(replica.replication.slave_read_repl_offset, 1009);
  EXPECT_TRUE(replica.raw.contains("slave_priority"));  // not renamed in INFO even in 8.2

  Info syncing = Parse("8.2.3_replica_syncing.info");
  EXPECT_EQ(syncing.replication.master_sync_total_bytes, 22889476);
  EXPECT_EQ(syncing.replication.master_sync_read_bytes, 81920);
  EXPECT_TRUE(syncing.raw.contains("replica_full_sync_buffer_size"));  // 8.0+

  Info fenced = Parse("8.2.3_master_fenced.info");
  EXPECT_EQ(fenced.replication.min_slaves_good_slaves, 1);  // still the "slaves" name
  EXPECT_TRUE(fenced.persistence.rdb_bgsave_in_progress);   // the replica's full sync

  Info cluster = Parse("8.2.3_cluster.info");
  EXPECT_TRUE(cluster.keyspace.empty());
}

TEST_P(InfoSampleTest, Valkey818) {
  Info master = Parse("valkey-8.1.8_master.info");
  // Valkey reports the Redis version it is compatible with, and its own apart.
  EXPECT_EQ(master.server.redis_version, "7.2.4");
  EXPECT_EQ(master.raw.at("server_name"), "valkey");
  EXPECT_EQ(master.raw.at("valkey_version"), "8.1.8");
  // "server_mode" stands in for "redis_mode", which Valkey does not send.
  EXPECT_FALSE(master.raw.contains("redis_mode"));
  EXPECT_EQ(master.raw.at("server_mode"), "standalone");
  ASSERT_EQ(master.replication.replicas.size(), 1u);
  // Valkey appends ",type=replica" to the slaveN lines.
  EXPECT_EQ(master.raw.at("slave0"),
            "ip=127.0.0.1,port=17151,state=online,offset=1009,lag=0,type=replica");
  EXPECT_EQ(master.replication.replicas[0].port, 17151);
  EXPECT_EQ(master.replication.replicas[0].offset, 1009);

  Info replica = Parse("valkey-8.1.8_replica.info");
  EXPECT_EQ(replica.replication.master_replid, master.replication.master_replid);

  Info cluster = Parse("valkey-8.1.8_cluster.info");
  EXPECT_EQ(cluster.raw.at("server_mode"), "cluster");
  EXPECT_EQ(cluster.server.redis_mode, "cluster");

  Info fenced = Parse("valkey-8.1.8_master_fenced.info");
  EXPECT_EQ(fenced.replication.min_slaves_good_slaves, 1);
}

TEST_P(InfoSampleTest, Redis32) {
  Info master = Parse("3.2.12_master.handwritten.info");
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

  Info replica = Parse("3.2.12_replica.handwritten.info");
  EXPECT_EQ(replica.replication.role, "slave");
  EXPECT_EQ(replica.replication.slave_repl_offset, 77391211);
  EXPECT_EQ(replica.replication.master_host, "10.1.4.21");
}

TEST_P(InfoSampleTest, Redis40) {
  Info master = Parse("4.0.14_master.handwritten.info");
  EXPECT_EQ(master.server.version.ToString(), "4.0.14");
  EXPECT_EQ(master.replication.master_replid, "8d4f0e2a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e");
  EXPECT_EQ(master.replication.master_replid2, "0000000000000000000000000000000000000000");
  EXPECT_EQ(master.replication.second_repl_offset, -1);
  EXPECT_EQ(master.replication.master_repl_offset, 91822345);
  ASSERT_EQ(master.replication.replicas.size(), 1u);
  EXPECT_EQ(master.replication.replicas[0].offset, 91822345);

  Info replica = Parse("4.0.14_replica.handwritten.info");
  EXPECT_EQ(replica.replication.role, "slave");
  EXPECT_EQ(replica.replication.master_link_status, "up");
  EXPECT_EQ(replica.replication.slave_repl_offset, 91822345);
  // 4.0 replicas keep the master's replication id and offset (PSYNC2).
  EXPECT_EQ(replica.replication.master_replid, master.replication.master_replid);
  EXPECT_EQ(replica.replication.master_repl_offset, 91822345);
}

TEST_P(InfoSampleTest, Redis50) {
  Info master = Parse("5.0.14_master.handwritten.info");
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

  Info replica = Parse("5.0.14_replica.handwritten.info");
  EXPECT_EQ(replica.replication.role, "slave");  // 5.0 renamed configs, not INFO
  EXPECT_EQ(replica.replication.master_host, "redis-old-0.redis-old.default.svc.cluster.local");
  EXPECT_EQ(replica.server.tcp_port, 6380);
  EXPECT_EQ(replica.replication.slave_repl_offset, 30511920144);
  EXPECT_EQ(replica.replication.replica_priority, 100);

  Info syncing = Parse("5.0.14_replica_syncing.handwritten.info");
  EXPECT_TRUE(syncing.replication.master_sync_in_progress);
  EXPECT_EQ(syncing.replication.master_link_status, "down");
  EXPECT_EQ(syncing.replication.master_sync_left_bytes, 301989888);
  EXPECT_EQ(syncing.replication.master_sync_total_bytes, -1);
  EXPECT_EQ(syncing.replication.master_link_down_since_seconds, 1640995231);
  EXPECT_EQ(syncing.TotalKeys(), 0);
}

TEST_P(InfoSampleTest, Redis60) {
  Info master = Parse("6.0.20_master.handwritten.info");
  EXPECT_EQ(master.server.version.ToString(), "6.0.20");
  EXPECT_TRUE(master.replication.master_failover_state.empty());
  EXPECT_EQ(master.replication.master_repl_offset, 750);
  ASSERT_EQ(master.replication.replicas.size(), 1u);
  EXPECT_EQ(master.replication.replicas[0].port, 6380);

  Info replica = Parse("6.0.20_replica.handwritten.info");
  EXPECT_EQ(replica.replication.slave_repl_offset, 750);
  EXPECT_EQ(replica.replication.slave_read_repl_offset, -1);
  EXPECT_FALSE(replica.raw.contains("replica_announced"));
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

TEST(InfoTest, ValkeyServerModeIsTheMode) {
  auto info = ParseInfo("server_name:valkey\nserver_mode:sentinel\n");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->server.redis_mode, "sentinel");
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
