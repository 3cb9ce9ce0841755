// INFO output parsed into typed structs. Handles every format from 2.8 to 8.2
// and Valkey 8 (slaveN lines in both "ip=..,port=.." and the old "ip,port,state"
// form, slave_* vs replica naming, fields missing on older versions).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "redis/reply.h"
#include "redis/version.h"

namespace ruo::redis {

struct ServerInfo {
  std::string redis_version;  // as reported, e.g. "7.0.15"
  Version version;
  std::string run_id;
  // standalone | cluster | sentinel: "redis_mode", or Valkey's "server_mode";
  // "standalone" when absent.
  std::string redis_mode;
  int tcp_port = 0;
  int64_t uptime_in_seconds = 0;
  int64_t process_id = 0;
};

struct ReplicaEntry {  // one "slaveN:" line on a master
  std::string ip;
  int port = 0;
  std::string state;  // online | wait_bgsave | send_bulk | ...
  int64_t offset = 0;
  int64_t lag = -1;  // seconds; -1 when absent (2.8 old form)
};

struct ReplicationInfo {
  std::string role;  // "master" | "slave"
  int connected_slaves = 0;
  std::vector<ReplicaEntry> replicas;
  int64_t master_repl_offset = 0;
  std::string master_replid;        // 4.0+; empty on 2.8
  std::string master_replid2;       // 4.0+; empty on 2.8
  int64_t second_repl_offset = -1;  // 4.0+; -1 when absent
  bool repl_backlog_active = false;
  int64_t repl_backlog_size = 0;
  int64_t repl_backlog_first_byte_offset = 0;
  int64_t repl_backlog_histlen = 0;
  int min_slaves_good_slaves = -1;    // only while min-slaves-to-write is set; -1 when absent
  std::string master_failover_state;  // 6.2+ ("no-failover"); empty when absent
  // Replica side (role:slave):
  std::string master_host;
  int master_port = 0;
  std::string master_link_status;  // "up" | "down"
  int64_t master_last_io_seconds_ago = -1;
  bool master_sync_in_progress = false;
  int64_t master_sync_left_bytes = -1;   // during a full sync; -1 when absent
  int64_t master_sync_total_bytes = -1;  // 6.2+; -1 when absent or unknown
  int64_t master_sync_read_bytes = -1;   // 6.2+; -1 when absent
  int64_t slave_repl_offset = 0;
  int64_t slave_read_repl_offset = -1;  // 6.2+; -1 when absent
  int64_t master_link_down_since_seconds = -1;
  int replica_priority = 100;  // "slave_priority" (every version through 8.2) or "replica_priority"
  bool replica_read_only = true;  // "slave_read_only" or "replica_read_only"
};

struct PersistenceInfo {
  bool loading = false;
  bool rdb_bgsave_in_progress = false;
  bool aof_enabled = false;
  bool aof_rewrite_in_progress = false;
  bool aof_rewrite_scheduled = false;
  std::string rdb_last_bgsave_status;
};

struct MemoryInfo {
  int64_t used_memory = 0;
  int64_t used_memory_rss = 0;
  int64_t used_memory_peak = 0;
  int64_t maxmemory = 0;  // 0 = no limit; absent on 2.8 INFO (use CONFIG GET)
  std::string maxmemory_policy;
  int64_t total_system_memory = 0;  // 3.2+; 0 when absent
};

struct ClientsInfo {
  int connected_clients = 0;
  int blocked_clients = 0;
};

struct KeyspaceEntry {
  int64_t keys = 0;
  int64_t expires = 0;
};

struct Info {
  ServerInfo server;
  ClientsInfo clients;
  MemoryInfo memory;
  PersistenceInfo persistence;
  ReplicationInfo replication;
  bool cluster_enabled = false;           // "# Cluster" cluster_enabled:1 (absent on 2.8 → false)
  std::map<int, KeyspaceEntry> keyspace;  // db index → counts
  // Every raw field, "section" lower-cased is not kept: key → value.
  std::map<std::string, std::string> raw;

  int64_t TotalKeys() const;
};

// Parses the text of INFO (any subset of sections). Unknown fields are kept in
// `raw` only. A malformed number in a known field is InvalidArgument.
// master_sync_left_bytes is kept only when it is a real count (>= 0): servers report
// total - read, which is negative while the total is unknown (diskless sync, or before
// the RDB size arrives); the raw value stays in `raw`.
StatusOr<Info> ParseInfo(std::string_view text);
// ParseInfo over the reply of an INFO command (e.g. one element of an EXEC reply).
StatusOr<Info> ParseInfoReply(const Reply& reply);

}  // namespace ruo::redis
