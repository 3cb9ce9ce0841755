#include "common/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace ruo {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double factor,
                 bool jitter)
    : initial_(initial),
      max_(max),
      factor_(factor),
      jitter_(jitter),
      rng_state_(std::random_device{}() | 1ULL) {}

std::chrono::milliseconds Backoff::Next() {
  double base = static_cast<double>(initial_.count()) * std::pow(factor_, attempt_);
  base = std::min(base, static_cast<double>(max_.count()));
  ++attempt_;
  if (!jitter_) return std::chrono::milliseconds(static_cast<long long>(base));
  // xorshift64: cheap, and jitter needs no quality beyond "not in lockstep".
  rng_state_ ^= rng_state_ << 13;
  rng_state_ ^= rng_state_ >> 7;
  rng_state_ ^= rng_state_ << 17;
  double frac = 0.5 + 0.5 * static_cast<double>(rng_state_ % 10000) / 10000.0;
  return std::chrono::milliseconds(static_cast<long long>(base * frac));
}

}  // namespace ruo
