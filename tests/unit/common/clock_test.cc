#include "common/clock.h"

#include <gtest/gtest.h>

namespace ruo {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(FakeClockTest, SleepAdvancesBothClocks) {
  FakeClock clock(std::chrono::system_clock::time_point(seconds(1000)));
  auto mono0 = clock.Monotonic();
  clock.SleepFor(milliseconds(1500));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 1001500);
  EXPECT_EQ(clock.Monotonic() - mono0, milliseconds(1500));
}

TEST(FakeClockTest, SetNowMovesWallClockOnly) {
  FakeClock clock;
  auto mono0 = clock.Monotonic();
  clock.SetNow(std::chrono::system_clock::time_point(seconds(42)));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 42000);
  EXPECT_EQ(clock.Monotonic(), mono0);
}

TEST(RealClockTest, MonotonicDoesNotGoBack) {
  auto a = RealClock().Monotonic();
  RealClock().SleepFor(milliseconds(1));
  EXPECT_GT(RealClock().Monotonic(), a);
}

}  // namespace
}  // namespace ruo
