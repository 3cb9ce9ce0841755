#include "upgrade/status_throttle.h"

#include "upgrade/status_tx.h"

namespace ruo::upgrade {
namespace {

// The status without its progress figures.
StatusDoc Steady(StatusDoc d) {
  d.s.sync.lag_bytes.reset();
  d.s.sync.sync_left_bytes.reset();
  d.s.message.clear();
  for (auto& c : d.s.conditions) {
    if (c.type == kProgressing) c.message.clear();
  }
  return d;
}

}  // namespace

bool OnlyProgressDiffers(const StatusDoc& a, const StatusDoc& b) {
  return Steady(a) == Steady(b);
}

bool StatusThrottle::Due(const std::string& key, const StatusDoc& stored, const StatusDoc& next,
                         std::chrono::steady_clock::time_point now) {
  if (stored == next) return false;
  if (!OnlyProgressDiffers(stored, next)) return true;
  // The lag appearing or vanishing is news, not a figure.
  if (stored.s.sync.lag_bytes.has_value() != next.s.sync.lag_bytes.has_value()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = last_.find(key);
  return it == last_.end() || now - it->second >= interval_;
}

void StatusThrottle::Wrote(const std::string& key, std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  last_[key] = now;
}

void StatusThrottle::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  last_.erase(key);
}

}  // namespace ruo::upgrade
