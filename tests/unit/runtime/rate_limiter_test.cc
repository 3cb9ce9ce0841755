#include "runtime/rate_limiter.h"

#include <gtest/gtest.h>

namespace ruo::runtime {
namespace {

using std::chrono::milliseconds;

TEST(ItemExponentialLimiterTest, DoublesPerFailureAndForgets) {
  ItemExponentialLimiter l(milliseconds(5), milliseconds(100));
  EXPECT_EQ(l.When("a"), milliseconds(5));
  EXPECT_EQ(l.When("a"), milliseconds(10));
  EXPECT_EQ(l.When("a"), milliseconds(20));
  EXPECT_EQ(l.When("b"), milliseconds(5));  // per item
  EXPECT_EQ(l.NumRequeues("a"), 3);
  EXPECT_EQ(l.When("a"), milliseconds(40));
  EXPECT_EQ(l.When("a"), milliseconds(80));
  EXPECT_EQ(l.When("a"), milliseconds(100));  // capped
  l.Forget("a");
  EXPECT_EQ(l.NumRequeues("a"), 0);
  EXPECT_EQ(l.When("a"), milliseconds(5));
}

TEST(ItemExponentialLimiterTest, HugeFailureCountDoesNotOverflow) {
  ItemExponentialLimiter l(milliseconds(5), milliseconds(1000000));
  milliseconds d{0};
  for (int i = 0; i < 200; ++i) d = l.When("a");
  EXPECT_EQ(d, milliseconds(1000000));
}

TEST(BucketLimiterTest, BurstThenPaced) {
  BucketLimiter l(10.0, 3);
  EXPECT_EQ(l.When("x"), milliseconds(0));
  EXPECT_EQ(l.When("x"), milliseconds(0));
  EXPECT_EQ(l.When("x"), milliseconds(0));
  // The bucket is empty: the next token is ~100 ms away at 10 qps.
  auto d = l.When("x");
  EXPECT_GT(d, milliseconds(50));
  EXPECT_LE(d, milliseconds(100));
}

TEST(DefaultLimiterTest, TakesTheLargerDelay) {
  auto l = DefaultControllerRateLimiter();
  EXPECT_EQ(l->When("k"), milliseconds(5));
  EXPECT_EQ(l->When("k"), milliseconds(10));
  EXPECT_EQ(l->NumRequeues("k"), 2);
}

}  // namespace
}  // namespace ruo::runtime
