#include "metrics/operator_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <mutex>
#include <utility>

namespace ruo::metrics {
namespace {

// Every phase gets a series per upgrade, so `redisupgrade_phase == 1` selects
// the current one and dashboards see transitions as 1 → 0 flips.
constexpr const char* kPhases[] = {"Pending",          "Validating", "Provisioning", "Syncing",
                                   "WaitingForSwitch", "Switching",  "Completed",    "Failed"};

prometheus::Histogram::BucketBoundaries ReconcileBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}
prometheus::Histogram::BucketBoundaries QueueLatencyBuckets() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60};
}
// The read-only window: well under a millisecond on 6.2+ up to the 60 s bound.
prometheus::Histogram::BucketBoundaries WriteBlockedBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace

struct OperatorMetrics::Impl {
  using UpgradeId = std::pair<std::string, std::string>;  // namespace, name

  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& reconcile_total =
      prometheus::BuildCounter()
          .Name("redisupgrade_reconcile_total")
          .Help("Reconciles of RedisUpgrade objects, by result.")
          .Register(*registry);
  prometheus::Counter& reconcile_errors =
      prometheus::BuildCounter()
          .Name("redisupgrade_reconcile_errors_total")
          .Help("Reconciles that ended in an error (retried or terminal).")
          .Register(*registry)
          .Add({});
  prometheus::Histogram& reconcile_duration = prometheus::BuildHistogram()
                                                  .Name("redisupgrade_reconcile_duration_seconds")
                                                  .Help("Time one reconcile took.")
                                                  .Register(*registry)
                                                  .Add({}, ReconcileBuckets());
  prometheus::Gauge& queue_depth = prometheus::BuildGauge()
                                       .Name("redisupgrade_workqueue_depth")
                                       .Help("Keys waiting in the work queue.")
                                       .Register(*registry)
                                       .Add({});
  prometheus::Histogram& queue_latency =
      prometheus::BuildHistogram()
          .Name("redisupgrade_workqueue_latency_seconds")
          .Help("Time a key waited in the work queue before a worker took it.")
          .Register(*registry)
          .Add({}, QueueLatencyBuckets());
  prometheus::Family<prometheus::Gauge>& phase =
      prometheus::BuildGauge()
          .Name("redisupgrade_phase")
          .Help("1 for the current phase of each RedisUpgrade, 0 for the others.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& lag =
      prometheus::BuildGauge()
          .Name("redisupgrade_lag_bytes")
          .Help("Replication lag of the new master behind the old one.")
          .Register(*registry);
  prometheus::Histogram& write_blocked =
      prometheus::BuildHistogram()
          .Name("redisupgrade_write_blocked_seconds")
          .Help("How long writes were blocked on the old master during a switch.")
          .Register(*registry)
          .Add({}, WriteBlockedBuckets());
  prometheus::Family<prometheus::Counter>& switch_attempts =
      prometheus::BuildCounter()
          .Name("redisupgrade_switch_attempts_total")
          .Help("Switch attempts per RedisUpgrade (a catch-up timeout counts one).")
          .Register(*registry);
  prometheus::Gauge& leader = prometheus::BuildGauge()
                                  .Name("redisupgrade_leader")
                                  .Help("1 while this process holds the leader lease.")
                                  .Register(*registry)
                                  .Add({});

  // The per-upgrade series, so Forget() can remove them.
  std::mutex mu;
  std::map<UpgradeId, std::map<std::string, prometheus::Gauge*>> phase_series;
  std::map<UpgradeId, prometheus::Gauge*> lag_series;
  std::map<UpgradeId, prometheus::Counter*> attempt_series;
};

OperatorMetrics::OperatorMetrics() : impl_(std::make_unique<Impl>()) {
  // Present from the first scrape, so alerts on absence do not fire at start.
  for (auto r : {kResultSuccess, kResultRequeue, kResultError, kResultTerminal}) {
    impl_->reconcile_total.Add({{"result", std::string(r)}});
  }
}

OperatorMetrics::~OperatorMetrics() = default;

void OperatorMetrics::ObserveReconcile(std::string_view result, double seconds) {
  impl_->reconcile_total.Add({{"result", std::string(result)}}).Increment();
  if (result == kResultError || result == kResultTerminal) impl_->reconcile_errors.Increment();
  impl_->reconcile_duration.Observe(seconds);
}

void OperatorMetrics::SetWorkqueueDepth(size_t depth) {
  impl_->queue_depth.Set(static_cast<double>(depth));
}

void OperatorMetrics::ObserveWorkqueueLatency(double seconds) {
  impl_->queue_latency.Observe(seconds);
}

void OperatorMetrics::SetLeader(bool leader) {
  impl_->leader.Set(leader ? 1 : 0);
}

void OperatorMetrics::SetPhase(const std::string& ns, const std::string& name,
                               const std::string& phase) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto& series = impl_->phase_series[{ns, name}];
  if (series.empty()) {
    for (const char* p : kPhases) {
      series[p] = &impl_->phase.Add({{"namespace", ns}, {"name", name}, {"phase", p}});
    }
  }
  if (!series.count(phase)) {
    // A phase this build does not know (a newer CRD): still report it.
    series[phase] = &impl_->phase.Add({{"namespace", ns}, {"name", name}, {"phase", phase}});
  }
  for (auto& [p, gauge] : series) gauge->Set(p == phase ? 1 : 0);
}

void OperatorMetrics::SetLagBytes(const std::string& ns, const std::string& name, int64_t bytes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto& gauge = impl_->lag_series[{ns, name}];
  if (gauge == nullptr) gauge = &impl_->lag.Add({{"namespace", ns}, {"name", name}});
  gauge->Set(static_cast<double>(bytes));
}

void OperatorMetrics::ObserveWriteBlocked(double seconds) {
  impl_->write_blocked.Observe(seconds);
}

void OperatorMetrics::IncSwitchAttempts(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto& counter = impl_->attempt_series[{ns, name}];
  if (counter == nullptr) {
    counter = &impl_->switch_attempts.Add({{"namespace", ns}, {"name", name}});
  }
  counter->Increment();
}

void OperatorMetrics::Forget(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::UpgradeId id{ns, name};
  if (auto it = impl_->phase_series.find(id); it != impl_->phase_series.end()) {
    for (auto& [p, gauge] : it->second) impl_->phase.Remove(gauge);
    impl_->phase_series.erase(it);
  }
  if (auto it = impl_->lag_series.find(id); it != impl_->lag_series.end()) {
    impl_->lag.Remove(it->second);
    impl_->lag_series.erase(it);
  }
  if (auto it = impl_->attempt_series.find(id); it != impl_->attempt_series.end()) {
    impl_->switch_attempts.Remove(it->second);
    impl_->attempt_series.erase(it);
  }
}

std::string OperatorMetrics::ScrapeText() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

std::shared_ptr<prometheus::Registry> OperatorMetrics::registry() const {
  return impl_->registry;
}

}  // namespace ruo::metrics
