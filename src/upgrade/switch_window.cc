#include "upgrade/switch_window.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <exception>
#include <regex>

namespace ruo::upgrade {

using std::chrono::minutes;
using std::chrono::system_clock;

StatusOr<MaintenanceWindow> ParseMaintenanceWindow(const std::string& start,
                                                   const std::string& duration,
                                                   const std::string& time_zone) {
  static const std::regex kStart(R"(^([01][0-9]|2[0-3]):([0-5][0-9])$)");
  static const std::regex kDuration(R"(^(?:([0-9]{1,2})h)?(?:([0-9]{1,4})m)?$)");
  std::smatch m;
  MaintenanceWindow w;
  if (!std::regex_match(start, m, kStart)) {
    return InvalidArgument("maintenance window start \"" + start + "\" is not HH:MM (00:00-23:59)",
                           "InvalidMaintenanceWindow");
  }
  w.start_of_day = std::chrono::hours(std::stoi(m[1])) + minutes(std::stoi(m[2]));
  if (duration.empty() || !std::regex_match(duration, m, kDuration)) {
    return InvalidArgument(
        "maintenance window duration \"" + duration + "\" is not like 1h, 30m or 1h30m",
        "InvalidMaintenanceWindow");
  }
  w.duration = std::chrono::hours(m[1].matched ? std::stoi(m[1]) : 0) +
               minutes(m[2].matched ? std::stoi(m[2]) : 0);
  if (w.duration < minutes(1) || w.duration > std::chrono::hours(24)) {
    return InvalidArgument(
        "maintenance window duration \"" + duration + "\" must be between 1m and 24h",
        "InvalidMaintenanceWindow");
  }
  w.time_zone = time_zone.empty() ? "UTC" : time_zone;
  try {
    (void)date::locate_zone(w.time_zone);
  } catch (const std::exception&) {
    return InvalidArgument("unknown time zone \"" + w.time_zone + "\" (want an IANA name)",
                           "UnknownTimeZone");
  }
  return w;
}

StatusOr<WindowState> EvaluateWindow(const MaintenanceWindow& w, system_clock::time_point now) {
  const date::time_zone* tz = nullptr;
  try {
    tz = date::locate_zone(w.time_zone);
  } catch (const std::exception&) {
    return InvalidArgument("unknown time zone \"" + w.time_zone + "\"", "UnknownTimeZone");
  }
  auto local_now = tz->to_local(date::floor<std::chrono::seconds>(now));
  auto local_day = date::floor<date::days>(local_now);
  // The window that opened most recently at or before now could have opened
  // yesterday (a window crossing midnight); look at yesterday, today, tomorrow.
  for (int d = -1; d <= 1; ++d) {
    auto local_start = local_day + date::days(d) + w.start_of_day;
    // choose::earliest resolves DST gaps/overlaps deterministically.
    system_clock::time_point start = tz->to_sys(local_start, date::choose::earliest);
    system_clock::time_point end = start + w.duration;
    if (start <= now && now < end) return WindowState{true, end};
  }
  for (int d = -1; d <= 2; ++d) {
    auto local_start = local_day + date::days(d) + w.start_of_day;
    system_clock::time_point start = tz->to_sys(local_start, date::choose::earliest);
    if (start > now) return WindowState{false, start};
  }
  return Internal("no maintenance window found within two days");
}

SwitchDecision DecideSwitch(const SwitchConditionInput& in, system_clock::time_point now) {
  using std::chrono::milliseconds;
  SwitchDecision d;
  if (!in.full_sync_done || in.lag_bytes < 0) {
    d.reason = "SyncInProgress";
    d.message = "the new master has not finished its full sync";
    return d;
  }
  if (in.lag_bytes > in.max_lag_bytes) {
    d.reason = "LagTooHigh";
    d.message = "replication lag " + std::to_string(in.lag_bytes) + " bytes exceeds maxLagBytes " +
                std::to_string(in.max_lag_bytes);
    return d;
  }
  if (in.mode == SwitchMode::kImmediate) {
    d.go = true;
    d.reason = "LagWithinLimit";
    d.message = "lag " + std::to_string(in.lag_bytes) + " bytes, immediate switch";
    return d;
  }
  if (in.switch_now) {
    d.go = true;
    d.reason = "SwitchNow";
    d.message = "switch requested by the redisupgrade.dev/switch-now annotation";
    return d;
  }
  auto state = EvaluateWindow(in.window, now);
  if (!state.ok()) {
    d.reason = state.status().reason();
    d.message = state.status().message();
    return d;
  }
  if (state->inside) {
    d.go = true;
    d.reason = "InsideMaintenanceWindow";
    d.message = "inside the maintenance window; lag " + std::to_string(in.lag_bytes) + " bytes";
    return d;
  }
  d.reason = "OutsideMaintenanceWindow";
  d.message = "waiting for the maintenance window opening at " +
              date::format("%FT%TZ", date::floor<std::chrono::seconds>(state->boundary));
  d.recheck_after =
      std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(state->boundary - now));
  return d;
}

}  // namespace ruo::upgrade
