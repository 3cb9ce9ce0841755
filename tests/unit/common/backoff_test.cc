#include "common/backoff.h"

#include <gtest/gtest.h>

namespace ruo {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, GrowsExponentiallyUpToMax) {
  Backoff b(milliseconds(100), milliseconds(1000), 2.0, /*jitter=*/false);
  EXPECT_EQ(b.Next(), milliseconds(100));
  EXPECT_EQ(b.Next(), milliseconds(200));
  EXPECT_EQ(b.Next(), milliseconds(400));
  EXPECT_EQ(b.Next(), milliseconds(800));
  EXPECT_EQ(b.Next(), milliseconds(1000));
  EXPECT_EQ(b.Next(), milliseconds(1000));
  EXPECT_EQ(b.attempts(), 6);
  b.Reset();
  EXPECT_EQ(b.Next(), milliseconds(100));
}

TEST(BackoffTest, JitterStaysWithinHalfAndFull) {
  Backoff b(milliseconds(1000), milliseconds(1000), 2.0, /*jitter=*/true);
  for (int i = 0; i < 100; ++i) {
    auto d = b.Next();
    EXPECT_GE(d, milliseconds(500));
    EXPECT_LE(d, milliseconds(1000));
  }
}

}  // namespace
}  // namespace ruo
