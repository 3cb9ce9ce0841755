#include "upgrade/replication_poll.h"

#include <spdlog/spdlog.h>

#include "upgrade/instance.h"
#include "upgrade/redis_access.h"
#include "upgrade/rfc3339.h"
#include "upgrade/source_health.h"

namespace ruo::upgrade {
namespace {

using runtime::Result;

// The new replicas (<sts>-1…) replicate the new master; one that cannot be
// reached now is retried on the next poll and does not hold the sync up.
void PointReplicas(ReconcileContext& ctx, const redis::Endpoint& new_master,
                   const std::optional<std::string>& password) {
  auto size = NewInstanceSize(ctx);
  if (!size.ok()) {
    spdlog::warn("upgrade {}: new StatefulSet: {}", ctx.upgrade().Key(), size.status().ToString());
    return;
  }
  for (int i = 1; i < *size; ++i) {
    auto ep = NewPodEndpoint(ctx, i);
    StatusOr<std::unique_ptr<redis::Admin>> admin =
        ep.ok() ? ConnectRedis(ctx, *ep) : StatusOr<std::unique_ptr<redis::Admin>>(ep.status());
    Status s =
        admin.ok() ? engine::StartReplication(**admin, new_master, password) : admin.status();
    if (!s.ok()) {
      spdlog::warn("upgrade {}: new replica {}: {}", ctx.upgrade().Key(), i, s.ToString());
    }
  }
}

// The old master is still the server process Validating looked at. A master
// restarted in place (same pod, same uid) comes back without its data (or with
// an old snapshot); the new master would full-sync that and switch to it. The
// first poll records run_id, refusing a server younger than the upgrade's
// Validating (2 s of slack for timestamps in whole seconds); later polls
// compare run_id. FailedPrecondition SourceLost when it restarted.
Status CheckSameServer(ReconcileContext& ctx, redis::Admin& source, const std::string& pod) {
  RUO_ASSIGN_OR_RETURN(redis::Info info, source.GetInfo("server"));
  const std::string& run_id = info.server.run_id;
  // Nothing to go by (a server that reports neither run_id nor uptime).
  if (run_id.empty()) return Status::Ok();
  const std::string& recorded = ctx.doc().source.run_id;
  if (!recorded.empty()) {
    if (run_id == recorded) return Status::Ok();
    return FailedPrecondition("the old master " + pod + " restarted (run_id " + recorded +
                                  " is now " + run_id + "): its data cannot be trusted",
                              kSourceLost);
  }
  const auto& times = ctx.doc().s.phase_times;
  const auto validating = times.find("Validating");
  if (validating != times.end()) {
    const auto since = ParseRfc3339(validating->second);
    if (since) {
      const auto elapsed =
          std::chrono::duration_cast<std::chrono::seconds>(ctx.clock().Now() - *since);
      if (info.server.uptime_in_seconds + 2 < elapsed.count()) {
        return FailedPrecondition("the old master " + pod + " restarted after Validating (up " +
                                      std::to_string(info.server.uptime_in_seconds) +
                                      " s, upgrade started " + std::to_string(elapsed.count()) +
                                      " s ago): its data cannot be trusted",
                                  kSourceLost);
      }
    }
  }
  return ctx.Commit([&](StatusDoc& d) { d.source.run_id = run_id; });
}

}  // namespace

std::string DescribeSync(const engine::SyncStatus& s) {
  std::string out = s.lag_bytes >= 0 ? "lag " + std::to_string(s.lag_bytes) + " bytes"
                                     : std::string("lag unknown");
  out += ", link " + (s.master_link_status.empty() ? std::string("unknown") : s.master_link_status);
  if (s.sync_in_progress) {
    out += ", full sync in progress";
    if (s.sync_left_bytes >= 0) out += " (" + std::to_string(s.sync_left_bytes) + " bytes left)";
  }
  return out;
}

Result PollReplication(ReconcileContext& ctx, PollMode mode, engine::SyncStatus* out) {
  auto old = LocateOldMaster(ctx);
  if (!old.ok()) return OnSourceTrouble(ctx, old.status());
  auto source = ConnectRedis(ctx, old->endpoint);
  if (!source.ok()) return OnSourceTrouble(ctx, source.status());
  // Still the master we validated: someone may have demoted it meanwhile.
  auto role = (*source)->GetInfo("replication");
  if (!role.ok()) return OnSourceTrouble(ctx, role.status());
  if (role->replication.role != "master") {
    return OnSourceTrouble(
        ctx, FailedPrecondition("the old master " + old->pod_name +
                                    " is no longer a master (role:" + role->replication.role + ")",
                                "SourceLost"));
  }
  if (Status s = CheckSameServer(ctx, **source, old->pod_name); !s.ok()) {
    return OnSourceTrouble(ctx, s);
  }
  if (Status s = SourceAnswered(ctx); !s.ok()) return Result::Error(s);

  auto new_ep = NewPodEndpoint(ctx, 0);
  if (!new_ep.ok()) return Result::Error(new_ep.status());
  auto target = ConnectRedis(ctx, *new_ep);
  if (!target.ok()) return Result::Error(target.status());
  auto password = ctx.Password();
  if (!password.ok()) return Result::Error(password.status());

  if (mode == PollMode::kSyncing) {
    // The originals reach status before the first CONFIG SET (the persist
    // callback runs between recording and changing), and values already in
    // status are kept: they are the originals from an earlier, killed run.
    std::map<std::string, std::string> saved = ctx.doc().s.sync.saved_config;
    Status s = engine::RaiseSyncLimits(
        **source, &saved, [&ctx](const std::map<std::string, std::string>& originals) {
          return ctx.Commit([&](StatusDoc& d) { TxSavedConfig(d, originals); });
        });
    if (!s.ok()) return IsUnreachable(s) ? OnSourceTrouble(ctx, s) : Result::Error(s);
  }
  // Idempotent: a no-op when the new master already replicates this address.
  if (Status s = engine::StartReplication(**target, old->endpoint, *password); !s.ok()) {
    return Result::Error(s.Annotate("new master replicating the old one"));
  }
  if (mode == PollMode::kSyncing) PointReplicas(ctx, *new_ep, *password);

  auto sync = engine::PollSync(**source, **target);
  if (!sync.ok()) return Result::Error(sync.status());
  ctx.deps().metrics.SetLagBytes(ctx.ns(), ctx.name(), sync->lag_bytes);
  *out = *sync;
  return Result::Continue();
}

}  // namespace ruo::upgrade
