// Polling and naming helpers shared by the integration, e2e and chaos tests.
#pragma once

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <thread>

namespace ruo::testing {

// Polls `pred` every `every` until it holds or `timeout` passes (one last try
// at the deadline).
inline bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                      std::chrono::milliseconds every = std::chrono::milliseconds(100)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

// Five random [a-z0-9] characters, for names of test namespaces and objects.
inline std::string RandomSuffix() {
  static std::mt19937_64 rng(std::random_device{}());
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 5; ++i) s += kChars[rng() % 36];
  return s;
}

}  // namespace ruo::testing
