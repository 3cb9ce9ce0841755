#include "runtime/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace ruo::runtime {
namespace {

using std::chrono::milliseconds;

TEST(WorkQueueTest, DeduplicatesWaitingKeys) {
  WorkQueue q;
  q.Add("ns/a");
  q.Add("ns/a");
  q.Add("ns/b");
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(*q.Get(), "ns/a");
  EXPECT_EQ(*q.Get(), "ns/b");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, KeyAddedWhileProcessingIsRequeuedAfterDone) {
  WorkQueue q;
  q.Add("k");
  auto k = q.Get();
  ASSERT_TRUE(k);
  q.Add("k");  // while processing: must not be handed to a second worker now
  EXPECT_EQ(q.Len(), 0u);
  q.Done("k");
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(*q.Get(), "k");
  q.Done("k");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, EventsAreHandedOutBeforeDelayedKeys) {
  WorkQueue q;
  q.AddAfter("poll/1", milliseconds(0));  // a delay that is over: the delayed lane
  q.AddAfter("poll/2", milliseconds(0));
  q.Add("event/1");
  EXPECT_EQ(q.Len(), 3u);
  EXPECT_EQ(*q.Get(), "event/1");
  EXPECT_EQ(*q.Get(), "poll/1");
  EXPECT_EQ(*q.Get(), "poll/2");
}

TEST(WorkQueueTest, EventMovesAWaitingDelayedKeyUpOnce) {
  WorkQueue q;
  q.AddAfter("a", milliseconds(0));
  q.AddAfter("b", milliseconds(0));
  q.Add("b");
  q.Add("b");
  EXPECT_EQ(q.Len(), 2u);  // still one entry per key
  EXPECT_EQ(*q.Get(), "b");
  EXPECT_EQ(*q.Get(), "a");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, KeyDirtiedByAnEventWhileProcessingReturnsInTheEventLane) {
  WorkQueue q;
  q.Add("k");
  ASSERT_EQ(*q.Get(), "k");
  q.AddAfter("k", milliseconds(0));  // a poll while processing...
  q.Add("k");                        // ...then an event
  q.AddAfter("other", milliseconds(0));
  q.Done("k");
  EXPECT_EQ(*q.Get(), "k");
  EXPECT_EQ(*q.Get(), "other");
}

TEST(WorkQueueTest, GetEventTakesOnlyTheEventLane) {
  WorkQueue q;
  q.AddAfter("poll", milliseconds(0));
  auto got = std::async(std::launch::async, [&] { return q.GetEvent(); });
  EXPECT_EQ(got.wait_for(milliseconds(50)), std::future_status::timeout);
  q.Add("event");
  EXPECT_EQ(got.get(), "event");
  EXPECT_EQ(*q.Get(), "poll");
  auto none = std::async(std::launch::async, [&] { return q.GetEvent(); });
  q.ShutDown();
  EXPECT_FALSE(none.get().has_value());
}

TEST(WorkQueueTest, NoConcurrentProcessingOfOneKey) {
  WorkQueue q;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<int> processed{0};
  auto worker = [&] {
    while (auto key = q.Get()) {
      int now = ++in_flight;
      int prev = max_in_flight.load();
      while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
      }
      std::this_thread::sleep_for(milliseconds(2));
      --in_flight;
      ++processed;
      q.Done(*key);
    }
  };
  std::thread w1(worker), w2(worker), w3(worker);
  for (int i = 0; i < 50; ++i) {
    q.Add("same");
    std::this_thread::sleep_for(milliseconds(1));
  }
  std::this_thread::sleep_for(milliseconds(50));
  q.ShutDown();
  w1.join();
  w2.join();
  w3.join();
  EXPECT_EQ(max_in_flight.load(), 1);
  EXPECT_GE(processed.load(), 2);
}

TEST(WorkQueueTest, AddAfterDelaysTheKey) {
  WorkQueue q;
  auto start = std::chrono::steady_clock::now();
  q.AddAfter("later", milliseconds(40));
  EXPECT_EQ(q.Len(), 0u);
  auto k = q.Get();
  ASSERT_TRUE(k);
  EXPECT_EQ(*k, "later");
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(40));
}

TEST(WorkQueueTest, EarlierDelayWins) {
  WorkQueue q;
  auto start = std::chrono::steady_clock::now();
  q.AddAfter("k", milliseconds(60000));
  q.AddAfter("k", milliseconds(10));
  auto k = q.Get();
  ASSERT_TRUE(k);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(30000));
}

TEST(WorkQueueTest, RateLimitedAddsBackOffPerKey) {
  WorkQueue q(std::make_unique<ItemExponentialLimiter>(milliseconds(1), milliseconds(1000)));
  q.AddRateLimited("k");
  q.AddRateLimited("k");
  EXPECT_EQ(q.NumRequeues("k"), 2);
  EXPECT_EQ(*q.Get(), "k");
  q.Forget("k");
  EXPECT_EQ(q.NumRequeues("k"), 0);
}

TEST(WorkQueueTest, ShutDownReleasesBlockedGetters) {
  WorkQueue q;
  auto f = std::async(std::launch::async, [&] { return q.Get(); });
  std::this_thread::sleep_for(milliseconds(10));
  q.ShutDown();
  EXPECT_FALSE(f.get().has_value());
  q.Add("ignored");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, ReportsQueueLatency) {
  WorkQueue q;
  std::atomic<int> observed{0};
  q.SetLatencyObserver([&](std::chrono::duration<double> d) {
    EXPECT_GE(d.count(), 0.0);
    ++observed;
  });
  q.Add("a");
  q.Add("b");
  q.Get();
  q.Get();
  EXPECT_EQ(observed.load(), 2);
}

}  // namespace
}  // namespace ruo::runtime
