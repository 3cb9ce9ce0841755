// What the reconciler reports about upgrades. Implemented over prometheus-cpp
// in src/metrics; a null-object default keeps the reconciler testable alone.
#pragma once

#include <cstdint>
#include <string>

namespace ruo::upgrade {

class UpgradeMetrics {
 public:
  virtual ~UpgradeMetrics() = default;
  // One gauge per upgrade and phase: 1 for the current phase, 0 for the others.
  virtual void SetPhase(const std::string& ns, const std::string& name,
                        const std::string& phase) = 0;
  virtual void SetLagBytes(const std::string& ns, const std::string& name, int64_t bytes) = 0;
  virtual void ObserveWriteBlocked(double seconds) = 0;
  virtual void IncSwitchAttempts(const std::string& ns, const std::string& name) = 0;
  // The upgrade object is gone: drop its series.
  virtual void Forget(const std::string& ns, const std::string& name) = 0;
};

class NoopUpgradeMetrics final : public UpgradeMetrics {
 public:
  void SetPhase(const std::string&, const std::string&, const std::string&) override {}
  void SetLagBytes(const std::string&, const std::string&, int64_t) override {}
  void ObserveWriteBlocked(double) override {}
  void IncSwitchAttempts(const std::string&, const std::string&) override {}
  void Forget(const std::string&, const std::string&) override {}
};

}  // namespace ruo::upgrade
