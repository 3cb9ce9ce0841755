#include "upgrade/teardown.h"

#include <spdlog/spdlog.h>

#include "engine/sync.h"
#include "k8s/errors.h"
#include "k8s/resource.h"
#include "upgrade/instance.h"
#include "upgrade/manifests.h"
#include "upgrade/redis_access.h"

namespace ruo::upgrade {
namespace {

// Deletes `name` when it is ours. Returns true when it no longer exists.
StatusOr<bool> DeleteOwned(ReconcileContext& ctx, const k8s::ResourceRef& ref,
                           const std::string& name) {
  auto obj = ctx.client().Get(ref, ctx.ns(), name);
  if (!obj.ok()) {
    if (k8s::IsNotFound(obj.status())) return true;
    return obj.status();
  }
  const auto labels = k8s::LabelsOf(*obj);
  auto it = labels.find(kOwnerLabel);
  if (it == labels.end() || it->second != ctx.name()) {
    // Not created by this upgrade (e.g. a name conflict it refused): leave it.
    return true;
  }
  if (!obj->value("/metadata/deletionTimestamp"_json_pointer, "").empty()) return false;
  k8s::DeleteOptions opts;
  opts.propagation_policy = "Background";
  opts.precondition_uid = k8s::UidOf(*obj);
  Status s = ctx.client().Delete(ref, ctx.ns(), name, opts);
  if (!s.ok() && !k8s::IsNotFound(s)) return s;
  spdlog::info("upgrade {}: deleting {} {}", ctx.upgrade().Key(), ref.resource, name);
  return k8s::IsNotFound(s);
}

}  // namespace

StatusOr<bool> DeleteNewInstance(ReconcileContext& ctx) {
  const std::string& sts = ctx.doc().s.new_stateful_set;
  bool read_gone = true;
  if (const std::string& read = ctx.doc().s.read_service; !read.empty()) {
    RUO_ASSIGN_OR_RETURN(read_gone, DeleteOwned(ctx, k8s::resources::Services(), read));
  }
  if (sts.empty()) return read_gone;
  RUO_ASSIGN_OR_RETURN(bool sts_gone, DeleteOwned(ctx, k8s::resources::StatefulSets(), sts));
  RUO_ASSIGN_OR_RETURN(bool svc_gone,
                       DeleteOwned(ctx, k8s::resources::Services(), HeadlessServiceNameFor(sts)));
  // Background propagation: the garbage collector removes the pods after the
  // StatefulSet; they are ours while they carry our label.
  k8s::ListOptions lo;
  lo.label_selector = std::string(kOwnerLabel) + "=" + ctx.name();
  RUO_ASSIGN_OR_RETURN(k8s::ListResult pods,
                       ctx.client().List(k8s::resources::Pods(), ctx.ns(), lo));
  return read_gone && sts_gone && svc_gone && pods.items.empty();
}

Status RestoreSyncLimits(ReconcileContext& ctx) {
  const auto saved = ctx.doc().s.sync.saved_config;
  if (saved.empty()) return Status::Ok();
  RUO_ASSIGN_OR_RETURN(OldMaster old, LocateOldMaster(ctx));
  RUO_ASSIGN_OR_RETURN(std::unique_ptr<redis::Admin> admin, ConnectRedis(ctx, old.endpoint));
  RUO_RETURN_IF_ERROR(engine::RestoreConfig(*admin, saved));
  spdlog::info("upgrade {}: restored {} setting(s) on the old master {}", ctx.upgrade().Key(),
               saved.size(), old.pod_name);
  return ctx.Commit([](StatusDoc& d) { d.s.sync.saved_config.clear(); });
}

}  // namespace ruo::upgrade
