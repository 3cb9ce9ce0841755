// The whole sync-and-switch between two plain Redis endpoints, with no
// Kubernetes: what `redis-upgrade-operator migrate` runs.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "engine/switch_protocol.h"
#include "engine/switch_record.h"
#include "redis/connection.h"

namespace ruo::engine {

struct MigrationOptions {
  redis::Endpoint source;
  redis::Endpoint target;
  // How the target reaches the source, when different from `source` (NAT, proxies).
  std::optional<redis::Endpoint> source_as_seen_by_target;
  std::optional<std::string> password;  // for both servers; never logged
  int64_t max_lag_bytes = 10 * 1024 * 1024;
  bool allow_same_version = false;
  int max_attempts = 5;
  std::chrono::milliseconds sync_timeout{std::chrono::hours(24)};
  SwitchOptions switch_options;
  TrafficMover move_traffic;  // optional; e.g. runs --switch-hook
  // Where the switch record is persisted; empty = memory only. JSON
  // {"sync_saved_config": {name: original}, "switch": SwitchRecord}, replaced
  // atomically (tmp + fsync + rename). A run that finds a record mid-switch
  // undoes or finishes it before anything else.
  std::string state_file;
  // During the sync: the source unreachable (SourceLost), or the target's link
  // down with no sync running and the source not listing it as a replica
  // (SourceLost if the source vanished meanwhile, else ReplicationLinkDown), for
  // longer than this fails the migration; the target is never promoted then.
  std::chrono::milliseconds source_lost_timeout{30000};
  std::chrono::milliseconds sync_poll_interval{100};
  std::chrono::milliseconds progress_interval{1000};
};

struct MigrationReport {
  std::string result;  // "completed" | "failed"
  std::string source_version;
  std::string target_version;
  int64_t write_blocked_ms = -1;
  int attempts = 0;
  // How writes were blocked on the source: "pause-write" | "multi-fence-pause" | "fence".
  std::string block_method;
  // E.g. a version newer than every release line this operator was checked against.
  std::vector<std::string> warnings;
  std::string error;         // when failed: one line naming the cause
  std::string error_reason;  // CamelCase reason
  int64_t full_sync_ms = -1;
  int64_t total_ms = 0;
  int64_t final_offset = -1;
  int64_t source_keys = -1;  // before the switch
  int64_t target_keys = -1;  // after the switch
  nlohmann::json ToJson() const;
};

using ProgressFn = std::function<void(const std::string& line)>;

MigrationReport RunMigration(const MigrationOptions& opts, redis::Dialer& dialer, Clock& clock,
                             const ProgressFn& progress);

}  // namespace ruo::engine
