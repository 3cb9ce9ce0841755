#include "runtime/manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "unit/runtime/fake_api.h"

namespace ruo::runtime {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::FakeApi;
using testing::Obj;

// Counts reconciles per key; can be made to block until released.
class RecordingReconciler : public Reconciler {
 public:
  Result Reconcile(const std::string& key) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++calls_[key];
    ++running_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !block_; });
    --running_;
    return Result::Done();
  }
  void Block(bool b) {
    std::lock_guard<std::mutex> lock(mu_);
    block_ = b;
    cv_.notify_all();
  }
  int Calls(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[key];
  }
  int Total() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (auto& [k, c] : calls_) n += c;
    return n;
  }
  bool WaitCalls(const std::string& key, int n, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return calls_[key] >= n; });
  }
  bool WaitRunning(int n, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return running_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> calls_;
  int running_ = 0;
  bool block_ = false;
};

bool Eventually(const std::function<bool()>& cond, milliseconds timeout = milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return cond();
}

// Maps a ConfigMap to the key in its "owner" label.
std::vector<std::string> OwnerKey(const json& obj) {
  auto labels = k8s::LabelsOf(obj);
  auto it = labels.find("owner");
  if (it == labels.end()) return {};
  return {k8s::NamespaceOf(obj) + "/" + it->second};
}

struct Harness {
  FakeApi api;
  RecordingReconciler rec;
  std::unique_ptr<Manager> manager;
  k8s::CancelTokenPtr stop = k8s::CancelToken::Create();
  std::future<RunOutcome> outcome;

  explicit Harness(ManagerOptions options = {}, Clock& clock = RealClock(),
                   ManagerHooks hooks = {}) {
    options.sample_period = milliseconds(20);
    manager = std::make_unique<Manager>(options, rec, std::move(hooks), clock);
    Informer& cms = manager->AddInformer(
        std::make_unique<Informer>(api, k8s::resources::ConfigMaps(), InformerOptions{}));
    manager->Watch(cms, OwnerKey);
  }
  void Run() {
    outcome = std::async(std::launch::async, [this] { return manager->Run(stop); });
  }
  RunOutcome Stop() {
    stop->Cancel();
    return outcome.get();
  }
};

TEST(ManagerTest, ReconcilesMappedKeysAndStopsCleanly) {
  Harness h;
  h.api.Put(k8s::resources::ConfigMaps(), Obj("ConfigMap", "ns", "c1", {{"owner", "u1"}}));
  EXPECT_FALSE(h.manager->Readyz().ok());
  h.Run();
  ASSERT_TRUE(h.rec.WaitCalls("ns/u1", 1));
  EXPECT_TRUE(h.manager->Readyz().ok());
  EXPECT_TRUE(h.manager->Healthz().ok());
  EXPECT_TRUE(h.manager->leading());

  // An update re-queues the old and the new owner.
  json c1 = *h.api.Peek(k8s::resources::ConfigMaps(), "ns", "c1");
  c1["metadata"]["labels"]["owner"] = "u2";
  h.api.Put(k8s::resources::ConfigMaps(), c1);
  ASSERT_TRUE(h.rec.WaitCalls("ns/u2", 1));
  ASSERT_TRUE(h.rec.WaitCalls("ns/u1", 2));
  h.api.Remove(k8s::resources::ConfigMaps(), "ns", "c1");
  ASSERT_TRUE(h.rec.WaitCalls("ns/u2", 2));

  RunOutcome out = h.Stop();
  EXPECT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_TRUE(out.drained);
  EXPECT_FALSE(h.manager->Readyz().ok());  // shutting down
}

TEST(ManagerTest, TicksWhileRunningAndNotAfterStop) {
  std::atomic<int> ticks{0};
  ManagerHooks hooks;
  hooks.on_tick = [&ticks] { ++ticks; };
  Harness h({}, RealClock(), std::move(hooks));
  h.Run();
  EXPECT_TRUE(Eventually([&] { return ticks.load() >= 3; }));
  RunOutcome out = h.Stop();
  EXPECT_TRUE(out.status.ok()) << out.status.ToString();
  const int after_stop = ticks.load();
  std::this_thread::sleep_for(milliseconds(100));  // five sample periods
  EXPECT_EQ(ticks.load(), after_stop);
}

TEST(ManagerTest, WaitsForRunningReconcileAndStartsNoNewOnes) {
  Harness h;
  h.rec.Block(true);
  h.api.Put(k8s::resources::ConfigMaps(), Obj("ConfigMap", "ns", "c1", {{"owner", "a"}}));
  h.Run();
  ASSERT_TRUE(h.rec.WaitRunning(1));
  // Queued while the reconcile of "a" runs: must not start after the stop.
  h.manager->queue().Add("ns/b");
  h.manager->queue().Add("ns/c");
  h.manager->queue().Add("ns/d");
  h.stop->Cancel();
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(h.outcome.wait_for(milliseconds(0)), std::future_status::timeout);
  h.rec.Block(false);
  RunOutcome out = h.outcome.get();
  EXPECT_TRUE(out.status.ok());
  EXPECT_TRUE(out.drained);
  // At most the other workers (the second one and the event worker) picked
  // one up each before the stop; none after.
  const ManagerOptions defaults;
  EXPECT_LE(h.rec.Calls("ns/b") + h.rec.Calls("ns/c") + h.rec.Calls("ns/d"),
            defaults.workers - 1 + defaults.event_workers);
}

TEST(ManagerTest, GracefulShutdownIsBounded) {
  ManagerOptions o;
  o.graceful_shutdown_timeout = milliseconds(200);
  Harness h(o);
  h.rec.Block(true);
  h.api.Put(k8s::resources::ConfigMaps(), Obj("ConfigMap", "ns", "c1", {{"owner", "a"}}));
  h.Run();
  ASSERT_TRUE(h.rec.WaitRunning(1));
  RunOutcome out = h.Stop();
  EXPECT_FALSE(out.drained);
  EXPECT_EQ(out.status.reason(), "ShutdownTimeout");
  EXPECT_NE(out.status.message().find("ns/a"), std::string::npos);
  // (A real process now _Exits.) Let the detached stopper finish first.
  h.rec.Block(false);
  std::this_thread::sleep_for(milliseconds(300));
}

TEST(ManagerTest, CacheSyncTimeoutFails) {
  ManagerOptions o;
  o.cache_sync_timeout = milliseconds(200);
  Harness h(o);
  h.api.SetDown(true);
  h.Run();
  RunOutcome out = h.outcome.get();
  EXPECT_EQ(out.status.reason(), "CacheSyncTimeout");
  EXPECT_NE(out.status.message().find("configmaps"), std::string::npos);
  EXPECT_EQ(h.rec.Total(), 0);
}

TEST(ManagerTest, HealthzFailsWhenAReconcileIsStuck) {
  FakeClock clock;
  ManagerOptions o;
  o.stall_timeout = std::chrono::minutes(5);
  o.graceful_shutdown_timeout = milliseconds(5000);
  Harness h(o, clock);
  h.rec.Block(true);
  h.api.Put(k8s::resources::ConfigMaps(), Obj("ConfigMap", "ns", "c1", {{"owner", "a"}}));
  h.Run();
  ASSERT_TRUE(h.rec.WaitRunning(1));
  EXPECT_TRUE(h.manager->Healthz().ok());
  clock.Advance(std::chrono::minutes(6));
  Status s = h.manager->Healthz();
  EXPECT_EQ(s.reason(), "ReconcileStalled");
  EXPECT_NE(s.message().find("ns/a"), std::string::npos);
  h.rec.Block(false);
  EXPECT_TRUE(h.Stop().drained);
}

TEST(ManagerTest, LeaderElectionGatesWorkersAndHandsOverOnStop) {
  FakeApi api;  // shared by both "processes"
  auto config = [](const std::string& id) {
    LeaderElectionConfig c;
    c.lease_namespace = "ops";
    c.identity = id;
    c.lease_duration = milliseconds(1000);
    c.renew_deadline = milliseconds(600);
    c.retry_period = milliseconds(100);
    return c;
  };
  api.Put(k8s::resources::ConfigMaps(), Obj("ConfigMap", "ns", "c1", {{"owner", "a"}}));
  RecordingReconciler rec_a, rec_b;
  ManagerOptions o;
  o.sample_period = milliseconds(20);
  Manager a(o, rec_a);
  Manager b(o, rec_b);
  for (Manager* m : {&a, &b}) {
    Informer& cms = m->AddInformer(
        std::make_unique<Informer>(api, k8s::resources::ConfigMaps(), InformerOptions{}));
    m->Watch(cms, OwnerKey);
  }
  ASSERT_TRUE(a.EnableLeaderElection(api, config("a")).ok());
  ASSERT_TRUE(b.EnableLeaderElection(api, config("b")).ok());
  auto stop_a = k8s::CancelToken::Create();
  auto stop_b = k8s::CancelToken::Create();
  auto run_a = std::async(std::launch::async, [&] { return a.Run(stop_a); });
  ASSERT_TRUE(rec_a.WaitCalls("ns/a", 1));
  auto run_b = std::async(std::launch::async, [&] { return b.Run(stop_b); });
  ASSERT_TRUE(Eventually([&] { return b.Readyz().ok(); }));  // a ready standby
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(rec_b.Total(), 0);
  EXPECT_FALSE(b.leading());

  stop_a->Cancel();
  EXPECT_TRUE(run_a.get().status.ok());
  ASSERT_TRUE(rec_b.WaitCalls("ns/a", 1));  // b took over and reconciled the backlog
  EXPECT_TRUE(b.leading());
  stop_b->Cancel();
  EXPECT_TRUE(run_b.get().status.ok());
}

TEST(ManagerTest, LostLeadershipEndsRunWithAnError) {
  FakeApi api;
  RecordingReconciler rec;
  ManagerOptions o;
  o.sample_period = milliseconds(20);
  Manager m(o, rec);
  Informer& cms = m.AddInformer(
      std::make_unique<Informer>(api, k8s::resources::ConfigMaps(), InformerOptions{}));
  m.Watch(cms, OwnerKey);
  LeaderElectionConfig c;
  c.lease_namespace = "ops";
  c.identity = "me";
  c.lease_duration = milliseconds(1000);
  c.renew_deadline = milliseconds(600);
  c.retry_period = milliseconds(100);
  ASSERT_TRUE(m.EnableLeaderElection(api, c).ok());
  auto stop = k8s::CancelToken::Create();
  auto run = std::async(std::launch::async, [&] { return m.Run(stop); });
  ASSERT_TRUE(Eventually([&] { return m.leading(); }));
  api.SetDown(true);
  ASSERT_EQ(run.wait_for(milliseconds(5000)), std::future_status::ready);
  RunOutcome out = run.get();
  EXPECT_EQ(out.status.reason(), "LeaderElectionLost");
  EXPECT_TRUE(out.drained);
}

TEST(ManagerTest, InvalidLeaderElectionConfigIsRejected) {
  RecordingReconciler rec;
  Manager m({}, rec);
  FakeApi api;
  LeaderElectionConfig c;  // no identity
  EXPECT_FALSE(m.EnableLeaderElection(api, c).ok());
}

}  // namespace
}  // namespace ruo::runtime
