// The RedisUpgrade reconciler: fetch, deletion/finalizer, then the phases in
// order. Level-triggered: everything is re-derived from the API server and the
// object's status on every call, so the operator may be killed at any instant.
#include "upgrade/reconciler.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "k8s/errors.h"
#include "k8s/resource.h"
#include "upgrade/context.h"
#include "upgrade/phases.h"
#include "upgrade/status_writer.h"
#include "upgrade/test_hooks.h"

namespace ruo::upgrade {

using runtime::Result;

class UpgradeReconciler::Impl {
 public:
  Impl(k8s::Client& client, k8s::EventRecorder& events, redis::Dialer& dialer, Clock& clock,
       UpgradeMetrics& metrics, ReconcilerOptions options)
      : options_(std::move(options)),
        step_delay_(ParseSwitchStepDelay(StepDelaySpec(options_))),
        phase_delay_(ParsePhaseDelay(PhaseDelaySpec(options_))),
        throttle_(options_.status_progress_interval),
        deps_{client,   events,      dialer,    clock,       metrics,
              options_, step_delay_, throttle_, phase_delay_} {}

  Result Reconcile(const std::string& key) {
    const size_t slash = key.find('/');
    if (slash == std::string::npos) {
      return Result::Terminal(InvalidArgument("bad key \"" + key + "\"", "InvalidKey"));
    }
    const std::string ns = key.substr(0, slash);
    const std::string name = key.substr(slash + 1);

    auto obj = deps_.client.Get(k8s::resources::RedisUpgrades(), ns, name);
    if (!obj.ok()) {
      if (k8s::IsNotFound(obj.status())) {
        deps_.metrics.Forget(ns, name);
        throttle_.Forget(key);
        return Result::Done();
      }
      return Result::Error(obj.status());
    }
    auto writer = StatusWriter::FromObject(deps_.client, std::move(obj).value());
    if (!writer.ok()) {
      // The CRD schema makes this unlikely; nothing can be done until it is fixed.
      spdlog::error("upgrade {}: unreadable object: {}", key, writer.status().ToString());
      return Result::Terminal(writer.status());
    }
    ReconcileContext ctx(deps_, **writer);

    if (ctx.upgrade().being_deleted) return Finalize(ctx);
    if (!IsTerminal(ctx.phase()) && !ctx.upgrade().HasFinalizer()) {
      if (Status s = AddFinalizer(ctx); !s.ok()) return Result::Error(s);
    }
    deps_.metrics.SetPhase(ns, name, std::string(PhaseName(ctx.phase())));
    if (IsTerminal(ctx.phase())) return Result::Done();

    RUO_PHASE(Validate(ctx));
    RUO_PHASE(Provision(ctx));
    RUO_PHASE(Sync(ctx));
    RUO_PHASE(WaitForSwitch(ctx));
    RUO_PHASE(Switch(ctx));
    return Result::Done();
  }

 private:
  static std::string StepDelaySpec(const ReconcilerOptions& o) {
    if (!o.test_switch_step_delay.empty()) return o.test_switch_step_delay;
    const char* env = std::getenv(kSwitchStepDelayEnv);
    return env != nullptr ? env : "";
  }

  static std::string PhaseDelaySpec(const ReconcilerOptions& o) {
    if (!o.test_phase_delay.empty()) return o.test_phase_delay;
    const char* env = std::getenv(kPhaseDelayEnv);
    return env != nullptr ? env : "";
  }

  // Before anything is touched, so a deletion always gets the chance to clean up.
  Status AddFinalizer(ReconcileContext& ctx) {
    std::vector<std::string> finalizers = ctx.upgrade().finalizers;
    finalizers.push_back(kFinalizer);
    // resourceVersion makes the patch conditional: a stale read gets a 409.
    const nlohmann::json patch = {
        {"metadata",
         {{"finalizers", finalizers}, {"resourceVersion", ctx.upgrade().resource_version}}}};
    RUO_ASSIGN_OR_RETURN(
        nlohmann::json updated,
        deps_.client.MergePatch(k8s::resources::RedisUpgrades(), ctx.ns(), ctx.name(), patch));
    return ctx.writer().Adopt(std::move(updated));
  }

  const ReconcilerOptions options_;
  const SwitchStepDelay step_delay_;
  const PhaseDelay phase_delay_;
  StatusThrottle throttle_;
  const ReconcileDeps deps_;
};

UpgradeReconciler::UpgradeReconciler(k8s::Client& client, k8s::EventRecorder& events,
                                     redis::Dialer& dialer, Clock& clock, UpgradeMetrics& metrics,
                                     ReconcilerOptions options)
    : impl_(std::make_unique<Impl>(client, events, dialer, clock, metrics, std::move(options))) {}

UpgradeReconciler::~UpgradeReconciler() = default;

runtime::Result UpgradeReconciler::Reconcile(const std::string& key) {
  return impl_->Reconcile(key);
}

}  // namespace ruo::upgrade
