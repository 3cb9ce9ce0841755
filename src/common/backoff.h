// Exponential backoff with full jitter, for retrying transient failures.
#pragma once

#include <chrono>
#include <cstdint>

namespace ruo {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double factor = 2.0,
          bool jitter = true);
  // The delay before the next attempt; grows each call up to `max`.
  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  double factor_;
  bool jitter_;
  int attempt_ = 0;
  uint64_t rng_state_;
};

}  // namespace ruo
