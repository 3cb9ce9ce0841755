#include "runtime/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace ruo::runtime {

using std::chrono::milliseconds;

ItemExponentialLimiter::ItemExponentialLimiter(milliseconds base, milliseconds max)
    : base_(base), max_(max) {}

milliseconds ItemExponentialLimiter::When(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = failures_[key]++;
  // Cap the exponent so the double cannot overflow.
  double d = static_cast<double>(base_.count()) * std::pow(2.0, std::min(n, 40));
  return milliseconds(static_cast<long long>(std::min(d, static_cast<double>(max_.count()))));
}

void ItemExponentialLimiter::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(key);
}

int ItemExponentialLimiter::NumRequeues(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

BucketLimiter::BucketLimiter(double qps, int burst)
    : qps_(qps), burst_(burst), tokens_(burst), last_(std::chrono::steady_clock::now()) {}

milliseconds BucketLimiter::When(const std::string&) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
  tokens_ -= 1.0;  // reserve a token now, possibly going negative (a debt to wait out)
  if (tokens_ >= 0) return milliseconds(0);
  return milliseconds(static_cast<long long>(std::ceil(-tokens_ / qps_ * 1000.0)));
}

MaxOfLimiter::MaxOfLimiter(std::unique_ptr<RateLimiter> a, std::unique_ptr<RateLimiter> b)
    : a_(std::move(a)), b_(std::move(b)) {}

milliseconds MaxOfLimiter::When(const std::string& key) {
  return std::max(a_->When(key), b_->When(key));
}

void MaxOfLimiter::Forget(const std::string& key) {
  a_->Forget(key);
  b_->Forget(key);
}

int MaxOfLimiter::NumRequeues(const std::string& key) {
  return std::max(a_->NumRequeues(key), b_->NumRequeues(key));
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter() {
  return std::make_unique<MaxOfLimiter>(
      std::make_unique<ItemExponentialLimiter>(milliseconds(5), milliseconds(1000 * 1000)),
      std::make_unique<BucketLimiter>(10.0, 100));
}

}  // namespace ruo::runtime
