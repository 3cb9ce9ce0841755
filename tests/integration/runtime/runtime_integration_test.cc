// Informers and leader election against the real local control plane
// (hack/cluster). RUO_KUBECONFIG names the admin kubeconfig (CTest's
// k8s_cluster fixture sets it); without it every test fails, on purpose.
// Each test works in a namespace of its own, deleted at the end.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/resource.h"
#include "runtime/informer.h"
#include "runtime/leader_election.h"
#include "support/wait.h"

namespace ruo::runtime {
namespace {

using ::ruo::testing::RandomSuffix;
bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  return ::ruo::testing::WaitUntil(pred, timeout, std::chrono::milliseconds(50));
}

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Handler calls as "add NAME", "update NAME", "delete NAME".
class Recorder {
 public:
  ResourceEventHandler Handler() {
    ResourceEventHandler h;
    h.on_add = [this](const json& o) { Push("add " + k8s::NameOf(o)); };
    h.on_update = [this](const json&, const json& n) { Push("update " + k8s::NameOf(n)); };
    h.on_delete = [this](const json& o) { Push("delete " + k8s::NameOf(o)); };
    return h;
  }
  bool WaitFor(const std::string& call, milliseconds timeout = milliseconds(30000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& c : calls_) {
        if (c == call) return true;
      }
      return false;
    });
  }
  int Count(const std::string& call) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& c : calls_) n += c == call;
    return n;
  }

 private:
  void Push(std::string s) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(s));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
};

class RuntimeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* kc = std::getenv("RUO_KUBECONFIG");
    ASSERT_TRUE(kc != nullptr && *kc != '\0')
        << "RUO_KUBECONFIG is not set: run through ctest (fixture k8s_cluster) or export it "
           "to the kubeconfig hack/cluster/up.sh prints";
    auto config = k8s::LoadKubeconfig(kc);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;
    auto client = k8s::NewClient(config_);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    ns_ = "ruo-rt-" + RandomSuffix();
    json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}};
    auto created = client_->Create(k8s::resources::Namespaces(), "", ns);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  void TearDown() override {
    if (client_ && !ns_.empty()) {
      (void)client_->Delete(k8s::resources::Namespaces(), "", ns_, {});
    }
  }

  json ConfigMap(const std::string& name, json data) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", ns_}}},
            {"data", std::move(data)}};
  }

  LeaderElectionConfig Election(const std::string& identity) {
    LeaderElectionConfig c;
    c.lease_namespace = ns_;
    c.lease_name = "ruo-it";
    c.identity = identity;
    c.lease_duration = seconds(3);
    c.renew_deadline = seconds(2);
    c.retry_period = milliseconds(300);
    return c;
  }

  std::optional<LeaseRecord> ReadLease() {
    auto lease = client_->Get(k8s::resources::Leases(), ns_, "ruo-it");
    if (!lease.ok()) return std::nullopt;
    return LeaseRecordFromJson(*lease);
  }

  k8s::RestConfig config_;
  std::unique_ptr<k8s::Client> client_;
  std::string ns_;
};

TEST_F(RuntimeIntegrationTest, InformerSeesConfigMapAddUpdateDelete) {
  auto pre = client_->Create(k8s::resources::ConfigMaps(), ns_, ConfigMap("before", {{"a", "1"}}));
  ASSERT_TRUE(pre.ok()) << pre.status().ToString();

  InformerOptions opts;
  opts.ns = ns_;
  Informer informer(*client_, k8s::resources::ConfigMaps(), opts);
  Recorder rec;
  informer.AddEventHandler(rec.Handler());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(milliseconds(30000)));
  EXPECT_TRUE(rec.WaitFor("add before", milliseconds(0)));
  EXPECT_TRUE(informer.Get(ns_ + "/before").has_value());

  auto created =
      client_->Create(k8s::resources::ConfigMaps(), ns_, ConfigMap("cm1", {{"k", "v1"}}));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(rec.WaitFor("add cm1"));

  json updated = *created;
  updated["data"]["k"] = "v2";
  ASSERT_TRUE(client_->Update(k8s::resources::ConfigMaps(), ns_, updated).ok());
  ASSERT_TRUE(rec.WaitFor("update cm1"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto cached = informer.Get(ns_ + "/cm1");
        return cached && (*cached)["data"]["k"] == "v2";
      },
      milliseconds(5000)));
  // The cache does not keep managedFields.
  EXPECT_FALSE((*informer.Get(ns_ + "/cm1"))["metadata"].contains("managedFields"));

  ASSERT_TRUE(client_->Delete(k8s::resources::ConfigMaps(), ns_, "cm1", {}).ok());
  ASSERT_TRUE(rec.WaitFor("delete cm1"));
  EXPECT_FALSE(informer.Get(ns_ + "/cm1").has_value());
  EXPECT_TRUE(informer.Get(ns_ + "/before").has_value());
  EXPECT_EQ(rec.Count("add cm1"), 1);
  informer.Stop();
}

TEST_F(RuntimeIntegrationTest, InformerSeesPodAddUpdateDeleteWithLabelSelector) {
  InformerOptions opts;
  opts.ns = ns_;
  opts.label_selector = "ruo-it=yes";
  Informer informer(*client_, k8s::resources::Pods(), opts);
  Recorder rec;
  informer.AddEventHandler(rec.Handler());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(milliseconds(30000)));

  auto pod = [&](const std::string& name, const std::string& label) {
    return json{{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", name}, {"namespace", ns_}, {"labels", {{"ruo-it", label}}}}},
                {"spec",
                 {{"containers", json::array({{{"name", "c"}, {"image", "ruo-it/none:1"}}})},
                  {"terminationGracePeriodSeconds", 0}}}};
  };
  ASSERT_TRUE(client_->Create(k8s::resources::Pods(), ns_, pod("p-yes", "yes")).ok());
  ASSERT_TRUE(client_->Create(k8s::resources::Pods(), ns_, pod("p-no", "no")).ok());
  ASSERT_TRUE(rec.WaitFor("add p-yes"));

  ASSERT_TRUE(client_
                  ->MergePatch(k8s::resources::Pods(), ns_, "p-yes",
                               {{"metadata", {{"annotations", {{"touched", "1"}}}}}})
                  .ok());
  ASSERT_TRUE(rec.WaitFor("update p-yes"));

  k8s::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client_->Delete(k8s::resources::Pods(), ns_, "p-yes", now).ok());
  ASSERT_TRUE(rec.WaitFor("delete p-yes"));
  EXPECT_EQ(rec.Count("add p-no"), 0);  // filtered by the selector
  EXPECT_EQ(informer.Size(), 0u);
  (void)client_->Delete(k8s::resources::Pods(), ns_, "p-no", now);
  informer.Stop();
}

TEST_F(RuntimeIntegrationTest, OnlyOneLeadsAndTheStandbyTakesOverAfterRelease) {
  std::atomic<int> a_started{0}, b_started{0};
  LeaderCallbacks ca, cb;
  ca.on_started_leading = [&] { ++a_started; };
  cb.on_started_leading = [&] { ++b_started; };
  auto a = std::make_unique<LeaderElector>(*client_, Election("a"), ca);
  LeaderElector b(*client_, Election("b"), cb);
  a->Start();
  ASSERT_TRUE(WaitUntil([&] { return a->IsLeader(); }, milliseconds(15000)));
  b.Start();
  // Two lease durations: a keeps renewing, b never leads.
  for (int i = 0; i < 12; ++i) {
    std::this_thread::sleep_for(milliseconds(500));
    ASSERT_TRUE(a->IsLeader());
    ASSERT_FALSE(b.IsLeader());
  }
  EXPECT_EQ(b.ObservedLeader(), "a");
  auto lease = ReadLease();
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->holder_identity, "a");
  EXPECT_EQ(lease->lease_duration_seconds, 3);

  auto released_at = std::chrono::steady_clock::now();
  a->Stop();  // graceful: releases the lease
  ASSERT_TRUE(WaitUntil([&] { return b.IsLeader(); }, milliseconds(10000)));
  // Taken over at once (a retry period or two), not after a lease duration.
  EXPECT_LT(std::chrono::steady_clock::now() - released_at, milliseconds(2500));
  lease = ReadLease();
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->holder_identity, "b");
  EXPECT_GE(lease->lease_transitions, 1);
  EXPECT_EQ(a_started, 1);
  EXPECT_EQ(b_started, 1);
  b.Stop();
  lease = ReadLease();
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->holder_identity, "");
}

TEST_F(RuntimeIntegrationTest, AnAbandonedLeaseIsTakenOverAfterItsDuration) {
  auto config = Election("crashed");
  config.release_on_cancel = false;  // as if the process died
  auto first = std::make_unique<LeaderElector>(*client_, config, LeaderCallbacks{});
  first->Start();
  ASSERT_TRUE(WaitUntil([&] { return first->IsLeader(); }, milliseconds(15000)));
  first->Stop();
  first.reset();
  ASSERT_EQ(ReadLease()->holder_identity, "crashed");

  auto start = std::chrono::steady_clock::now();
  LeaderElector next(*client_, Election("next"), {});
  next.Start();
  ASSERT_TRUE(WaitUntil([&] { return next.IsLeader(); }, milliseconds(15000)));
  // Not before a full lease duration since `next` first saw the record.
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(3000));
  EXPECT_EQ(ReadLease()->holder_identity, "next");
  next.Stop();
}

}  // namespace
}  // namespace ruo::runtime
