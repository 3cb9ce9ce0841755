// A Reconciler decorator that knows which reconciles are running and since
// when (for /healthz: a reconcile stuck far past any bound means a wedged
// worker), and that turns keys away once shutdown began: the work queue
// still hands out the keys it holds after ShutDown(), and a process that is
// stopping must not start new reconciles, only finish the running ones.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "runtime/controller.h"

namespace ruo::runtime {

class ReconcileTracker final : public Reconciler {
 public:
  // `inner` and `clock` must outlive the tracker.
  ReconcileTracker(Reconciler& inner, Clock& clock);

  Result Reconcile(const std::string& key) override;

  // From now on Reconcile() returns Done without calling `inner`.
  void StopAccepting() { accepting_ = false; }
  bool accepting() const { return accepting_.load(); }

  struct InFlight {
    std::string key;
    std::chrono::milliseconds running{0};
  };
  // The longest-running reconcile now in progress, if any.
  std::optional<InFlight> Longest() const;
  size_t InFlightCount() const;

 private:
  Reconciler& inner_;
  Clock& clock_;
  std::atomic<bool> accepting_{true};
  mutable std::mutex mu_;
  // A key is reconciled by one worker at a time (work-queue guarantee).
  std::map<std::string, std::chrono::steady_clock::time_point> started_;
};

}  // namespace ruo::runtime
