#include "upgrade/switch_window.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace ruo::upgrade {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::system_clock;

// 2026-11-24T00:00:00Z
constexpr long long kDay = 1795478400;

system_clock::time_point At(int h, int m, int day_offset = 0) {
  return system_clock::time_point(std::chrono::seconds(kDay)) + hours(24 * day_offset) + hours(h) +
         minutes(m);
}

TEST(ParseMaintenanceWindowTest, AcceptsValid) {
  auto w = ParseMaintenanceWindow("03:30", "1h30m", "Europe/Paris");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->start_of_day, hours(3) + minutes(30));
  EXPECT_EQ(w->duration, minutes(90));
  EXPECT_EQ(w->time_zone, "Europe/Paris");
  EXPECT_EQ(ParseMaintenanceWindow("00:00", "24h", "")->time_zone, "UTC");
}

TEST(ParseMaintenanceWindowTest, RefusesBadInputWithReasons) {
  for (const char* start : {"24:00", "3:00", "03:60", "", "03:00:00", "ab:cd"}) {
    auto w = ParseMaintenanceWindow(start, "1h", "UTC");
    ASSERT_FALSE(w.ok()) << start;
    EXPECT_EQ(w.status().reason(), "InvalidMaintenanceWindow") << start;
  }
  for (const char* dur : {"", "0m", "25h", "1d", "-1h", "h", "1h1s"}) {
    auto w = ParseMaintenanceWindow("03:00", dur, "UTC");
    ASSERT_FALSE(w.ok()) << dur;
    EXPECT_EQ(w.status().reason(), "InvalidMaintenanceWindow") << dur;
  }
  auto w = ParseMaintenanceWindow("03:00", "1h", "Mars/Olympus_Mons");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().reason(), "UnknownTimeZone");
}

TEST(EvaluateWindowTest, InsideAndOutsideUtc) {
  MaintenanceWindow w{hours(3), hours(1), "UTC"};
  auto s = EvaluateWindow(w, At(3, 30));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->inside);
  EXPECT_EQ(s->boundary, At(4, 0));

  s = EvaluateWindow(w, At(4, 0));  // the end is exclusive
  EXPECT_FALSE(s->inside);
  EXPECT_EQ(s->boundary, At(3, 0, 1));  // next opening: tomorrow

  s = EvaluateWindow(w, At(2, 59));
  EXPECT_FALSE(s->inside);
  EXPECT_EQ(s->boundary, At(3, 0));
}

TEST(EvaluateWindowTest, WindowCrossingMidnight) {
  MaintenanceWindow w{hours(23), hours(2), "UTC"};
  auto s = EvaluateWindow(w, At(0, 30));  // opened yesterday 23:00
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->inside);
  EXPECT_EQ(s->boundary, At(1, 0));
}

TEST(EvaluateWindowTest, TimeZoneShiftsTheWindow) {
  // 03:00 in Tokyo (UTC+9, no DST) is 18:00 UTC the day before.
  MaintenanceWindow w{hours(3), hours(1), "Asia/Tokyo"};
  EXPECT_TRUE(EvaluateWindow(w, At(18, 15))->inside);
  EXPECT_FALSE(EvaluateWindow(w, At(3, 15))->inside);
}

TEST(DecideSwitchTest, ImmediateNeedsLagWithinLimit) {
  SwitchConditionInput in;
  in.full_sync_done = true;
  in.lag_bytes = 20 * 1024 * 1024;
  auto d = DecideSwitch(in, At(12, 0));
  EXPECT_FALSE(d.go);
  EXPECT_EQ(d.reason, "LagTooHigh");
  in.lag_bytes = 100;
  d = DecideSwitch(in, At(12, 0));
  EXPECT_TRUE(d.go);
}

TEST(DecideSwitchTest, NotBeforeFullSync) {
  SwitchConditionInput in;
  in.full_sync_done = false;
  in.lag_bytes = 0;
  EXPECT_EQ(DecideSwitch(in, At(12, 0)).reason, "SyncInProgress");
}

TEST(DecideSwitchTest, MaintenanceWindowWaitsThenGoes) {
  SwitchConditionInput in;
  in.mode = SwitchMode::kMaintenanceWindow;
  in.window = {hours(3), hours(1), "UTC"};
  in.full_sync_done = true;
  in.lag_bytes = 0;
  auto d = DecideSwitch(in, At(2, 0));
  EXPECT_FALSE(d.go);
  EXPECT_EQ(d.reason, "OutsideMaintenanceWindow");
  EXPECT_EQ(d.recheck_after, hours(1));
  d = DecideSwitch(in, At(3, 5));
  EXPECT_TRUE(d.go);
  EXPECT_EQ(d.reason, "InsideMaintenanceWindow");
  // Inside the window but lag too high: wait (retried in the next window if it never drops).
  in.lag_bytes = in.max_lag_bytes + 1;
  EXPECT_FALSE(DecideSwitch(in, At(3, 5)).go);
}

TEST(DecideSwitchTest, SwitchNowAnnotationOverridesWindowNotLag) {
  SwitchConditionInput in;
  in.mode = SwitchMode::kMaintenanceWindow;
  in.window = {hours(3), hours(1), "UTC"};
  in.full_sync_done = true;
  in.lag_bytes = 0;
  in.switch_now = true;
  auto d = DecideSwitch(in, At(12, 0));
  EXPECT_TRUE(d.go);
  EXPECT_EQ(d.reason, "SwitchNow");
  in.lag_bytes = in.max_lag_bytes + 1;
  EXPECT_FALSE(DecideSwitch(in, At(12, 0)).go);
}

}  // namespace
}  // namespace ruo::upgrade
