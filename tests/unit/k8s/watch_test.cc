#include "k8s/watch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>

#include "unit/k8s/fake_transport.h"

namespace ruo::k8s {
namespace {

using nlohmann::json;
using State = WatchStateMachine::State;
using Step = WatchStateMachine::Step;
using std::chrono::milliseconds;

WatchEvent Event(WatchEvent::Type type, const std::string& rv) {
  return WatchEvent{type, {{"metadata", {{"name", "x"}, {"resourceVersion", rv}}}}};
}

WatchStateMachine Machine(std::string start_rv = {}) {
  return WatchStateMachine(Backoff(milliseconds(100), milliseconds(1000), 2.0, /*jitter=*/false),
                           std::move(start_rv));
}

Status Gone() {
  return Aborted("too old resource version: 5 (40)", "Gone");
}

// ---- the pure state machine -------------------------------------------------

TEST(WatchStateMachineTest, ListThenWatch) {
  auto m = Machine();
  EXPECT_EQ(m.state(), State::kEmpty);
  EXPECT_EQ(m.Next().step, Step::kList);
  EXPECT_EQ(m.Next().delay, milliseconds(0));
  m.OnListed("10");
  EXPECT_EQ(m.state(), State::kListed);
  auto a = m.Next();
  EXPECT_EQ(a.step, Step::kWatch);
  EXPECT_EQ(a.resource_version, "10");
  EXPECT_EQ(a.delay, milliseconds(0));
  m.OnWatchStarted();
  EXPECT_EQ(m.state(), State::kWatching);
}

TEST(WatchStateMachineTest, EventsAndBookmarksAdvanceResourceVersion) {
  auto m = Machine();
  m.OnListed("10");
  m.OnWatchStarted();
  EXPECT_TRUE(m.OnEvent(Event(WatchEvent::Type::kAdded, "11")));
  EXPECT_EQ(m.resource_version(), "11");
  EXPECT_TRUE(m.OnEvent(Event(WatchEvent::Type::kModified, "12")));
  EXPECT_FALSE(m.OnEvent(Event(WatchEvent::Type::kBookmark, "20"))) << "bookmarks not delivered";
  EXPECT_EQ(m.resource_version(), "20");
  EXPECT_TRUE(m.OnEvent(Event(WatchEvent::Type::kDeleted, "21")));
  EXPECT_EQ(m.resource_version(), "21");
  EXPECT_EQ(m.state(), State::kWatching);
}

TEST(WatchStateMachineTest, ServerTimeoutResumesAtOnce) {
  auto m = Machine();
  m.OnListed("10");
  m.OnWatchStarted();
  m.OnEvent(Event(WatchEvent::Type::kAdded, "11"));
  m.OnStreamEnded(Status::Ok());
  EXPECT_EQ(m.state(), State::kListed);
  auto a = m.Next();
  EXPECT_EQ(a.step, Step::kWatch) << "resume, not relist";
  EXPECT_EQ(a.resource_version, "11");
  EXPECT_EQ(a.delay, milliseconds(0));
}

TEST(WatchStateMachineTest, DropResumesFromLastRvWithBackoff) {
  auto m = Machine();
  m.OnListed("10");
  m.OnWatchStarted();
  m.OnEvent(Event(WatchEvent::Type::kModified, "13"));
  m.OnStreamEnded(Unavailable("connection reset by peer"));
  auto a = m.Next();
  EXPECT_EQ(a.step, Step::kWatch);
  EXPECT_EQ(a.resource_version, "13");
  EXPECT_EQ(a.delay, milliseconds(100));
  // The re-watch fails to connect: longer delay, same rv.
  m.OnWatchFailed(Unavailable("connection refused"));
  a = m.Next();
  EXPECT_EQ(a.step, Step::kWatch);
  EXPECT_EQ(a.resource_version, "13");
  EXPECT_EQ(a.delay, milliseconds(200));
  m.OnWatchFailed(DeadlineExceeded("timeout"));
  EXPECT_EQ(m.Next().delay, milliseconds(400));
  // Connected and an event arrived: the backoff starts over.
  m.OnWatchStarted();
  EXPECT_EQ(m.Next().delay, milliseconds(0));
  m.OnEvent(Event(WatchEvent::Type::kAdded, "14"));
  m.OnStreamEnded(Unavailable("reset"));
  EXPECT_EQ(m.Next().delay, milliseconds(100));
  EXPECT_EQ(m.Next().resource_version, "14");
}

TEST(WatchStateMachineTest, GoneOnWatchStartRelists) {
  auto m = Machine();
  m.OnListed("10");
  m.OnWatchFailed(Gone());
  EXPECT_EQ(m.state(), State::kEmpty);
  EXPECT_EQ(m.Next().step, Step::kList);
  m.OnListed("50");
  EXPECT_EQ(m.Next().resource_version, "50");
}

TEST(WatchStateMachineTest, GoneErrorEventRelists) {
  auto m = Machine();
  m.OnListed("10");
  m.OnWatchStarted();
  m.OnEvent(Event(WatchEvent::Type::kAdded, "11"));
  m.OnStreamEnded(Gone());
  EXPECT_EQ(m.state(), State::kEmpty);
  EXPECT_EQ(m.Next().step, Step::kList);
}

TEST(WatchStateMachineTest, ListFailureBacksOff) {
  auto m = Machine();
  m.OnListFailed(Unavailable("apiserver down"));
  EXPECT_EQ(m.state(), State::kEmpty);
  EXPECT_EQ(m.Next().step, Step::kList);
  EXPECT_EQ(m.Next().delay, milliseconds(100));
  m.OnListFailed(PermissionDenied("forbidden"));
  EXPECT_EQ(m.Next().delay, milliseconds(200));
  m.OnListed("3");
  EXPECT_EQ(m.Next().delay, milliseconds(0));
}

TEST(WatchStateMachineTest, StartResourceVersionSkipsList) {
  auto m = Machine("77");
  EXPECT_EQ(m.state(), State::kListed);
  auto a = m.Next();
  EXPECT_EQ(a.step, Step::kWatch);
  EXPECT_EQ(a.resource_version, "77");
}

TEST(WatchStateMachineTest, StopIsFinal) {
  auto m = Machine();
  m.OnListed("10");
  m.OnWatchStarted();
  m.Stop();
  EXPECT_EQ(m.Next().step, Step::kStop);
  EXPECT_FALSE(m.OnEvent(Event(WatchEvent::Type::kAdded, "11")));
  m.OnStreamEnded(Gone());
  m.OnListed("99");
  EXPECT_EQ(m.state(), State::kStopped);
  EXPECT_EQ(m.Next().step, Step::kStop);
}

// ---- the runner over a fake transport ----------------------------------------

class RecordingHandler : public WatchHandler {
 public:
  void OnSync(const std::vector<json>& items, const std::string& rv) override {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back("SYNC:" + std::to_string(items.size()) + "@" + rv);
    cv_.notify_all();
  }
  void OnEvent(const WatchEvent& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(std::string(WatchEventTypeName(e.type)) + ":" + ResourceVersionOf(e.object));
    cv_.notify_all();
  }
  bool WaitFor(size_t n, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return log_.size() >= n; });
  }
  std::vector<std::string> log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> log_;
};

std::string Ev(const std::string& type, const std::string& rv) {
  return json{{"type", type}, {"object", {{"metadata", {{"name", "x"}, {"resourceVersion", rv}}}}}}
      .dump();
}

std::string Param(const std::string& path, const std::string& key) {
  auto pos = path.find(key + "=");
  if (pos == std::string::npos) return "";
  pos += key.size() + 1;
  return path.substr(pos, path.find('&', pos) - pos);
}

TEST(WatcherTest, ResumesAfterDropAndRelistsAfterGone) {
  using testing::FakeStreamReader;
  auto state = std::make_shared<testing::FakeState>();
  auto client = NewClientWithTransport(std::make_unique<testing::FakeTransport>(state));
  // 1: list (two pages).
  state->responses.push_back(testing::Json(
      200,
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"10","continue":"c"},"items":[{"metadata":{"name":"a"}}]})"));
  state->responses.push_back(testing::Json(
      200,
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"10"},"items":[{"metadata":{"name":"b"}}]})"));
  // 2: a watch that delivers two events and then drops.
  state->streams.push_back(
      testing::Lines({Ev("ADDED", "11"), Ev("BOOKMARK", "15")}, FakeStreamReader::End::kError));
  // 3: the resumed watch: an event, then the server's timeout (clean end).
  state->streams.push_back(testing::Lines({Ev("MODIFIED", "16")}));
  // 4: resumed again; the server says the rv is too old.
  state->streams.push_back(testing::Lines(
      {R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})"}));
  // 5: relist.
  state->responses.push_back(testing::Json(
      200,
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"30"},"items":[]})"));
  // 6: watch from 30, then quiet until stopped (nothing scripted).
  state->streams.push_back(testing::Lines({Ev("DELETED", "31")}, FakeStreamReader::End::kBlock));

  RecordingHandler handler;
  WatcherOptions options;
  options.page_size = 1;
  options.timeout_seconds = 7;
  options.initial_backoff = milliseconds(1);
  options.jitter = false;
  Watcher watcher(*client, resources::Pods(), "ns", options, handler);
  watcher.Start();
  ASSERT_TRUE(handler.WaitFor(5)) << ::testing::PrintToString(handler.log());
  auto start = std::chrono::steady_clock::now();
  watcher.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));

  EXPECT_EQ(handler.log(), (std::vector<std::string>{"SYNC:2@10", "ADDED:11", "MODIFIED:16",
                                                     "SYNC:0@30", "DELETED:31"}));
  std::vector<std::string> watch_rvs;
  for (const auto& r : state->requests) {
    if (r.path.find("watch=1") != std::string::npos) {
      watch_rvs.push_back(Param(r.path, "resourceVersion"));
      EXPECT_EQ(Param(r.path, "allowWatchBookmarks"), "true");
      EXPECT_EQ(Param(r.path, "timeoutSeconds"), "7");
    }
  }
  // 10 after the list; 15 (the bookmark) after the drop; 16 after the clean
  // end; 30 after the relist.
  EXPECT_EQ(watch_rvs, (std::vector<std::string>{"10", "15", "16", "30"}));
  EXPECT_EQ(watcher.resource_version(), "31");
}

TEST(WatcherTest, StopDuringBackoffIsPrompt) {
  auto state = std::make_shared<testing::FakeState>();
  auto client = NewClientWithTransport(std::make_unique<testing::FakeTransport>(state));
  state->responses.push_back(Unavailable("connection refused"));
  RecordingHandler handler;
  WatcherOptions options;
  options.initial_backoff = std::chrono::minutes(10);
  Watcher watcher(*client, resources::Pods(), "ns", options, handler);
  watcher.Start();
  std::this_thread::sleep_for(milliseconds(100));
  auto start = std::chrono::steady_clock::now();
  watcher.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
  EXPECT_EQ(watcher.state(), State::kStopped);
}

TEST(CancelTokenTest, CallbacksAndSleep) {
  auto token = CancelToken::Create();
  int calls = 0;
  uint64_t id = token->OnCancel([&] { ++calls; });
  uint64_t removed = token->OnCancel([&] { calls += 100; });
  token->Unregister(removed);
  EXPECT_TRUE(token->SleepFor(milliseconds(1)));
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(50));
    token->Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(token->SleepFor(std::chrono::minutes(1)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  t.join();
  token->Cancel();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(token->cancelled());
  token->OnCancel([&] { calls += 10; });  // runs at once
  EXPECT_EQ(calls, 11);
  (void)id;
}

}  // namespace
}  // namespace ruo::k8s
