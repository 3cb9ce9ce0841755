// Replication of the new master from the old one: start it, raise the old
// master's limits that break large syncs (and restore them), and measure lag.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/status.h"
#include "redis/admin.h"

namespace ruo::engine {

struct SyncStatus {
  bool link_up = false;            // master_link_status:up on the new master
  bool full_sync_done = false;     // link up at least once and not loading / syncing
  bool sync_in_progress = false;   // master_sync_in_progress:1
  int64_t sync_left_bytes = -1;    // during a full sync, when reported
  int64_t source_offset = 0;       // old master master_repl_offset
  int64_t target_offset = 0;       // new master slave_repl_offset
  int64_t lag_bytes = -1;          // source_offset - target_offset when link up; -1 unknown
  std::string master_link_status;  // "up" | "down" | ""
};

// Pure: derives the sync status from the two INFOs.
SyncStatus ComputeSyncStatus(const redis::Info& source, const redis::Info& target);

// Settings raised on the old master for the sync. Values are what we set them to.
struct SyncLimits {
  // client-output-buffer-limit for the replica class: hard, soft (bytes), soft seconds.
  int64_t replica_obuf_hard = 0;
  int64_t replica_obuf_soft = 0;
  int64_t replica_obuf_soft_seconds = 0;
  int64_t repl_backlog_size = 0;
};

// Pure: given the old master's used_memory and current settings, the limits a
// sync needs (never lower than the current ones; 0 = unlimited stays unlimited).
SyncLimits RequiredSyncLimits(int64_t used_memory, const std::string& current_obuf_config,
                              int64_t current_backlog);

// Raises the limits on the old master, recording the original values (real config
// names → original text) in *saved BEFORE changing anything.
Status RaiseSyncLimits(redis::Admin& source, std::map<std::string, std::string>* saved);
// Same, calling `persist(*saved)` after recording and before the first change, so
// a caller can make the originals durable first (migrate's state file). Values
// already in *saved are kept: they are the originals from an earlier run.
Status RaiseSyncLimits(
    redis::Admin& source, std::map<std::string, std::string>* saved,
    const std::function<Status(const std::map<std::string, std::string>&)>& persist);
// Restores every saved config value on a server.
Status RestoreConfig(redis::Admin& server, const std::map<std::string, std::string>& saved);

// Makes `target` replicate `source_addr` (as the target can reach it), setting
// masterauth first when a password is given. Idempotent: no-op when already
// replicating that address.
Status StartReplication(redis::Admin& target, const redis::Endpoint& source_addr,
                        const std::optional<std::string>& password);

StatusOr<SyncStatus> PollSync(redis::Admin& source, redis::Admin& target);

}  // namespace ruo::engine
