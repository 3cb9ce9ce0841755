// The RedisUpgrade reconciler: fetch, deletion/finalizer, then a straight
// sequence of phase functions (docs/architecture.md, docs/switch-protocol.md). Level-triggered: it
// reads everything it needs from the API server and from the object's status.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/clock.h"
#include "k8s/client.h"
#include "k8s/events.h"
#include "redis/connection.h"
#include "runtime/controller.h"
#include "upgrade/upgrade_metrics.h"

namespace ruo::upgrade {

struct ReconcilerOptions {
  // How often lag is re-polled while Syncing / WaitingForSwitch.
  std::chrono::milliseconds sync_poll_interval{1000};
  // Progress figures (lag, bytes left, waiting message) reach status at most
  // this often; other status changes are written at once (status_throttle.h).
  std::chrono::milliseconds status_progress_interval{5000};
  // How often pods are re-checked while Provisioning.
  std::chrono::milliseconds provision_poll_interval{1000};
  // Redis connection timeouts for the operator's admin connections.
  std::chrono::milliseconds redis_connect_timeout{2000};
  std::chrono::milliseconds redis_command_timeout{5000};
  // Image for the new pods when spec.image is empty: prefix + targetVersion.
  std::string default_image_prefix = "redis:";
  // Switch protocol knobs (see engine::SwitchOptions); max read-only comes from the spec.
  // After the selector patch the old master's clients are closed until the
  // Service's EndpointSlices list only new pods: for at least client_kill_min,
  // at most client_kill_max.
  std::chrono::milliseconds client_kill_min{200};
  std::chrono::milliseconds client_kill_max{30000};
  // Validating refuses with MasterUnreachable once no pod behind the Service
  // has answered for this long (a master may be restarting).
  std::chrono::seconds master_unreachable_grace{30};
  // Validating waits (reason SourceBusy) while the old master runs a BGSAVE,
  // an AOF rewrite or is loading, and refuses once that has lasted this long.
  std::chrono::seconds source_busy_grace{1800};
  // Provisioning refuses (ImagePullFailed / NewPodFailing) once a new pod has
  // failed to pull its image or start its container for this long; the
  // Degraded condition names the reason meanwhile.
  std::chrono::seconds new_pod_failure_grace{60};
  // After Validating, an old master that does not answer for this long fails
  // the upgrade with SourceLost (a vanished or replaced pod fails it at once).
  std::chrono::seconds source_lost_grace{60};
  // Deletion retries restoring the old master's settings this long, then gives
  // up with a Warning Event so the object can go.
  std::chrono::seconds cleanup_grace{60};
  // TEST ONLY (see upgrade/test_hooks.h): "<SwitchStep>:<ms>" pauses the switch
  // after that step is persisted. Empty: taken from $RUO_TEST_SWITCH_STEP_DELAY.
  std::string test_switch_step_delay;
  // TEST ONLY: "<Phase>:<ms>" pauses after the transition into that phase is
  // persisted. Empty: taken from $RUO_TEST_PHASE_DELAY.
  std::string test_phase_delay;
};

class UpgradeReconciler final : public runtime::Reconciler {
 public:
  // All references must outlive the reconciler.
  UpgradeReconciler(k8s::Client& client, k8s::EventRecorder& events, redis::Dialer& dialer,
                    Clock& clock, UpgradeMetrics& metrics, ReconcilerOptions options = {});
  ~UpgradeReconciler() override;

  runtime::Result Reconcile(const std::string& key) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ruo::upgrade
