// Syncing: the new master replicates the old one (full sync, then the stream),
// the new replicas replicate the new master; leaves when the full sync is done
// and the lag is within maxLagBytes.
#include "upgrade/phases.h"
#include "upgrade/replication_poll.h"

namespace ruo::upgrade {

runtime::Result Sync(ReconcileContext& ctx) {
  if (ctx.phase() != Phase::kSyncing) return runtime::Result::Continue();
  engine::SyncStatus sync;
  RUO_PHASE(PollReplication(ctx, PollMode::kSyncing, &sync));
  const int64_t max_lag = ctx.spec().max_lag_bytes;
  const std::string now = ctx.Now();
  if (!sync.full_sync_done || sync.lag_bytes < 0 || sync.lag_bytes > max_lag) {
    const std::string message = "syncing: " + DescribeSync(sync) +
                                " (switch needs lag <= " + std::to_string(max_lag) + " bytes)";
    Status s = ctx.CommitProgress([&](StatusDoc& d) {
      TxRecordSync(d, sync);
      TxProgress(d, "Syncing", message, now);
    });
    if (!s.ok()) return runtime::Result::Error(s);
    return runtime::Result::RequeueAfter(ctx.options().sync_poll_interval, message);
  }
  if (Status s = ctx.Commit([&](StatusDoc& d) { TxRecordSync(d, sync); }); !s.ok()) {
    return runtime::Result::Error(s);
  }
  Status s = ctx.EnterPhase(Phase::kWaitingForSwitch, "Synced",
                            "the new master is in sync: " + DescribeSync(sync));
  if (!s.ok()) return runtime::Result::Error(s);
  return runtime::Result::Continue();
}

}  // namespace ruo::upgrade
