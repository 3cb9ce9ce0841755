// Everything one reconcile of one RedisUpgrade works with: the injected
// dependencies, the object and its status writer, and small helpers that
// keep every phase change paired with its Event and metric.
#pragma once

#include <optional>
#include <string>

#include "common/clock.h"
#include "k8s/client.h"
#include "k8s/events.h"
#include "redis/connection.h"
#include "upgrade/reconciler.h"
#include "upgrade/status_throttle.h"
#include "upgrade/status_writer.h"
#include "upgrade/test_hooks.h"
#include "upgrade/upgrade_metrics.h"

namespace ruo::upgrade {

struct ReconcileDeps {
  k8s::Client& client;
  k8s::EventRecorder& events;
  redis::Dialer& dialer;
  Clock& clock;
  UpgradeMetrics& metrics;
  const ReconcilerOptions& options;
  const SwitchStepDelay& step_delay;  // test only
  StatusThrottle& throttle;
  const PhaseDelay& phase_delay;  // test only
};

class ReconcileContext {
 public:
  ReconcileContext(const ReconcileDeps& deps, StatusWriter& writer)
      : deps_(deps), writer_(writer) {}

  const ReconcileDeps& deps() const { return deps_; }
  k8s::Client& client() const { return deps_.client; }
  Clock& clock() const { return deps_.clock; }
  const ReconcilerOptions& options() const { return deps_.options; }
  StatusWriter& writer() { return writer_; }

  const RedisUpgrade& upgrade() const { return writer_.upgrade(); }
  const RedisUpgradeSpec& spec() const { return writer_.upgrade().spec; }
  const StatusDoc& doc() const { return writer_.doc(); }
  Phase phase() const { return writer_.doc().s.phase; }
  const std::string& ns() const { return writer_.upgrade().ns; }
  const std::string& name() const { return writer_.upgrade().name; }
  std::string Now() const { return Rfc3339(deps_.clock.Now()); }

  // Writes status; a commit that changes the phase runs the phase test hook.
  Status Commit(const StatusTx& tx);
  // Commit for progress figures: skipped while only they changed and the last
  // such write is recent (StatusThrottle).
  Status CommitProgress(const StatusTx& tx);
  // Phase change (TxEnterPhase) + a Normal Event with `reason` + the phase metric.
  Status EnterPhase(Phase phase, const std::string& reason, const std::string& message);
  // Best effort: a failed Event is logged, never fails the reconcile.
  void Event(const std::string& reason, const std::string& message);
  void Warning(const std::string& reason, const std::string& message);

  // The Redis password from spec.auth's Secret (nullopt without auth), read
  // once per reconcile. Errors: FailedPrecondition SecretNotFound /
  // SecretKeyNotFound, or the API error.
  StatusOr<std::optional<std::string>> Password();

 private:
  void Record(const std::string& type, const std::string& reason, const std::string& message);

  const ReconcileDeps& deps_;
  StatusWriter& writer_;
  std::optional<std::optional<std::string>> password_;
};

}  // namespace ruo::upgrade
