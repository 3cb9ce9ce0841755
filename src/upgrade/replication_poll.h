// One look at the replication old master → new master (→ new replicas), shared
// by Syncing and WaitingForSwitch: (re-)establishes the links idempotently and
// measures the lag (the caller records it with its own progress message).
#pragma once

#include "engine/sync.h"
#include "runtime/result.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

enum class PollMode {
  kSyncing,  // also raises the old master's sync limits and points the new replicas
  kWaiting,  // keeps the links and the lag current
};

// Continue with *out filled; otherwise the Result to return (SourceLost →
// Terminal, transient trouble → Error).
runtime::Result PollReplication(ReconcileContext& ctx, PollMode mode, engine::SyncStatus* out);

// "lag 1234 bytes, link up" for messages.
std::string DescribeSync(const engine::SyncStatus& s);

}  // namespace ruo::upgrade
