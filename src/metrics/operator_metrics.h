// The operator's Prometheus metrics: the controller loop, the work queue, the
// upgrades themselves (upgrade::UpgradeMetrics) and leadership. prometheus-cpp
// stays behind this class: callers see plain values, never its types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "upgrade/upgrade_metrics.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace ruo::metrics {

// Values of the `result` label of redisupgrade_reconcile_total.
inline constexpr std::string_view kResultSuccess = "success";
inline constexpr std::string_view kResultRequeue = "requeue";
inline constexpr std::string_view kResultError = "error";
inline constexpr std::string_view kResultTerminal = "terminal";

// Thread-safe.
class OperatorMetrics final : public upgrade::UpgradeMetrics {
 public:
  OperatorMetrics();
  ~OperatorMetrics() override;
  OperatorMetrics(const OperatorMetrics&) = delete;
  OperatorMetrics& operator=(const OperatorMetrics&) = delete;

  // One finished reconcile. `result` is one of the kResult* words; error and
  // terminal results also count in redisupgrade_reconcile_errors_total.
  void ObserveReconcile(std::string_view result, double seconds);
  void SetWorkqueueDepth(size_t depth);
  void ObserveWorkqueueLatency(double seconds);
  void SetLeader(bool leader);

  // upgrade::UpgradeMetrics
  void SetPhase(const std::string& ns, const std::string& name, const std::string& phase) override;
  void SetLagBytes(const std::string& ns, const std::string& name, int64_t bytes) override;
  void ObserveWriteBlocked(double seconds) override;
  void IncSwitchAttempts(const std::string& ns, const std::string& name) override;
  void Forget(const std::string& ns, const std::string& name) override;

  // The Prometheus text exposition of everything above (what /metrics serves).
  std::string ScrapeText() const;
  // For the HTTP exposer (metrics_server.h).
  std::shared_ptr<prometheus::Registry> registry() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ruo::metrics
