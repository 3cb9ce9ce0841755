#include "runtime/reconcile_tracker.h"

namespace ruo::runtime {

ReconcileTracker::ReconcileTracker(Reconciler& inner, Clock& clock)
    : inner_(inner), clock_(clock) {}

Result ReconcileTracker::Reconcile(const std::string& key) {
  if (!accepting_) return Result::Done();
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_[key] = clock_.Monotonic();
  }
  // Erase on every exit, exceptions included (the controller catches them).
  struct Finish {
    ReconcileTracker* self;
    const std::string& key;
    ~Finish() {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->started_.erase(key);
    }
  } finish{this, key};
  return inner_.Reconcile(key);
}

std::optional<ReconcileTracker::InFlight> ReconcileTracker::Longest() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_.empty()) return std::nullopt;
  auto now = clock_.Monotonic();
  InFlight longest;
  bool first = true;
  for (const auto& [key, start] : started_) {
    auto running = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    if (first || running > longest.running) longest = {key, running};
    first = false;
  }
  return longest;
}

size_t ReconcileTracker::InFlightCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_.size();
}

}  // namespace ruo::runtime
