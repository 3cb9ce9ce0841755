// Provisioning: create the new StatefulSet and headless Service with the old
// master's settings carried over, wait until every new pod is Ready and runs
// the target version, then check the target against the source.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/precheck.h"
#include "k8s/errors.h"
#include "k8s/resource.h"
#include "redis/version.h"
#include "upgrade/carry_over.h"
#include "upgrade/instance.h"
#include "upgrade/k8s_checks.h"
#include "upgrade/manifests.h"
#include "upgrade/phases.h"
#include "upgrade/pods.h"
#include "upgrade/quantity.h"
#include "upgrade/redis_access.h"
#include "upgrade/refuse.h"
#include "upgrade/source_health.h"

namespace ruo::upgrade {
namespace {

using runtime::Result;

constexpr const char* kNameConflict = "ResourceNameConflict";
constexpr const char* kReadServiceConflict = "ReadServiceConflict";

bool Ours(const ReconcileContext& ctx, const nlohmann::json& obj) {
  const auto labels = k8s::LabelsOf(obj);
  auto it = labels.find(kOwnerLabel);
  return it != labels.end() && it->second == ctx.name();
}

// Creates `obj`; an existing object of that name is adopted when it is ours.
// Returns the refusal message when the name is taken by something else.
StatusOr<std::optional<std::string>> CreateOrAdopt(ReconcileContext& ctx,
                                                   const k8s::ResourceRef& ref,
                                                   const nlohmann::json& obj) {
  auto created = ctx.client().Create(ref, ctx.ns(), obj);
  if (created.ok()) return std::optional<std::string>();
  if (!k8s::IsAlreadyExists(created.status())) return created.status();
  RUO_ASSIGN_OR_RETURN(nlohmann::json existing, ctx.client().Get(ref, ctx.ns(), k8s::NameOf(obj)));
  if (Ours(ctx, existing)) return std::optional<std::string>();
  return std::optional<std::string>(k8s::KindOf(obj) + " " + k8s::NameOf(obj) +
                                    " already exists and was not created by this upgrade");
}

NewInstanceParams Params(ReconcileContext& ctx, const redis::Version& target,
                         const nlohmann::json& service, const OldMaster& old,
                         const std::map<std::string, std::string>& config) {
  const RedisUpgradeSpec& spec = ctx.spec();
  const StatusDoc& d = ctx.doc();
  NewInstanceParams p;
  p.ns = ctx.ns();
  p.upgrade = ctx.name();
  p.service = spec.service;
  p.statefulset = d.s.new_stateful_set;
  p.image =
      spec.image.empty() ? ctx.options().default_image_prefix + spec.target_version : spec.image;
  const int new_replicas = spec.replicas ? *spec.replicas : std::max(0, d.source.replicas);
  p.replicas = 1 + new_replicas;
  p.port = d.source.port > 0 ? d.source.port : 6379;
  if (const nlohmann::json sp = RedisServicePort(service); sp.is_object()) {
    const nlohmann::json port = sp.value("port", nlohmann::json());
    if (port.is_number_integer()) p.service_port = port.get<int>();
  }
  const std::string port_name = TargetPortName(service);
  if (!port_name.empty()) p.port_name = port_name;
  p.carried = CarryOverArgs(config, target);
  p.auth = spec.auth;
  const nlohmann::json container = RedisContainer(old.pod, p.port);
  if (auto it = container.find("resources"); it != container.end() && it->is_object()) {
    p.resources = *it;
  }
  p.target = target;
  p.original_selector = d.s.original_selector;
  return p;
}

// Creates the new objects from the old master's settings.
Result Create(ReconcileContext& ctx, const redis::Version& target) {
  auto old = LocateOldMaster(ctx);
  if (!old.ok()) return OnSourceTrouble(ctx, old.status());
  auto admin = ConnectRedis(ctx, old->endpoint);
  if (!admin.ok()) return OnSourceTrouble(ctx, admin.status());
  auto config = ReadCarriedConfig(**admin);
  if (!config.ok()) return OnSourceTrouble(ctx, config.status());
  auto service = ctx.client().Get(k8s::resources::Services(), ctx.ns(), ctx.spec().service);
  if (!service.ok()) return Result::Error(service.status());

  const NewInstanceParams p = Params(ctx, target, *service, *old, *config);
  auto svc = CreateOrAdopt(ctx, k8s::resources::Services(), BuildHeadlessService(p));
  if (!svc.ok()) return Result::Error(svc.status());
  if (*svc) return Refuse(ctx, kNameConflict, **svc);
  // Before the StatefulSet: once that exists, Create is not called again.
  const std::string& read_name = ctx.doc().s.read_service;
  if (!read_name.empty()) {
    auto read = CreateOrAdopt(ctx, k8s::resources::Services(), BuildReadService(p, read_name));
    if (!read.ok()) return Result::Error(read.status());
    if (*read) return Refuse(ctx, kReadServiceConflict, **read);
  }
  auto sts = CreateOrAdopt(ctx, k8s::resources::StatefulSets(), BuildStatefulSet(p));
  if (!sts.ok()) return Result::Error(sts.status());
  if (*sts) return Refuse(ctx, kNameConflict, **sts);
  ctx.Event("Provisioning", "created StatefulSet " + p.statefulset + " (" +
                                std::to_string(p.replicas) + " pod(s), image " + p.image +
                                ") and headless Service " + HeadlessServiceNameFor(p.statefulset) +
                                (read_name.empty() ? "" : ", read Service " + read_name));
  return Result::RequeueAfter(ctx.options().provision_poll_interval, "new pods starting");
}

Result Waiting(ReconcileContext& ctx, const std::string& message) {
  const std::string now = ctx.Now();
  Status s =
      ctx.CommitProgress([&](StatusDoc& d) { TxProgress(d, "WaitingForPods", message, now); });
  if (!s.ok()) return Result::Error(s);
  return Result::RequeueAfter(ctx.options().provision_poll_interval, message);
}

}  // namespace

Result Provision(ReconcileContext& ctx) {
  if (ctx.phase() != Phase::kProvisioning) return Result::Continue();
  const RedisUpgradeSpec& spec = ctx.spec();
  auto target = redis::Version::Parse(spec.target_version);
  if (!target.ok()) return Refuse(ctx, "InvalidTargetVersion", target.status().message());

  // The names go to status before anything is created, so a restarted
  // operator (or the finalizer) always knows what to look for.
  if (ctx.doc().s.new_stateful_set.empty()) {
    const std::string name = StatefulSetNameFor(spec.service, *target);
    const std::string read_name = spec.read_service ? spec.read_service->name : "";
    Status s = ctx.Commit([&](StatusDoc& d) {
      TxNewStatefulSet(d, name);
      TxReadService(d, read_name);
    });
    if (!s.ok()) return Result::Error(s);
  }
  const std::string sts_name = ctx.doc().s.new_stateful_set;

  auto sts = ctx.client().Get(k8s::resources::StatefulSets(), ctx.ns(), sts_name);
  if (!sts.ok()) {
    if (k8s::IsNotFound(sts.status())) return Create(ctx, *target);
    return Result::Error(sts.status());
  }
  if (!Ours(ctx, *sts)) {
    return Refuse(
        ctx, kNameConflict,
        "StatefulSet " + sts_name + " already exists and was not created by this upgrade");
  }

  // Every pod Running and Ready with an IP.
  const int size = sts->value("/spec/replicas"_json_pointer, 1);
  int ready = 0;
  std::string why;
  std::optional<NewPodProblem> problem;
  for (int i = 0; i < size; ++i) {
    const std::string pod_name = PodNameFor(sts_name, i);
    auto pod = ctx.client().Get(k8s::resources::Pods(), ctx.ns(), pod_name);
    if (!pod.ok() && !k8s::IsNotFound(pod.status())) return Result::Error(pod.status());
    if (pod.ok() && IsPodReady(*pod)) {
      ++ready;
      continue;
    }
    if (why.empty()) {
      const std::string detail = pod.ok() ? PodWaitingReason(*pod) : "not created yet";
      why = pod_name + (detail.empty() ? " not ready" : ": " + detail);
    }
    if (!problem && pod.ok()) problem = CheckNewPodStarts(*pod);
  }
  // A pod that cannot pull its image or start would keep Provisioning waiting
  // for ever: name it, and refuse once it lasts (at once when it cannot clear).
  if (problem) {
    if (problem->permanent) return Refuse(ctx, problem->refusal.reason, problem->refusal.message);
    return WaitOrRefuse(ctx, problem->refusal.reason, problem->refusal.message,
                        ctx.options().new_pod_failure_grace, ctx.options().provision_poll_interval);
  }
  for (const char* cleared : {"ImagePullFailed", "NewPodFailing"}) {
    if (!DegradedSince(ctx.doc(), cleared)) continue;
    const std::string now = ctx.Now();
    Status s = ctx.Commit([&](StatusDoc& d) { TxClearDegraded(d, now, cleared); });
    if (!s.ok()) return Result::Error(s);
  }
  if (ready < size) {
    return Waiting(
        ctx, std::to_string(ready) + "/" + std::to_string(size) + " new pods ready (" + why + ")");
  }

  // Each new server runs the target version.
  std::optional<redis::Info> master_info;
  for (int i = 0; i < size; ++i) {
    auto ep = NewPodEndpoint(ctx, i);
    if (!ep.ok()) return Result::Error(ep.status());
    auto admin = ConnectRedis(ctx, *ep);
    if (!admin.ok())
      return Waiting(ctx, "pod " + PodNameFor(sts_name, i) + ": " + admin.status().message());
    auto info = (*admin)->GetInfo();
    if (!info.ok())
      return Waiting(ctx, "pod " + PodNameFor(sts_name, i) + ": " + info.status().message());
    if (!target->MatchedBy(info->server.version)) {
      return Refuse(ctx, "TargetVersionMismatch",
                    "pod " + PodNameFor(sts_name, i) + " runs Redis " + info->server.redis_version +
                        " but version " + spec.target_version + " was requested (image " +
                        sts->value("/spec/template/spec/containers/0/image"_json_pointer, "") +
                        ")");
    }
    if (i == 0) master_info = std::move(info).value();
  }

  // The target exists now: check it against the source.
  auto old = LocateOldMaster(ctx);
  if (!old.ok()) return OnSourceTrouble(ctx, old.status());
  auto old_admin = ConnectRedis(ctx, old->endpoint);
  if (!old_admin.ok()) return OnSourceTrouble(ctx, old_admin.status());
  auto source_info = (*old_admin)->GetInfo();
  if (!source_info.ok()) return OnSourceTrouble(ctx, source_info.status());
  engine::PrecheckInput in;
  in.source = *source_info;
  in.target = master_info;
  in.requested_target = *target;
  in.allow_same_version = spec.allow_same_version;
  in.source_memory_limit_bytes = MemoryLimitBytes(RedisContainer(old->pod, old->endpoint.port));
  const nlohmann::json containers =
      sts->value("/spec/template/spec/containers"_json_pointer, nlohmann::json::array());
  in.target_memory_limit_bytes = containers.empty() ? 0 : MemoryLimitBytes(containers[0]);
  // A BGSAVE started since Validating is no reason to stop: the full sync waits for it.
  if (auto r = engine::RunPrechecks(in, engine::RefusalPrechecks())) {
    return Refuse(ctx, r->reason, r->message);
  }

  const std::string master_pod = PodNameFor(sts_name, 0);
  const std::string version = master_info->server.redis_version;
  if (Status s = ctx.Commit([&](StatusDoc& d) { TxNewMaster(d, master_pod, version); }); !s.ok()) {
    return Result::Error(s);
  }
  Status s =
      ctx.EnterPhase(Phase::kSyncing, "Provisioned",
                     std::to_string(size) + " new pod(s) ready with Redis " + version + "; " +
                         master_pod + " replicates the old master " + ctx.doc().s.old_master_pod);
  if (!s.ok()) return Result::Error(s);
  return Result::Continue();
}

}  // namespace ruo::upgrade
