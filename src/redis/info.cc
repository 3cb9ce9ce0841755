#include "redis/info.h"

#include <charconv>
#include <functional>
#include <unordered_map>

namespace ruo::redis {
namespace {

Status Malformed(std::string_view key, std::string_view value) {
  return InvalidArgument(
      "INFO field \"" + std::string(key) + "\" has malformed value \"" + std::string(value) + "\"",
      "MalformedInfo");
}

bool ToInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Field setters: each parses one value into the right member or fails.
using Setter = std::function<Status(Info&, std::string_view key, std::string_view value)>;

template <typename T>
Setter Int(T Info::*section, int64_t T::*member) {
  return [=](Info& info, std::string_view key, std::string_view value) {
    if (!ToInt64(value, &(info.*section.*member))) return Malformed(key, value);
    return Status::Ok();
  };
}

template <typename T>
Setter SmallInt(T Info::*section, int T::*member) {
  return [=](Info& info, std::string_view key, std::string_view value) {
    int64_t v = 0;
    if (!ToInt64(value, &v) || v < INT32_MIN || v > INT32_MAX) return Malformed(key, value);
    info.*section.*member = static_cast<int>(v);
    return Status::Ok();
  };
}

template <typename T>
Setter Bool(T Info::*section, bool T::*member) {
  return [=](Info& info, std::string_view key, std::string_view value) {
    if (value != "0" && value != "1") return Malformed(key, value);
    info.*section.*member = value == "1";
    return Status::Ok();
  };
}

template <typename T>
Setter Str(T Info::*section, std::string T::*member) {
  return [=](Info& info, std::string_view, std::string_view value) {
    info.*section.*member = std::string(value);
    return Status::Ok();
  };
}

const std::unordered_map<std::string_view, Setter>& Setters() {
  using S = ServerInfo;
  using C = ClientsInfo;
  using M = MemoryInfo;
  using P = PersistenceInfo;
  using R = ReplicationInfo;
  static const auto* kSetters = new std::unordered_map<std::string_view, Setter>{
      {"redis_version",
       [](Info& info, std::string_view key, std::string_view value) {
         auto v = Version::Parse(value);
         if (!v.ok()) return Malformed(key, value);
         info.server.redis_version = std::string(value);
         info.server.version = *v;
         return Status::Ok();
       }},
      {"run_id", Str(&Info::server, &S::run_id)},
      {"redis_mode", Str(&Info::server, &S::redis_mode)},
      // Valkey (8.x) names it server_mode and has no redis_mode.
      {"server_mode", Str(&Info::server, &S::redis_mode)},
      {"tcp_port", SmallInt(&Info::server, &S::tcp_port)},
      {"uptime_in_seconds", Int(&Info::server, &S::uptime_in_seconds)},
      {"process_id", Int(&Info::server, &S::process_id)},

      {"connected_clients", SmallInt(&Info::clients, &C::connected_clients)},
      {"blocked_clients", SmallInt(&Info::clients, &C::blocked_clients)},

      {"used_memory", Int(&Info::memory, &M::used_memory)},
      {"used_memory_rss", Int(&Info::memory, &M::used_memory_rss)},
      {"used_memory_peak", Int(&Info::memory, &M::used_memory_peak)},
      {"maxmemory", Int(&Info::memory, &M::maxmemory)},
      {"maxmemory_policy", Str(&Info::memory, &M::maxmemory_policy)},
      {"total_system_memory", Int(&Info::memory, &M::total_system_memory)},

      {"loading", Bool(&Info::persistence, &P::loading)},
      {"rdb_bgsave_in_progress", Bool(&Info::persistence, &P::rdb_bgsave_in_progress)},
      {"aof_enabled", Bool(&Info::persistence, &P::aof_enabled)},
      {"aof_rewrite_in_progress", Bool(&Info::persistence, &P::aof_rewrite_in_progress)},
      {"aof_rewrite_scheduled", Bool(&Info::persistence, &P::aof_rewrite_scheduled)},
      {"rdb_last_bgsave_status", Str(&Info::persistence, &P::rdb_last_bgsave_status)},

      {"role", Str(&Info::replication, &R::role)},
      {"connected_slaves", SmallInt(&Info::replication, &R::connected_slaves)},
      {"master_repl_offset", Int(&Info::replication, &R::master_repl_offset)},
      {"master_replid", Str(&Info::replication, &R::master_replid)},
      {"master_replid2", Str(&Info::replication, &R::master_replid2)},
      {"second_repl_offset", Int(&Info::replication, &R::second_repl_offset)},
      {"repl_backlog_active", Bool(&Info::replication, &R::repl_backlog_active)},
      {"repl_backlog_size", Int(&Info::replication, &R::repl_backlog_size)},
      {"repl_backlog_first_byte_offset",
       Int(&Info::replication, &R::repl_backlog_first_byte_offset)},
      {"repl_backlog_histlen", Int(&Info::replication, &R::repl_backlog_histlen)},
      {"min_slaves_good_slaves", SmallInt(&Info::replication, &R::min_slaves_good_slaves)},
      {"master_failover_state", Str(&Info::replication, &R::master_failover_state)},
      {"master_host", Str(&Info::replication, &R::master_host)},
      {"master_port", SmallInt(&Info::replication, &R::master_port)},
      {"master_link_status", Str(&Info::replication, &R::master_link_status)},
      {"master_last_io_seconds_ago", Int(&Info::replication, &R::master_last_io_seconds_ago)},
      {"master_sync_in_progress", Bool(&Info::replication, &R::master_sync_in_progress)},
      {"master_sync_left_bytes",
       [](Info& info, std::string_view key, std::string_view value) {
         int64_t v = 0;
         if (!ToInt64(value, &v)) return Malformed(key, value);
         // Negative means "total not known yet": not a byte count.
         info.replication.master_sync_left_bytes = v >= 0 ? v : -1;
         return Status::Ok();
       }},
      {"master_sync_total_bytes",
       [](Info& info, std::string_view key, std::string_view value) {
         int64_t v = 0;
         if (!ToInt64(value, &v)) return Malformed(key, value);
         // 0 or -1 both mean the size is not known (diskless sync).
         info.replication.master_sync_total_bytes = v > 0 ? v : -1;
         return Status::Ok();
       }},
      {"master_sync_read_bytes", Int(&Info::replication, &R::master_sync_read_bytes)},
      {"slave_repl_offset", Int(&Info::replication, &R::slave_repl_offset)},
      {"slave_read_repl_offset", Int(&Info::replication, &R::slave_read_repl_offset)},
      {"master_link_down_since_seconds",
       Int(&Info::replication, &R::master_link_down_since_seconds)},
      {"slave_priority", SmallInt(&Info::replication, &R::replica_priority)},
      {"replica_priority", SmallInt(&Info::replication, &R::replica_priority)},
      {"slave_read_only", Bool(&Info::replication, &R::replica_read_only)},
      {"replica_read_only", Bool(&Info::replication, &R::replica_read_only)},

      {"cluster_enabled",
       [](Info& info, std::string_view key, std::string_view value) {
         if (value != "0" && value != "1") return Malformed(key, value);
         info.cluster_enabled = value == "1";
         return Status::Ok();
       }},
  };
  return *kSetters;
}

// "dbN" / "slaveN": `prefix` followed by one or more digits.
bool IndexedKey(std::string_view key, std::string_view prefix, int* index) {
  if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix) return false;
  std::string_view digits = key.substr(prefix.size());
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  int64_t v = 0;
  if (!ToInt64(digits, &v) || v > INT32_MAX) return false;
  *index = static_cast<int>(v);
  return true;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return out;
    s.remove_prefix(pos + 1);
  }
}

// "keys=1,expires=0,avg_ttl=0" (later versions add fields; unknown ones are ignored).
Status ParseKeyspace(std::string_view key, std::string_view value, KeyspaceEntry* e) {
  bool have_keys = false;
  for (std::string_view part : Split(value, ',')) {
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) return Malformed(key, value);
    std::string_view k = part.substr(0, eq);
    std::string_view v = part.substr(eq + 1);
    if (k == "keys") {
      if (!ToInt64(v, &e->keys)) return Malformed(key, value);
      have_keys = true;
    } else if (k == "expires") {
      if (!ToInt64(v, &e->expires)) return Malformed(key, value);
    }
  }
  if (!have_keys) return Malformed(key, value);
  return Status::Ok();
}

// "ip=127.0.0.1,port=6380,state=online,offset=123,lag=0" (2.8+), or the early
// "127.0.0.1,6380,online" form, which has neither offset nor lag.
Status ParseReplica(std::string_view key, std::string_view value, ReplicaEntry* r) {
  std::vector<std::string_view> parts = Split(value, ',');
  if (value.find('=') == std::string_view::npos) {
    int64_t port = 0;
    if (parts.size() != 3 || parts[0].empty() || !ToInt64(parts[1], &port) || port < 0 ||
        port > 65535) {
      return Malformed(key, value);
    }
    r->ip = std::string(parts[0]);
    r->port = static_cast<int>(port);
    r->state = std::string(parts[2]);
    return Status::Ok();
  }
  bool have_port = false;
  for (std::string_view part : parts) {
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) return Malformed(key, value);
    std::string_view k = part.substr(0, eq);
    std::string_view v = part.substr(eq + 1);
    if (k == "ip") {
      r->ip = std::string(v);
    } else if (k == "port") {
      int64_t port = 0;
      if (!ToInt64(v, &port) || port < 0 || port > 65535) return Malformed(key, value);
      r->port = static_cast<int>(port);
      have_port = true;
    } else if (k == "state") {
      r->state = std::string(v);
    } else if (k == "offset") {
      if (!ToInt64(v, &r->offset)) return Malformed(key, value);
    } else if (k == "lag") {
      if (!ToInt64(v, &r->lag)) return Malformed(key, value);
    }
  }
  if (r->ip.empty() || !have_port) return Malformed(key, value);
  return Status::Ok();
}

}  // namespace

int64_t Info::TotalKeys() const {
  int64_t total = 0;
  for (const auto& [db, entry] : keyspace) total += entry.keys;
  return total;
}

StatusOr<Info> ParseInfo(std::string_view text) {
  Info info;
  std::map<int, ReplicaEntry> replicas;  // by N of "slaveN", so the order is by index
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;  // blank line or "# Section"
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return InvalidArgument("INFO line " + std::to_string(line_no) + " is not \"key:value\": \"" +
                                 std::string(line.substr(0, 80)) + "\"",
                             "MalformedInfo");
    }
    std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    info.raw[std::string(key)] = std::string(value);

    int index = 0;
    if (IndexedKey(key, "db", &index)) {
      RUO_RETURN_IF_ERROR(ParseKeyspace(key, value, &info.keyspace[index]));
    } else if (IndexedKey(key, "slave", &index)) {
      RUO_RETURN_IF_ERROR(ParseReplica(key, value, &replicas[index]));
    } else if (auto it = Setters().find(key); it != Setters().end()) {
      RUO_RETURN_IF_ERROR(it->second(info, key, value));
    }
  }
  if (info.server.redis_mode.empty()) info.server.redis_mode = "standalone";
  for (auto& [n, r] : replicas) info.replication.replicas.push_back(std::move(r));
  return info;
}

StatusOr<Info> ParseInfoReply(const Reply& reply) {
  // INFO answers with a bulk string (a verbatim string under RESP3).
  if (reply.type != Reply::Type::kString && reply.type != Reply::Type::kStatus) {
    if (reply.IsError()) return StatusFromErrorReply("INFO", reply.str);
    return InvalidArgument("INFO reply is not a string: " + DebugString(reply), "MalformedInfo");
  }
  return ParseInfo(reply.str);
}

}  // namespace ruo::redis
