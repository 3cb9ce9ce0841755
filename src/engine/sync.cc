#include "engine/sync.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>
#include <vector>

namespace ruo::engine {
namespace {

constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kMinObuf = 256 * kMiB;
constexpr int64_t kMinBacklog = 16 * kMiB;
constexpr int64_t kMaxBacklog = 512 * kMiB;

// Redis memory notation ("256mb", "1gb", "1000", "1k"); -1 when malformed.
int64_t ParseMemory(std::string_view text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return -1;
  std::string unit(ptr, text.data() + text.size());
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (unit.empty() || unit == "b") return value;
  if (unit == "k") return value * 1000;
  if (unit == "kb") return value * 1024;
  if (unit == "m") return value * 1000 * 1000;
  if (unit == "mb") return value * kMiB;
  if (unit == "g") return value * 1000 * 1000 * 1000;
  if (unit == "gb") return value * 1024 * kMiB;
  return -1;
}

struct ClassLimits {
  int64_t hard = 256 * kMiB;  // Redis defaults for the replica class
  int64_t soft = 64 * kMiB;
  int64_t secs = 60;
};

// Finds the replica class ("slave", which CONFIG GET prints on every version;
// "replica" accepted too) in "normal 0 0 0 slave 268435456 67108864 60 pubsub ...".
ClassLimits ParseReplicaClass(const std::string& config) {
  std::istringstream in(config);
  std::vector<std::string> tokens;
  for (std::string t; in >> t;) tokens.push_back(t);
  ClassLimits out;
  for (size_t i = 0; i + 3 < tokens.size(); i += 4) {
    if (tokens[i] != "slave" && tokens[i] != "replica") continue;
    int64_t hard = ParseMemory(tokens[i + 1]);
    int64_t soft = ParseMemory(tokens[i + 2]);
    int64_t secs = ParseMemory(tokens[i + 3]);
    if (hard >= 0) out.hard = hard;
    if (soft >= 0) out.soft = soft;
    if (secs >= 0) out.secs = secs;
    break;
  }
  return out;
}

}  // namespace

SyncStatus ComputeSyncStatus(const redis::Info& source, const redis::Info& target) {
  const auto& t = target.replication;
  SyncStatus s;
  s.master_link_status = t.master_link_status;
  s.link_up = t.role == "slave" && t.master_link_status == "up";
  s.sync_in_progress = t.master_sync_in_progress;
  s.sync_left_bytes = t.master_sync_left_bytes;
  s.source_offset = source.replication.master_repl_offset;
  s.target_offset = t.slave_repl_offset;
  s.full_sync_done = s.link_up && !s.sync_in_progress && !target.persistence.loading;
  if (s.link_up && !s.sync_in_progress) {
    // The two INFOs are not taken at one instant: the target may look ahead.
    s.lag_bytes = std::max<int64_t>(0, s.source_offset - s.target_offset);
  }
  return s;
}

SyncLimits RequiredSyncLimits(int64_t used_memory, const std::string& current_obuf_config,
                              int64_t current_backlog) {
  const ClassLimits cur = ParseReplicaClass(current_obuf_config);
  // The output buffer holds the writes made during the RDB transfer; it must not
  // cut the replica off before the transfer ends, or the full sync loops forever.
  const int64_t floor = std::max(used_memory, kMinObuf);
  auto raise = [floor](int64_t v) { return v == 0 ? 0 : std::max(v, floor); };
  SyncLimits out;
  out.replica_obuf_hard = raise(cur.hard);
  out.replica_obuf_soft = raise(cur.soft);
  out.replica_obuf_soft_seconds = cur.secs;
  const int64_t backlog_want = std::min(std::max(used_memory / 8, kMinBacklog), kMaxBacklog);
  out.repl_backlog_size = std::max(current_backlog, backlog_want);
  return out;
}

Status RaiseSyncLimits(redis::Admin& source, std::map<std::string, std::string>* saved) {
  return RaiseSyncLimits(source, saved,
                         [](const std::map<std::string, std::string>&) { return Status::Ok(); });
}

Status RaiseSyncLimits(
    redis::Admin& source, std::map<std::string, std::string>* saved,
    const std::function<Status(const std::map<std::string, std::string>&)>& persist) {
  RUO_ASSIGN_OR_RETURN(std::string obuf, source.ConfigGet("client-output-buffer-limit"));
  RUO_ASSIGN_OR_RETURN(std::string backlog_text, source.ConfigGet("repl-backlog-size"));
  RUO_ASSIGN_OR_RETURN(redis::Info info, source.GetInfo("memory"));
  const int64_t backlog = std::max<int64_t>(0, ParseMemory(backlog_text));
  const ClassLimits cur = ParseReplicaClass(obuf);
  const SyncLimits want = RequiredSyncLimits(info.memory.used_memory, obuf, backlog);

  const bool obuf_change = want.replica_obuf_hard != cur.hard ||
                           want.replica_obuf_soft != cur.soft ||
                           want.replica_obuf_soft_seconds != cur.secs;
  const bool backlog_change = want.repl_backlog_size != backlog;
  if (!obuf_change && !backlog_change) return Status::Ok();

  // Originals first; emplace keeps a value saved by an earlier (killed) run.
  if (obuf_change) saved->emplace("client-output-buffer-limit", obuf);
  if (backlog_change) saved->emplace("repl-backlog-size", backlog_text);
  RUO_RETURN_IF_ERROR(persist(*saved));

  if (obuf_change) {
    // Only the replica class; the others keep their values.
    RUO_RETURN_IF_ERROR(source.ConfigSet("client-output-buffer-limit",
                                         "slave " + std::to_string(want.replica_obuf_hard) + " " +
                                             std::to_string(want.replica_obuf_soft) + " " +
                                             std::to_string(want.replica_obuf_soft_seconds)));
  }
  if (backlog_change) {
    RUO_RETURN_IF_ERROR(
        source.ConfigSet("repl-backlog-size", std::to_string(want.repl_backlog_size)));
  }
  return Status::Ok();
}

Status RestoreConfig(redis::Admin& server, const std::map<std::string, std::string>& saved) {
  Status first;
  for (const auto& [name, value] : saved) {
    Status s = server.ConfigSet(name, value);
    if (!s.ok()) {
      if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded) {
        return s;  // the connection is gone: the rest would fail too
      }
      if (first.ok()) first = s;
    }
  }
  return first;
}

Status StartReplication(redis::Admin& target, const redis::Endpoint& source_addr,
                        const std::optional<std::string>& password) {
  RUO_ASSIGN_OR_RETURN(redis::Info info, target.GetInfo("replication"));
  const auto& r = info.replication;
  if (r.role == "slave" && r.master_host == source_addr.host && r.master_port == source_addr.port) {
    return Status::Ok();
  }
  if (password) {
    Status s = target.ConfigSet("masterauth", *password);
    // Never let the password reach a message.
    if (!s.ok()) return Status(s.code(), "CONFIG SET masterauth failed on the target", s.reason());
  }
  return target.ReplicaOf(source_addr);
}

StatusOr<SyncStatus> PollSync(redis::Admin& source, redis::Admin& target) {
  RUO_ASSIGN_OR_RETURN(redis::Info src, source.GetInfo("replication"));
  // Default sections: replication plus persistence (loading).
  RUO_ASSIGN_OR_RETURN(redis::Info tgt, target.GetInfo());
  return ComputeSyncStatus(src, tgt);
}

}  // namespace ruo::engine
