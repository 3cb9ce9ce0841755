// When the switch may happen: Immediate mode, a daily maintenance window in an
// IANA time zone, or the switch-now annotation; always only when the lag is small.
// Pure functions of `now`, so the window logic is tested without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace ruo::upgrade {

struct MaintenanceWindow {
  std::chrono::minutes start_of_day{0};  // local time of day the window opens
  std::chrono::minutes duration{60};
  std::string time_zone = "UTC";
};

// start "HH:MM", duration "1h", "30m", "1h30m" (1m … 24h), timeZone IANA name.
// Errors: InvalidArgument with reason InvalidMaintenanceWindow / UnknownTimeZone.
StatusOr<MaintenanceWindow> ParseMaintenanceWindow(const std::string& start,
                                                   const std::string& duration,
                                                   const std::string& time_zone);

struct WindowState {
  bool inside = false;
  // Inside: when the current window closes. Outside: when the next one opens.
  std::chrono::system_clock::time_point boundary;
};

// Whether `now` is inside a window (windows may cross midnight and DST changes;
// the start is a local wall time, the duration is real elapsed time).
StatusOr<WindowState> EvaluateWindow(const MaintenanceWindow& w,
                                     std::chrono::system_clock::time_point now);

enum class SwitchMode { kImmediate, kMaintenanceWindow };

struct SwitchConditionInput {
  SwitchMode mode = SwitchMode::kImmediate;
  MaintenanceWindow window;  // for kMaintenanceWindow
  bool switch_now = false;   // annotation redisupgrade.dev/switch-now: "true"
  bool full_sync_done = false;
  int64_t lag_bytes = -1;  // -1 unknown
  int64_t max_lag_bytes = 10 * 1024 * 1024;
};

struct SwitchDecision {
  bool go = false;
  std::string reason;   // CamelCase: LagTooHigh, OutsideMaintenanceWindow, SwitchNow, ...
  std::string message;  // human sentence with figures
  // When to look again when not switching (0 = on the next lag poll).
  std::chrono::milliseconds recheck_after{0};
};

SwitchDecision DecideSwitch(const SwitchConditionInput& in,
                            std::chrono::system_clock::time_point now);

}  // namespace ruo::upgrade
