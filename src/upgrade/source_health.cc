#include "upgrade/source_health.h"

#include "upgrade/instance.h"
#include "upgrade/redis_access.h"
#include "upgrade/refuse.h"

namespace ruo::upgrade {

runtime::Result OnSourceTrouble(ReconcileContext& ctx, const Status& cause) {
  if (cause.reason() == kSourceLost) {
    return Refuse(ctx, kSourceLost,
                  cause.message() +
                      "; the new instance was removed, the upgrade must be "
                      "re-created once the old instance is healthy");
  }
  if (!IsUnreachable(cause)) return runtime::Result::Error(cause);
  const auto since = DegradedSince(ctx.doc(), kSourceUnreachable);
  if (since && ctx.clock().Now() - *since >= ctx.options().source_lost_grace) {
    return Refuse(ctx, kSourceLost,
                  "the old master " + ctx.doc().s.old_master_pod + " has not answered for " +
                      std::to_string(ctx.options().source_lost_grace.count()) +
                      " s: " + cause.message());
  }
  if (!since) {
    const std::string now = ctx.Now();
    const std::string message =
        "the old master " + ctx.doc().s.old_master_pod + " does not answer: " + cause.message();
    Status s =
        ctx.Commit([&](StatusDoc& d) { TxSetDegraded(d, kSourceUnreachable, message, now); });
    if (!s.ok()) return runtime::Result::Error(s);
    ctx.Warning(kSourceUnreachable, message);
  }
  return runtime::Result::Error(cause);
}

Status SourceAnswered(ReconcileContext& ctx) {
  const std::string now = ctx.Now();
  return ctx.Commit([&](StatusDoc& d) { TxClearDegraded(d, now, kSourceUnreachable); });
}

}  // namespace ruo::upgrade
