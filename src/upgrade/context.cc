#include "upgrade/context.h"

#include <spdlog/spdlog.h>

#include "k8s/errors.h"
#include "upgrade/k8s_checks.h"

namespace ruo::upgrade {

Status ReconcileContext::EnterPhase(Phase phase, const std::string& reason,
                                    const std::string& message) {
  const bool changed = this->phase() != phase;
  const std::string now = Now();
  RUO_RETURN_IF_ERROR(Commit([&](StatusDoc& d) { TxEnterPhase(d, phase, reason, message, now); }));
  deps_.metrics.SetPhase(ns(), name(), std::string(PhaseName(phase)));
  if (changed) {
    spdlog::info("upgrade {}: phase {} ({}): {}", upgrade().Key(), PhaseName(phase), reason,
                 message);
    Event(reason, message);
  }
  return Status::Ok();
}

Status ReconcileContext::Commit(const StatusTx& tx) {
  const Phase before = phase();
  RUO_RETURN_IF_ERROR(writer_.Commit(tx));
  const PhaseDelay& hook = deps_.phase_delay;
  if (phase() != before && hook.phase && *hook.phase == phase() && hook.delay.count() > 0) {
    spdlog::warn("TEST HOOK {}: pausing {} ms after entering phase {}", kPhaseDelayEnv,
                 hook.delay.count(), PhaseName(phase()));
    deps_.clock.SleepFor(hook.delay);
  }
  return Status::Ok();
}

Status ReconcileContext::CommitProgress(const StatusTx& tx) {
  StatusDoc next = doc();
  tx(next);
  const auto now = deps_.clock.Monotonic();
  if (!deps_.throttle.Due(upgrade().Key(), doc(), next, now)) return Status::Ok();
  RUO_RETURN_IF_ERROR(Commit(tx));
  deps_.throttle.Wrote(upgrade().Key(), now);
  return Status::Ok();
}

void ReconcileContext::Event(const std::string& reason, const std::string& message) {
  Record("Normal", reason, message);
}

void ReconcileContext::Warning(const std::string& reason, const std::string& message) {
  spdlog::warn("upgrade {}: {}: {}", upgrade().Key(), reason, message);
  Record("Warning", reason, message);
}

void ReconcileContext::Record(const std::string& type, const std::string& reason,
                              const std::string& message) {
  k8s::EventInfo info;
  info.type = type;
  info.reason = reason;
  info.message = message;
  Status s = deps_.events.Record(writer_.object(), info);
  if (!s.ok()) spdlog::warn("upgrade {}: event {}: {}", upgrade().Key(), reason, s.ToString());
}

StatusOr<std::optional<std::string>> ReconcileContext::Password() {
  if (password_) return *password_;
  const auto& auth = spec().auth;
  if (!auth) {
    password_ = std::optional<std::string>();
    return *password_;
  }
  auto secret = deps_.client.Get(k8s::resources::Secrets(), ns(), auth->name);
  if (!secret.ok()) {
    if (k8s::IsNotFound(secret.status())) {
      return FailedPrecondition("Secret " + auth->name + " (spec.auth.secretRef) does not exist",
                                "SecretNotFound");
    }
    return secret.status();
  }
  RUO_ASSIGN_OR_RETURN(std::string value, SecretValue(*secret, auth->key));
  password_ = std::optional<std::string>(std::move(value));
  return *password_;
}

}  // namespace ruo::upgrade
