// WaitingForSwitch: keeps replication and the lag in status current and waits
// for the switch condition (mode, maintenance window, switch-now annotation,
// lag). When it holds, the intent to switch is recorded and Switching begins.
#include "upgrade/phases.h"
#include "upgrade/replication_poll.h"
#include "upgrade/switch_window.h"

namespace ruo::upgrade {

runtime::Result WaitForSwitch(ReconcileContext& ctx) {
  if (ctx.phase() != Phase::kWaitingForSwitch) return runtime::Result::Continue();
  engine::SyncStatus sync;
  RUO_PHASE(PollReplication(ctx, PollMode::kWaiting, &sync));

  const RedisUpgradeSpec& spec = ctx.spec();
  SwitchConditionInput in;
  in.mode =
      spec.mode == "MaintenanceWindow" ? SwitchMode::kMaintenanceWindow : SwitchMode::kImmediate;
  if (in.mode == SwitchMode::kMaintenanceWindow && spec.window) {
    // Validated in Validating; the spec cannot change since.
    auto w =
        ParseMaintenanceWindow(spec.window->start, spec.window->duration, spec.window->time_zone);
    if (!w.ok()) return runtime::Result::Error(w.status());
    in.window = *w;
  }
  in.switch_now = ctx.upgrade().SwitchNowRequested();
  in.full_sync_done = sync.full_sync_done;
  in.lag_bytes = sync.lag_bytes;
  in.max_lag_bytes = spec.max_lag_bytes;
  const SwitchDecision decision = DecideSwitch(in, ctx.clock().Now());
  const std::string now = ctx.Now();

  if (!decision.go) {
    Status s = ctx.CommitProgress([&](StatusDoc& d) {
      TxRecordSync(d, sync);
      TxProgress(d, decision.reason, decision.message, now);
    });
    if (!s.ok()) return runtime::Result::Error(s);
    auto delay = ctx.options().sync_poll_interval;
    if (decision.recheck_after.count() > 0 && decision.recheck_after < delay) {
      delay = decision.recheck_after;
    }
    return runtime::Result::RequeueAfter(delay, decision.message);
  }

  const std::string message = decision.message + "; " + DescribeSync(sync);
  Status s = ctx.Commit([&](StatusDoc& d) {
    TxRecordSync(d, sync);
    TxStartSwitch(d, message, now);
  });
  if (!s.ok()) return runtime::Result::Error(s);
  ctx.deps().metrics.SetPhase(ctx.ns(), ctx.name(), "Switching");
  ctx.deps().metrics.IncSwitchAttempts(ctx.ns(), ctx.name());
  ctx.Event("SwitchStarted",
            "switch attempt " + std::to_string(ctx.doc().s.sw.attempts) + ": " + message);
  return runtime::Result::Continue();
}

}  // namespace ruo::upgrade
