#include "upgrade/refuse.h"

#include <spdlog/spdlog.h>

#include "upgrade/status_tx.h"
#include "upgrade/teardown.h"

namespace ruo::upgrade {

runtime::Result Refuse(ReconcileContext& ctx, const std::string& reason,
                       const std::string& message) {
  // The old instance was the truth all along: nothing created is worth keeping.
  if (Status s = RestoreSyncLimits(ctx); !s.ok()) {
    spdlog::warn("upgrade {}: restoring the old master's settings: {}", ctx.upgrade().Key(),
                 s.ToString());
  }
  if (auto gone = DeleteNewInstance(ctx); !gone.ok()) {
    spdlog::warn("upgrade {}: deleting the new instance: {}", ctx.upgrade().Key(),
                 gone.status().ToString());
  }
  const std::string now = ctx.Now();
  Status s = ctx.Commit([&](StatusDoc& d) { TxFail(d, reason, message, now); });
  if (!s.ok()) return runtime::Result::Error(s.Annotate("recording refusal " + reason));
  ctx.deps().metrics.SetPhase(ctx.ns(), ctx.name(), "Failed");
  ctx.Warning(reason, message);
  return runtime::Result::Terminal(FailedPrecondition(message, reason));
}

runtime::Result WaitOrRefuse(ReconcileContext& ctx, const std::string& reason,
                             const std::string& message, std::chrono::seconds grace,
                             std::chrono::milliseconds poll) {
  const auto since = DegradedSince(ctx.doc(), reason);
  if (since && ctx.clock().Now() - *since >= grace) {
    return Refuse(ctx, reason,
                  message + " (for more than " + std::to_string(grace.count()) + " s)");
  }
  const std::string now = ctx.Now();
  if (!since) {
    Status s = ctx.Commit([&](StatusDoc& d) {
      TxSetDegraded(d, reason, message, now);
      TxProgress(d, reason, message, now);
    });
    if (!s.ok()) return runtime::Result::Error(s);
    ctx.Warning(reason, message);
  } else {
    Status s = ctx.CommitProgress([&](StatusDoc& d) { TxProgress(d, reason, message, now); });
    if (!s.ok()) return runtime::Result::Error(s);
  }
  return runtime::Result::RequeueAfter(poll, message);
}

}  // namespace ruo::upgrade
