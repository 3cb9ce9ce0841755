// Retry delays for the work queue, as client-go's default controller rate
// limiter: the larger of a per-item exponential backoff and an overall token bucket.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace ruo::runtime {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // The delay before `key` may be retried; counts a failure for it.
  virtual std::chrono::milliseconds When(const std::string& key) = 0;
  // Forget the failures of `key` (it succeeded).
  virtual void Forget(const std::string& key) = 0;
  virtual int NumRequeues(const std::string& key) = 0;
};

// base * 2^failures, capped at max.
class ItemExponentialLimiter : public RateLimiter {
 public:
  ItemExponentialLimiter(std::chrono::milliseconds base, std::chrono::milliseconds max);
  std::chrono::milliseconds When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  std::mutex mu_;
  std::chrono::milliseconds base_, max_;
  std::map<std::string, int> failures_;
};

// A token bucket shared by all items: qps tokens per second, `burst` at most.
class BucketLimiter : public RateLimiter {
 public:
  BucketLimiter(double qps, int burst);
  std::chrono::milliseconds When(const std::string& key) override;
  void Forget(const std::string&) override {}
  int NumRequeues(const std::string&) override { return 0; }

 private:
  std::mutex mu_;
  double qps_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

// The maximum of several limiters (client-go's MaxOfRateLimiter).
class MaxOfLimiter : public RateLimiter {
 public:
  MaxOfLimiter(std::unique_ptr<RateLimiter> a, std::unique_ptr<RateLimiter> b);
  std::chrono::milliseconds When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  std::unique_ptr<RateLimiter> a_, b_;
};

// 5 ms … 1000 s per item, 10 qps / 100 burst overall.
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter();

}  // namespace ruo::runtime
