#include "runtime/controller.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>

namespace ruo::runtime {
namespace {

using std::chrono::milliseconds;

// Returns scripted results per key and records each call.
class ScriptedReconciler : public Reconciler {
 public:
  Result Reconcile(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    int n = ++calls_[key];
    cv_.notify_all();
    auto& script = scripts_[key];
    if (static_cast<size_t>(n) <= script.size()) return script[n - 1];
    return Result::Done();
  }
  void Script(const std::string& key, std::vector<Result> rs) { scripts_[key] = std::move(rs); }
  bool WaitCalls(const std::string& key, int n, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return calls_[key] >= n; });
  }
  int Calls(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[key];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> calls_;
  std::map<std::string, std::vector<Result>> scripts_;
};

TEST(ControllerTest, ErrorsAreRetriedWithBackoffUntilDone) {
  ScriptedReconciler rec;
  rec.Script("ns/a", {Result::Error(Unavailable("down")), Result::Error(Unavailable("down")),
                      Result::Done()});
  WorkQueue q(std::make_unique<ItemExponentialLimiter>(milliseconds(1), milliseconds(10)));
  Controller c("test", rec, q, 2);
  c.Start();
  q.Add("ns/a");
  ASSERT_TRUE(rec.WaitCalls("ns/a", 3));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(rec.Calls("ns/a"), 3);      // Done: not called again
  EXPECT_EQ(q.NumRequeues("ns/a"), 0);  // forgotten after success
  c.Stop();
}

TEST(ControllerTest, TerminalIsNotRetried) {
  ScriptedReconciler rec;
  rec.Script("ns/t", {Result::Terminal(FailedPrecondition("downgrade", "DowngradeRefused"))});
  WorkQueue q(std::make_unique<ItemExponentialLimiter>(milliseconds(1), milliseconds(10)));
  Controller c("test", rec, q, 1);
  c.Start();
  q.Add("ns/t");
  ASSERT_TRUE(rec.WaitCalls("ns/t", 1));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(rec.Calls("ns/t"), 1);
  c.Stop();
}

TEST(ControllerTest, RequeueAfterComesBack) {
  ScriptedReconciler rec;
  rec.Script("ns/r", {Result::RequeueAfter(milliseconds(20), "lag"), Result::Done()});
  WorkQueue q;
  int observed = 0;
  Controller c(
      "test", rec, q, 1,
      {[&](const std::string&, const Result&, std::chrono::duration<double>) { ++observed; }});
  c.Start();
  q.Add("ns/r");
  ASSERT_TRUE(rec.WaitCalls("ns/r", 2));
  c.Stop();
  EXPECT_EQ(observed, 2);
}

// Blocks every reconcile of keys starting with "poll/" until released.
class BlockingReconciler : public Reconciler {
 public:
  Result Reconcile(const std::string& key) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++calls_[key];
    cv_.notify_all();
    if (key.rfind("poll/", 0) == 0) cv_.wait(lock, [this] { return released_; });
    return Result::Done();
  }
  bool WaitCalls(const std::string& key, int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, milliseconds(5000), [&] { return calls_[key] >= n; });
  }
  int Calls(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[key];
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> calls_;
  bool released_ = false;
};

TEST(ControllerTest, EventWorkerTakesAChangeWhileEveryWorkerPolls) {
  BlockingReconciler rec;
  WorkQueue q;
  Controller c("test", rec, q, /*workers=*/1, {}, /*event_workers=*/1);
  c.Start();
  q.AddAfter("poll/1", milliseconds(0));
  q.AddAfter("poll/2", milliseconds(0));
  ASSERT_TRUE(rec.WaitCalls("poll/1", 1));  // the one worker is stuck in it
  q.Add("ns/changed");
  EXPECT_TRUE(rec.WaitCalls("ns/changed", 1));
  EXPECT_EQ(rec.Calls("poll/2"), 0);  // the event worker leaves polls alone
  rec.Release();
  EXPECT_TRUE(rec.WaitCalls("poll/2", 1));  // the general worker, once free
  c.Stop();
}

TEST(ResultTest, PhaseMacroStopsOnAnythingButContinue) {
  auto run = [](Result first, bool* second_ran) -> Result {
    RUO_PHASE(first);
    *second_ran = true;
    return Result::Done();
  };
  bool ran = false;
  EXPECT_EQ(run(Result::Continue(), &ran).kind(), Result::Kind::kDone);
  EXPECT_TRUE(ran);
  ran = false;
  EXPECT_EQ(run(Result::RequeueAfter(milliseconds(5)), &ran).kind(), Result::Kind::kRequeueAfter);
  EXPECT_FALSE(ran);
  EXPECT_EQ(Result::FromStatus(Unavailable("x")).kind(), Result::Kind::kError);
  EXPECT_EQ(Result::FromStatus(FailedPrecondition("x")).kind(), Result::Kind::kTerminal);
}

}  // namespace
}  // namespace ruo::runtime
