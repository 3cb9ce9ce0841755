#include "upgrade/instance.h"

#include "k8s/errors.h"
#include "k8s/resource.h"
#include "upgrade/manifests.h"

namespace ruo::upgrade {

StatusOr<OldMaster> LocateOldMaster(ReconcileContext& ctx) {
  const StatusDoc& d = ctx.doc();
  if (d.s.old_master_pod.empty()) {
    return FailedPrecondition("status.oldMasterPod is not recorded", "InvalidStatus");
  }
  auto pod = ctx.client().Get(k8s::resources::Pods(), ctx.ns(), d.s.old_master_pod);
  if (!pod.ok()) {
    if (k8s::IsNotFound(pod.status())) {
      return FailedPrecondition("the old master pod " + d.s.old_master_pod + " is gone",
                                kSourceLost);
    }
    return pod.status();
  }
  if (!d.source.pod_uid.empty() && k8s::UidOf(*pod) != d.source.pod_uid) {
    return FailedPrecondition(
        "the old master pod " + d.s.old_master_pod + " was replaced by a new pod of the same name",
        kSourceLost);
  }
  const std::string ip = pod->value("/status/podIP"_json_pointer, "");
  if (ip.empty()) {
    return Unavailable("the old master pod " + d.s.old_master_pod + " has no IP", "SourceNotReady");
  }
  OldMaster m;
  m.pod_name = d.s.old_master_pod;
  m.endpoint = redis::Endpoint{ip, d.source.port > 0 ? d.source.port : 6379};
  m.pod = std::move(pod).value();
  return m;
}

StatusOr<redis::Endpoint> NewPodEndpoint(ReconcileContext& ctx, int ordinal) {
  const std::string name = PodNameFor(ctx.doc().s.new_stateful_set, ordinal);
  RUO_ASSIGN_OR_RETURN(nlohmann::json pod,
                       ctx.client().Get(k8s::resources::Pods(), ctx.ns(), name));
  const std::string ip = pod.value("/status/podIP"_json_pointer, "");
  if (ip.empty()) return Unavailable("pod " + name + " has no IP yet", "PodNotReady");
  return redis::Endpoint{ip, ctx.doc().source.port > 0 ? ctx.doc().source.port : 6379};
}

StatusOr<int> NewInstanceSize(ReconcileContext& ctx) {
  RUO_ASSIGN_OR_RETURN(
      nlohmann::json sts,
      ctx.client().Get(k8s::resources::StatefulSets(), ctx.ns(), ctx.doc().s.new_stateful_set));
  return sts.value("/spec/replicas"_json_pointer, 1);
}

}  // namespace ruo::upgrade
