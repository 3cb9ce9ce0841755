// Injectable clock so time-window and timeout logic is testable without sleeping.
#pragma once

#include <chrono>
#include <mutex>

namespace ruo {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time: maintenance windows, timestamps in status.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time: deadlines and durations.
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;
};

// The process-wide real clock.
Clock& RealClock();

// A manual clock for tests: SleepFor advances it instead of sleeping.
class FakeClock : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start = {});
  std::chrono::system_clock::time_point Now() const override;
  std::chrono::steady_clock::time_point Monotonic() const override;
  void SleepFor(std::chrono::nanoseconds d) override { Advance(d); }
  void Advance(std::chrono::nanoseconds d);
  void SetNow(std::chrono::system_clock::time_point t);

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point now_;
  std::chrono::steady_clock::time_point mono_;
};

// Milliseconds since the Unix epoch, for plain-data records.
inline long long ToUnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace ruo
