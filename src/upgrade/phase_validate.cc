// Validating: the pre-checks (docs/troubleshooting.md), Kubernetes-level policies
// (k8s_checks.h) then the Redis-level chain (engine::RunPrechecks). A refusal
// fails the upgrade before anything is created; transient trouble is retried.
#include <spdlog/spdlog.h>

#include "engine/precheck.h"
#include "k8s/errors.h"
#include "k8s/resource.h"
#include "redis/version.h"
#include "upgrade/k8s_checks.h"
#include "upgrade/manifests.h"
#include "upgrade/phases.h"
#include "upgrade/pods.h"
#include "upgrade/quantity.h"
#include "upgrade/redis_access.h"
#include "upgrade/refuse.h"
#include "upgrade/status_tx.h"

namespace ruo::upgrade {
namespace {

using runtime::Result;

constexpr const char* kMasterUnreachable = "MasterUnreachable";
constexpr const char* kReadServiceConflict = "ReadServiceConflict";

Result RefuseWith(ReconcileContext& ctx, const engine::Refusal& r) {
  return Refuse(ctx, r.reason, r.message);
}

// A master that does not answer may be restarting: retry within the grace
// period (tracked by the Degraded condition's transition time), then refuse.
Result Unreachable(ReconcileContext& ctx, const std::string& message, const Status& cause) {
  const auto since = DegradedSince(ctx.doc(), kMasterUnreachable);
  const auto now = ctx.clock().Now();
  if (since && now - *since >= ctx.options().master_unreachable_grace) {
    return Refuse(ctx, kMasterUnreachable, message);
  }
  if (!since) {
    const std::string now_text = ctx.Now();
    Status s =
        ctx.Commit([&](StatusDoc& d) { TxSetDegraded(d, kMasterUnreachable, message, now_text); });
    if (!s.ok()) return Result::Error(s);
  }
  return Result::Error(Unavailable(message + ": " + cause.message(), kMasterUnreachable));
}

// spec.readService must not name a Service that is not this upgrade's (one
// of ours is adopted by Provisioning), nor the headless Service it creates.
Result CheckReadService(ReconcileContext& ctx, const redis::Version& target) {
  const RedisUpgradeSpec& spec = ctx.spec();
  if (!spec.read_service) return Result::Continue();
  const std::string& name = spec.read_service->name;
  if (name == HeadlessServiceNameFor(StatefulSetNameFor(spec.service, target))) {
    return Refuse(ctx, kReadServiceConflict,
                  "readService " + name + " is the name of the new headless Service");
  }
  auto existing = ctx.client().Get(k8s::resources::Services(), ctx.ns(), name);
  if (!existing.ok()) {
    if (k8s::IsNotFound(existing.status())) return Result::Continue();
    return Result::Error(existing.status());
  }
  const auto labels = k8s::LabelsOf(*existing);
  auto it = labels.find(kOwnerLabel);
  if (it == labels.end() || it->second != ctx.name()) {
    return Refuse(ctx, kReadServiceConflict,
                  "readService: Service " + name + " already exists in namespace " + ctx.ns() +
                      " and was not created by this upgrade");
  }
  return Result::Continue();
}

struct FoundMaster {
  ReadyPod pod;
  int port = 0;
  redis::Info info;
};

}  // namespace

Result Validate(ReconcileContext& ctx) {
  const RedisUpgradeSpec& spec = ctx.spec();
  if (ctx.phase() == Phase::kPending) {
    Status s = ctx.EnterPhase(Phase::kValidating, "Validating",
                              "checking Service " + spec.service + " and its Redis master");
    if (!s.ok()) return Result::Error(s);
  }
  if (ctx.phase() != Phase::kValidating) return Result::Continue();

  // The spec alone: nothing to read for these.
  if (auto r = CheckUpgradeName(ctx.name())) return RefuseWith(ctx, *r);
  if (auto r = CheckTargetVersionSpec(spec)) return RefuseWith(ctx, *r);
  if (auto r = CheckWindowSpec(spec)) return RefuseWith(ctx, *r);
  const redis::Version target = *redis::Version::Parse(spec.target_version);

  auto svc = ctx.client().Get(k8s::resources::Services(), ctx.ns(), spec.service);
  if (!svc.ok()) {
    if (k8s::IsNotFound(svc.status())) {
      return Refuse(ctx, "ServiceNotFound",
                    "Service " + spec.service + " does not exist in namespace " + ctx.ns());
    }
    return Result::Error(svc.status());
  }
  if (auto r = CheckServiceSelector(*svc)) return RefuseWith(ctx, *r);
  if (Result r = CheckReadService(ctx, target); !r.IsContinue()) return r;
  const auto selector = StringMap(svc->value("/spec/selector"_json_pointer, nlohmann::json{}));

  auto upgrades = ctx.client().List(k8s::resources::RedisUpgrades(), ctx.ns(), {});
  if (!upgrades.ok()) return Result::Error(upgrades.status());
  const UpgradeConflict conflict = CheckNoOlderUpgrade(ctx.writer().object(), upgrades->items);
  if (conflict.refusal) return RefuseWith(ctx, *conflict.refusal);
  if (conflict.wait) {
    return Result::RequeueAfter(ctx.options().provision_poll_interval,
                                "an older upgrade of the same Service is being deleted");
  }

  if (auto pw = ctx.Password(); !pw.ok()) {
    if (pw.status().code() == StatusCode::kFailedPrecondition) {
      return Refuse(ctx, pw.status().reason(), pw.status().message());
    }
    return Result::Error(pw.status());
  }

  k8s::ListOptions lo;
  lo.label_selector = k8s::LabelSelectorFromMap(selector);
  auto pods = ctx.client().List(k8s::resources::Pods(), ctx.ns(), lo);
  if (!pods.ok()) return Result::Error(pods.status());
  const std::vector<ReadyPod> ready = ReadyPods(pods->items);
  if (auto r = CheckHasReadyPods(spec.service, ready)) return RefuseWith(ctx, *r);

  // Ask every ready pod behind the selector for its role.
  std::vector<PodRole> roles;
  std::optional<FoundMaster> master;
  Status unreachable;
  for (const ReadyPod& pod : ready) {
    auto port = ResolveTargetPort(*svc, pod.pod);
    if (!port.ok()) return Refuse(ctx, port.status().reason(), port.status().message());
    const redis::Endpoint ep{pod.ip, *port};
    auto admin = ConnectRedis(ctx, ep);
    // The default sections hold all the checks need (cluster_enabled included).
    StatusOr<redis::Info> info =
        admin.ok() ? (*admin)->GetInfo() : StatusOr<redis::Info>(admin.status());
    if (!info.ok()) {
      const Status& s = info.status();
      if (s.code() == StatusCode::kUnauthenticated) {
        const std::string reason = s.reason().empty() ? "AuthFailed" : s.reason();
        return Refuse(ctx, reason, "pod " + pod.name + ": " + s.message());
      }
      spdlog::warn("upgrade {}: pod {} ({}) does not answer: {}", ctx.upgrade().Key(), pod.name,
                   ep.ToString(), s.ToString());
      roles.push_back({pod.name, ""});
      unreachable = s;
      continue;
    }
    roles.push_back({pod.name, info->replication.role});
    if (info->replication.role == "master" && !master) {
      master = FoundMaster{pod, *port, std::move(info).value()};
    }
  }
  if (auto r = CheckSingleMaster(spec.service, roles)) return RefuseWith(ctx, *r);
  if (!master) {
    return Unreachable(ctx, "no ready pod behind Service " + spec.service + " answers",
                       unreachable);
  }

  // Redis-level checks of the source against the requested target.
  const nlohmann::json container = RedisContainer(master->pod.pod, master->port);
  const int64_t memory_limit = MemoryLimitBytes(container);
  engine::PrecheckInput in;
  in.source = master->info;
  in.requested_target = target;
  in.allow_same_version = spec.allow_same_version;
  in.source_memory_limit_bytes = memory_limit;
  // The new pods get the old master's resources (manifests.h).
  in.target_memory_limit_bytes = memory_limit;
  if (auto r = engine::RunPrechecks(in, engine::RefusalPrechecks())) return RefuseWith(ctx, *r);
  // A BGSAVE, AOF rewrite or load ends by itself: wait it out with the reason
  // named (nothing is created meanwhile) rather than make the user re-create
  // the upgrade because a scheduled snapshot happened to be running.
  if (auto busy = engine::CheckNoBackgroundSave(in)) {
    return WaitOrRefuse(ctx, busy->reason, busy->message, ctx.options().source_busy_grace,
                        ctx.options().provision_poll_interval);
  }

  // Accepted, but said: the rules of an older line are assumed.
  const std::vector<std::string> warnings = engine::UncheckedVersionWarnings(in);
  for (const std::string& w : warnings) ctx.Warning(kNewerThanChecked, w);

  SourceFindings f;
  f.source_version = master->info.server.redis_version;
  f.target_version = spec.target_version;
  f.old_master_pod = master->pod.name;
  f.original_selector = selector;
  f.source.pod_uid = master->pod.uid;
  f.source.pod_ip = master->pod.ip;
  f.source.port = master->port;
  f.source.replicas = master->info.replication.connected_slaves;
  const std::string now = ctx.Now();
  if (Status s = ctx.Commit([&](StatusDoc& d) {
        TxRecordSource(d, f);
        TxVersionWarnings(d, warnings, now);
      });
      !s.ok()) {
    return Result::Error(s);
  }
  Status s =
      ctx.EnterPhase(Phase::kProvisioning, "ChecksPassed",
                     "pre-checks passed: Redis " + f.source_version + " on pod " +
                         f.old_master_pod + " (" + master->pod.ip + ":" +
                         std::to_string(master->port) + ", " + std::to_string(f.source.replicas) +
                         " replica(s)); provisioning Redis " + spec.target_version);
  if (!s.ok()) return Result::Error(s);
  return Result::Continue();
}

}  // namespace ruo::upgrade
