// Deletion of a RedisUpgrade (finalizer redisupgrade.dev/cleanup). Before the
// switch: an interrupted switch attempt is resolved first, the old master gets
// its settings back, the new StatefulSet and headless Service are deleted and
// waited for. After Completed the new instance is the instance: only the
// finalizer goes.
#include <spdlog/spdlog.h>

#include "engine/sync.h"
#include "k8s/errors.h"
#include "k8s/resource.h"
#include "upgrade/instance.h"
#include "upgrade/phases.h"
#include "upgrade/redis_access.h"
#include "upgrade/rfc3339.h"
#include "upgrade/switch_driver.h"
#include "upgrade/teardown.h"

namespace ruo::upgrade {
namespace {

using engine::SwitchStep;
using runtime::Result;

// Where the switch protocol seals an old master (engine::SwitchOptions).
const redis::Endpoint kSealAddress{"127.0.0.1", 1};

Result RemoveFinalizer(ReconcileContext& ctx) {
  std::vector<std::string> rest;
  for (const auto& f : ctx.upgrade().finalizers) {
    if (f != kFinalizer) rest.push_back(f);
  }
  // resourceVersion in the patch makes it conditional (409 on a stale read).
  const nlohmann::json patch = {
      {"metadata", {{"finalizers", rest}, {"resourceVersion", ctx.upgrade().resource_version}}}};
  auto r = ctx.client().MergePatch(k8s::resources::RedisUpgrades(), ctx.ns(), ctx.name(), patch);
  if (!r.ok() && !k8s::IsNotFound(r.status())) return Result::Error(r.status());
  spdlog::info("upgrade {}: finalizer removed", ctx.upgrade().Key());
  ctx.deps().metrics.Forget(ctx.ns(), ctx.name());
  return Result::Done();
}

// How long the object has been waiting for deletion.
std::chrono::seconds DeletionAge(ReconcileContext& ctx) {
  const std::string ts =
      ctx.writer().object().value("/metadata/deletionTimestamp"_json_pointer, "");
  auto t = ParseRfc3339(ts);
  if (!t) return std::chrono::seconds(0);
  return std::chrono::duration_cast<std::chrono::seconds>(ctx.clock().Now() - *t);
}

// The old master writable and with its settings back. Ok when there is
// nothing to do; an unreachable master is retried for cleanup_grace, then
// given up on (with a Warning), since deletion must not hang forever.
Result RestoreOldMaster(ReconcileContext& ctx) {
  const StatusDoc& d = ctx.doc();
  if (d.s.old_master_pod.empty()) return Result::Continue();  // never got that far
  auto old = LocateOldMaster(ctx);
  StatusOr<std::unique_ptr<redis::Admin>> admin =
      old.ok() ? ConnectRedis(ctx, old->endpoint)
               : StatusOr<std::unique_ptr<redis::Admin>>(old.status());
  Status s = admin.ok() ? Status::Ok() : admin.status();
  if (s.ok()) {
    auto info = (*admin)->GetInfo("replication");
    if (!info.ok()) {
      s = info.status();
    } else if (info->replication.role == "slave" &&
               info->replication.master_host == kSealAddress.host &&
               info->replication.master_port == kSealAddress.port) {
      // Sealed by an attempt whose undo did not finish: writable again.
      s = (*admin)->ReplicaOfNoOne();
    }
  }
  if (s.ok()) s = RestoreSyncLimits(ctx);
  if (s.ok()) return Result::Continue();
  if (s.reason() == kSourceLost) {
    spdlog::warn("upgrade {}: old master gone, nothing to restore: {}", ctx.upgrade().Key(),
                 s.message());
    return Result::Continue();
  }
  if (DeletionAge(ctx) < ctx.options().cleanup_grace) {
    return Result::Error(s.Annotate("restoring the old master before deletion"));
  }
  ctx.Warning("RestoreSkipped", "could not restore the old master's settings within " +
                                    std::to_string(ctx.options().cleanup_grace.count()) +
                                    " s; restore them by hand: " + s.message());
  return Result::Continue();
}

}  // namespace

Result Finalize(ReconcileContext& ctx) {
  if (!ctx.upgrade().HasFinalizer()) return Result::Done();
  if (ctx.phase() == Phase::kCompleted) return RemoveFinalizer(ctx);

  auto stored = StoredSwitchRecord(ctx.doc());
  if (!stored.ok()) return Result::Error(stored.status());
  engine::SwitchRecord record = std::move(stored).value();
  if (record.step == SwitchStep::kCompleted) {
    RUO_PHASE(OnSwitchCompleted(ctx, record));
    return RemoveFinalizer(ctx);
  }
  if (record.step != SwitchStep::kIdle) {
    // An attempt was interrupted: undo it (or, past the point of no return,
    // finish it: then the new instance is the instance and stays).
    SwitchDrive drive = DriveSwitch(ctx, record, /*fresh=*/false);
    if (drive.stop) return *drive.stop;
    if (!drive.outcome.ok()) return Result::Error(drive.outcome.status());
    if (*drive.outcome == engine::SwitchOutcome::kCompleted) {
      RUO_PHASE(OnSwitchCompleted(ctx, record, drive.clients));
      return RemoveFinalizer(ctx);
    }
    ctx.Event("SwitchUndone", "the interrupted switch attempt was undone before deletion");
  }

  RUO_PHASE(RestoreOldMaster(ctx));
  auto gone = DeleteNewInstance(ctx);
  if (!gone.ok()) return Result::Error(gone.status());
  if (!*gone) {
    return Result::RequeueAfter(ctx.options().provision_poll_interval,
                                "waiting for the new instance to be deleted");
  }
  if (!ctx.doc().s.new_stateful_set.empty()) {
    const std::string& read = ctx.doc().s.read_service;
    ctx.Event("Cleaned", "deleted StatefulSet " + ctx.doc().s.new_stateful_set +
                             " and its headless Service" +
                             (read.empty() ? "" : " and read Service " + read) +
                             "; the old instance is unchanged");
  }
  return RemoveFinalizer(ctx);
}

}  // namespace ruo::upgrade
