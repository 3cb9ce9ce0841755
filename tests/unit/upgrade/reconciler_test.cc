// The phase sequence against an in-memory API server and Redis network: what
// each reconcile changes, and what it must not touch.
#include "upgrade/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/switch_record.h"
#include "k8s/config.h"
#include "k8s/events.h"
#include "k8s/resource.h"
#include "unit/upgrade/fake_k8s_client.h"
#include "unit/upgrade/fake_redis.h"

namespace ruo::upgrade {
namespace {

using nlohmann::json;
using runtime::Result;
using ::testing::Contains;
using testing::FakeK8sClient;
using testing::FakeRedisDialer;
using testing::FakeRedisNet;
using testing::FakeRedisServer;
using ::testing::HasSubstr;
using ::testing::Not;

namespace res = k8s::resources;

constexpr const char* kNs = "shop";
constexpr const char* kName = "orders-to-7";
constexpr const char* kOld = "10.0.0.1:6379";
constexpr const char* kNew0 = "10.0.1.1:6379";
constexpr const char* kNew1 = "10.0.1.2:6379";
constexpr const char* kSts = "orders-redis-7-0";

json Pod(const std::string& name, const std::map<std::string, std::string>& labels,
         const std::string& ip, bool ready) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"namespace", kNs}, {"labels", labels}}},
      {"spec",
       {{"containers",
         json::array({{{"name", "redis"},
                       {"image", "redis:7.0"},
                       {"ports", json::array({{{"name", "redis"}, {"containerPort", 6379}}})},
                       {"resources", {{"limits", {{"memory", "256Mi"}}}}}}})}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", ip},
        {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() : clock_(std::chrono::system_clock::from_time_t(1767268800)) {}  // 12:00Z

  void SetUp() override {
    client_.Put(res::Services(),
                {{"apiVersion", "v1"},
                 {"kind", "Service"},
                 {"metadata", {{"name", "orders-redis"}, {"namespace", kNs}}},
                 {"spec",
                  {{"selector", {{"app", "orders-redis"}}},
                   {"ports", json::array({{{"port", 6379}, {"targetPort", 6379}}})}}}});
    client_.Put(res::Pods(), Pod("orders-redis-0", {{"app", "orders-redis"}}, "10.0.0.1", true));
    old_ = net_.Add(kOld);
    // The Service's EndpointSlices follow its selector at once (the switch
    // closes old clients until they list only new pods).
    client_.endpoint_slice_controller = true;
    opts_.test_switch_step_delay = "";
    rec_ = std::make_unique<UpgradeReconciler>(client_, events_, dialer_, clock_, metrics_, opts_);
  }

  void CreateUpgrade(const json& spec_patch = json::object()) {
    json spec = {{"instance", {{"service", "orders-redis"}}},
                 {"targetVersion", "7.0"},
                 {"allowSameVersion", true},
                 {"replicas", 1},
                 {"switchover", {{"mode", "Immediate"}}}};
    spec.merge_patch(spec_patch);
    client_.Put(res::RedisUpgrades(), {{"apiVersion", "redisupgrade.dev/v1alpha1"},
                                       {"kind", "RedisUpgrade"},
                                       {"metadata", {{"name", kName}, {"namespace", kNs}}},
                                       {"spec", spec}});
  }

  Result Reconcile() { return rec_->Reconcile(std::string(kNs) + "/" + kName); }
  json& Object() { return client_.At(res::RedisUpgrades(), kNs, kName); }
  json Status() { return Object()["status"]; }
  std::string Phase() { return Status().value("phase", ""); }

  // "Type/Reason" of every Event, in creation order.
  std::vector<std::string> Events() {
    std::vector<std::string> out;
    for (const auto& e : client_.All(res::Events(), kNs)) {
      out.push_back(e.value("type", "") + "/" + e.value("reason", ""));
    }
    return out;
  }
  std::string AllEventText() {
    std::string out;
    for (const auto& e : client_.All(res::Events(), kNs)) out += e.dump();
    return out;
  }

  // Plays the StatefulSet controller and the kubelet: the pods of the new
  // StatefulSet, with IPs and a Redis of `version` each.
  void RunStatefulSet(const std::string& version = "7.0.15", bool ready = true) {
    const json sts = client_.At(res::StatefulSets(), kNs, kSts);
    const int n = sts["spec"]["replicas"];
    const auto labels = sts["spec"]["template"]["metadata"]["labels"];
    for (int i = 0; i < n; ++i) {
      const std::string ip = "10.0.1." + std::to_string(i + 1);
      std::map<std::string, std::string> l = labels;
      l["statefulset.kubernetes.io/pod-name"] = std::string(kSts) + "-" + std::to_string(i);
      client_.Put(res::Pods(), Pod(std::string(kSts) + "-" + std::to_string(i), l, ip, ready));
      FakeRedisServer s;
      s.version = version;
      s.keys = 0;
      s.offset = 0;
      net_.Add(ip + ":6379", s);
    }
  }

  // Pending → … → WaitingForSwitch, outside a maintenance window.
  void BringToWaiting() {
    CreateUpgrade(
        {{"switchover",
          {{"mode", "MaintenanceWindow"},
           {"maintenanceWindow", {{"start", "18:00"}, {"duration", "1h"}, {"timeZone", "UTC"}}}}}});
    ASSERT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
    RunStatefulSet();
    ASSERT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
    ASSERT_EQ(Phase(), "WaitingForSwitch");
  }

  void SwitchNow() {
    Object()["metadata"]["annotations"] = {{"redisupgrade.dev/switch-now", "true"}};
  }

  FakeK8sClient client_;
  FakeClock clock_;
  k8s::EventRecorder events_{client_, "redis-upgrade-operator", clock_};
  FakeRedisNet net_;
  FakeRedisDialer dialer_{net_};
  NoopUpgradeMetrics metrics_;
  ReconcilerOptions opts_;
  std::shared_ptr<FakeRedisServer> old_;
  std::unique_ptr<UpgradeReconciler> rec_;
};

TEST_F(ReconcilerTest, ImmediateUpgradeRunsToCompleted) {
  CreateUpgrade();
  const std::string original_obuf = old_->config.at("client-output-buffer-limit");

  // Validating passes and Provisioning creates the new objects, then waits.
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kRequeueAfter) << r.ToString();
  EXPECT_EQ(Phase(), "Provisioning");
  EXPECT_THAT(Object()["metadata"]["finalizers"], Contains("redisupgrade.dev/cleanup"));
  EXPECT_EQ(Status()["newStatefulSet"], kSts);
  EXPECT_EQ(Status()["oldMasterPod"], "orders-redis-0");
  EXPECT_EQ(Status()["sourceVersion"], "7.0.15");
  EXPECT_EQ(Status()["source"]["podIP"], "10.0.0.1");
  EXPECT_EQ(Status()["originalSelector"]["app"], "orders-redis");
  ASSERT_TRUE(client_.Has(res::StatefulSets(), kNs, kSts));
  ASSERT_TRUE(client_.Has(res::Services(), kNs, std::string(kSts) + "-hl"));
  const json sts = client_.At(res::StatefulSets(), kNs, kSts);
  EXPECT_EQ(sts["spec"]["replicas"], 2);
  const auto args =
      sts["spec"]["template"]["spec"]["containers"][0]["args"].get<std::vector<std::string>>();
  EXPECT_THAT(args,
              ::testing::IsSupersetOf({"--maxmemory-policy", "noeviction", "--save", "3600"}));
  EXPECT_EQ(sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "256Mi");

  // The pods come up: one reconcile goes Syncing → WaitingForSwitch → Switching → Completed.
  RunStatefulSet();
  r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kDone) << r.ToString();
  ASSERT_EQ(Phase(), "Completed") << Status().dump(2);
  const json st = Status();
  EXPECT_EQ(st["targetVersion"], "7.0.15");
  EXPECT_EQ(st["newMasterPod"], std::string(kSts) + "-0");
  EXPECT_EQ(st["switch"]["attempts"], 1);
  EXPECT_EQ(st["switch"]["step"], "Completed");
  EXPECT_TRUE(st["switch"].contains("writeBlockedMillis"));
  EXPECT_TRUE(st["switch"].contains("completedAt"));
  EXPECT_FALSE(st["sync"].contains("savedConfig"));  // restored after the switch
  for (const char* p :
       {"Validating", "Provisioning", "Syncing", "WaitingForSwitch", "Switching", "Completed"}) {
    EXPECT_TRUE(st["phaseTimes"].contains(p)) << p;
  }
  bool ready = false;
  for (const auto& c : st["conditions"]) {
    if (c["type"] == "Ready") ready = c["status"] == "True";
  }
  EXPECT_TRUE(ready);

  // The Service selects the new master; the old one is sealed; the replica follows the new master.
  EXPECT_EQ(client_.At(res::Services(), kNs, "orders-redis")["spec"]["selector"],
            json({{"statefulset.kubernetes.io/pod-name", std::string(kSts) + "-0"}}));
  EXPECT_EQ(old_->role, "slave");
  EXPECT_EQ(old_->master_host, "127.0.0.1");
  EXPECT_EQ(old_->master_port, 1);
  EXPECT_EQ(old_->config.at("client-output-buffer-limit"), original_obuf);
  EXPECT_EQ(net_[kNew0].role, "master");
  EXPECT_EQ(net_[kNew0].keys, 10);
  EXPECT_EQ(net_[kNew1].role, "slave");
  EXPECT_EQ(net_[kNew1].master_host, "10.0.1.1");

  const auto events = Events();
  for (const char* e :
       {"Normal/Validating", "Normal/ChecksPassed", "Normal/Provisioning", "Normal/Provisioned",
        "Normal/Synced", "Normal/SwitchStarted", "Normal/SwitchCompleted"}) {
    EXPECT_THAT(events, Contains(e));
  }
  EXPECT_THAT(events, Not(Contains(HasSubstr("Warning/"))));

  // Nothing more to do; deleting it now leaves the new instance in place.
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  ASSERT_TRUE(client_.Delete(res::RedisUpgrades(), kNs, kName, {}).ok());
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  EXPECT_FALSE(client_.Has(res::RedisUpgrades(), kNs, kName));
  EXPECT_TRUE(client_.Has(res::StatefulSets(), kNs, kSts));
}

// The Service's EndpointSlice as the EndpointSlice controller writes it, with
// ready endpoints at `ips`.
json Slice(const std::vector<std::string>& ips) {
  json endpoints = json::array();
  for (const auto& ip : ips) {
    endpoints.push_back({{"addresses", json::array({ip})}, {"conditions", {{"ready", true}}}});
  }
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", "orders-redis-x7k2p"},
            {"namespace", kNs},
            {"labels", {{"kubernetes.io/service-name", "orders-redis"}}}}},
          {"addressType", "IPv4"},
          {"endpoints", endpoints}};
}

int CountPrefix(const std::vector<std::string>& lines, const std::string& prefix) {
  int n = 0;
  for (const auto& l : lines) n += l.rfind(prefix, 0) == 0;
  return n;
}

TEST_F(ReconcilerTest, OldClientsAreClosedUntilTheEndpointSlicesListOnlyTheNewPod) {
  // A lagging EndpointSlice controller: the slice lists the old master for the
  // first three checks after the selector patch, then the new one.
  client_.endpoint_slice_controller = false;
  client_.Put(res::EndpointSlices(), Slice({"10.0.0.1"}));
  int lists = 0;
  client_.fault = [&](const std::string& verb, const std::string& resource, const std::string&) {
    if (verb == "List" && resource == "endpointslices" && ++lists == 4) {
      client_.Put(res::EndpointSlices(), Slice({"10.0.1.1"}));
    }
    return Status::Ok();
  };
  CreateUpgrade();
  ASSERT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  const size_t before = old_->commands.size();
  RunStatefulSet();
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kDone) << r.ToString();
  ASSERT_EQ(Phase(), "Completed") << Status().dump(2);

  EXPECT_EQ(lists, 4);
  // One kill in the seal, one per check (at 0, 100, 200, 300 ms), one more after it settled.
  const std::vector<std::string> sent(old_->commands.begin() + before, old_->commands.end());
  EXPECT_EQ(CountPrefix(sent, "CLIENT KILL TYPE normal"), 1 + 4 + 1);
  EXPECT_THAT(Status()["message"].get<std::string>(),
              HasSubstr("old client connections closed for 400 ms, until the Service's endpoints "
                        "listed only new pods"));
  EXPECT_THAT(AllEventText(), HasSubstr("closed for 400 ms, until the Service's endpoints"));
  EXPECT_THAT(Events(), Not(Contains(HasSubstr("Warning/"))));
  EXPECT_FALSE(Status()["switch"].contains("lastError"));
}

TEST_F(ReconcilerTest, EndpointSlicesThatNeverSettleCompleteWithAWarning) {
  opts_.client_kill_max = std::chrono::milliseconds(1000);
  rec_ = std::make_unique<UpgradeReconciler>(client_, events_, dialer_, clock_, metrics_, opts_);
  client_.endpoint_slice_controller = false;
  client_.Put(res::EndpointSlices(), Slice({"10.0.0.1", "10.0.1.1"}));  // old one still listed
  CreateUpgrade();
  ASSERT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  RunStatefulSet();
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kDone) << r.ToString();
  // Finished anyway: the old master is sealed.
  ASSERT_EQ(Phase(), "Completed") << Status().dump(2);
  EXPECT_EQ(old_->role, "slave");
  EXPECT_EQ(client_.Count("List endpointslices"), 11);  // at 0, 100, ... 1000 ms
  EXPECT_THAT(Events(), Contains("Warning/EndpointsNotSettled"));
  EXPECT_THAT(Status()["message"].get<std::string>(),
              HasSubstr("closed for 1000 ms; the Service's endpoints still did not list only "
                        "new pods"));
  EXPECT_THAT(Status()["switch"].value("lastError", ""), HasSubstr("client_kill_max (1000 ms)"));
}

TEST_F(ReconcilerTest, DowngradeIsRefusedBeforeAnythingIsCreated) {
  CreateUpgrade({{"targetVersion", "6.2"}});
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kTerminal);
  EXPECT_EQ(r.status().reason(), "DowngradeRefused");
  EXPECT_EQ(Phase(), "Failed");
  EXPECT_EQ(Status()["reason"], "DowngradeRefused");
  EXPECT_THAT(Status()["message"].get<std::string>(), HasSubstr("7.0.15"));
  EXPECT_THAT(Events(), Contains("Warning/DowngradeRefused"));
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
  EXPECT_EQ(client_.Count("Create statefulsets"), 0);
  for (const auto& c : old_->commands) {
    EXPECT_THAT(c, Not(HasSubstr("CONFIG SET")));
    EXPECT_THAT(c, Not(HasSubstr("SLAVEOF")));
  }
  // Terminal: the next reconcile does nothing.
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
}

TEST_F(ReconcilerTest, RefusalsCarryTheirReason) {
  struct Case {
    const char* name;
    std::function<void()> setup;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"unknown service", [this] { client_.Erase(res::Services(), kNs, "orders-redis"); },
       "ServiceNotFound"},
      {"no ready pod",
       [this] {
         client_.Put(res::Pods(),
                     Pod("orders-redis-0", {{"app", "orders-redis"}}, "10.0.0.1", false));
       },
       "NoReadyMaster"},
      {"cluster mode", [this] { old_->cluster = true; }, "ClusterModeNotSupported"},
      {"two masters",
       [this] {
         client_.Put(res::Pods(),
                     Pod("orders-redis-1", {{"app", "orders-redis"}}, "10.0.0.2", true));
         net_.Add("10.0.0.2:6379");
       },
       "MultipleMasters"},
      {"password required", [this] { old_->password = "pw"; }, "AuthRequired"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    client_ = FakeK8sClient();
    net_ = FakeRedisNet();
    SetUp();
    CreateUpgrade();
    c.setup();
    Result r = Reconcile();
    EXPECT_EQ(r.kind(), Result::Kind::kTerminal) << r.ToString();
    EXPECT_EQ(Phase(), "Failed");
    EXPECT_EQ(Status().value("reason", ""), c.reason);
    EXPECT_THAT(Events(), Contains(std::string("Warning/") + c.reason));
    EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
  }
}

TEST_F(ReconcilerTest, ServiceSelectingOnlyAReplicaIsNotAMaster) {
  old_->role = "slave";
  old_->master_host = "10.0.0.9";
  old_->master_port = 6379;
  CreateUpgrade();
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Status()["reason"], "NotAMaster");
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
}

TEST_F(ReconcilerTest, OverlongNameIsRefusedBeforeAnythingIsCreated) {
  const std::string name(64, 'n');
  client_.Put(res::RedisUpgrades(), {{"apiVersion", "redisupgrade.dev/v1alpha1"},
                                     {"kind", "RedisUpgrade"},
                                     {"metadata", {{"name", name}, {"namespace", kNs}}},
                                     {"spec",
                                      {{"instance", {{"service", "orders-redis"}}},
                                       {"targetVersion", "7.0"},
                                       {"allowSameVersion", true}}}});
  EXPECT_EQ(rec_->Reconcile(std::string(kNs) + "/" + name).kind(), Result::Kind::kTerminal);
  EXPECT_EQ(client_.At(res::RedisUpgrades(), kNs, name)["status"]["reason"], "NameTooLong");
  EXPECT_EQ(client_.Count("Create statefulsets"), 0);
}

TEST_F(ReconcilerTest, BusySourceIsWaitedOutWithItsReasonThenProceeds) {
  old_->bgsave = true;
  CreateUpgrade();
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kRequeueAfter) << r.ToString();
  EXPECT_EQ(Phase(), "Validating");
  EXPECT_EQ(Status()["reason"], "SourceBusy");
  EXPECT_THAT(Status().dump(), HasSubstr("rdb_bgsave_in_progress"));
  EXPECT_THAT(Events(), Contains("Warning/SourceBusy"));
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  EXPECT_EQ(Phase(), "Validating");
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
  // The BGSAVE ends: the upgrade carries on, Degraded cleared.
  old_->bgsave = false;
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  EXPECT_EQ(Phase(), "Provisioning");
  EXPECT_TRUE(client_.Has(res::StatefulSets(), kNs, kSts));
  for (const auto& c : Status()["conditions"]) {
    if (c["type"] == "Degraded") {
      EXPECT_EQ(c["status"], "False") << c.dump();
    }
  }
  // A BGSAVE during Provisioning does not stop it either.
  old_->bgsave = true;
  RunStatefulSet();
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  EXPECT_EQ(Phase(), "Completed");
}

TEST_F(ReconcilerTest, SourceBusyForTooLongIsRefused) {
  old_->bgsave = true;
  CreateUpgrade();
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  clock_.Advance(opts_.source_busy_grace + std::chrono::seconds(1));
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Phase(), "Failed");
  EXPECT_EQ(Status()["reason"], "SourceBusy");
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
}

// The new master pod as a kubelet reports an image it cannot pull.
void PutWaitingPod(FakeK8sClient& client, const std::string& reason) {
  json pod = Pod(std::string(kSts) + "-0", {}, "", false);
  pod["status"] = {
      {"phase", "Pending"},
      {"containerStatuses", json::array({{{"name", "redis"},
                                          {"image", "nosuch/redis:7.0"},
                                          {"state", {{"waiting", {{"reason", reason}}}}}}})}};
  client.Put(res::Pods(), pod);
}

TEST_F(ReconcilerTest, ImageThatCannotBePulledIsNamedThenRefused) {
  CreateUpgrade({{"image", "nosuch/redis:7.0"}});
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  ASSERT_TRUE(client_.Has(res::StatefulSets(), kNs, kSts));
  PutWaitingPod(client_, "ErrImagePull");
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  EXPECT_EQ(Phase(), "Provisioning");
  EXPECT_EQ(Status()["reason"], "ImagePullFailed");
  EXPECT_THAT(Events(), Contains("Warning/ImagePullFailed"));
  clock_.Advance(opts_.new_pod_failure_grace + std::chrono::seconds(1));
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Phase(), "Failed");
  EXPECT_EQ(Status()["reason"], "ImagePullFailed");
  EXPECT_THAT(Status()["message"].get<std::string>(), HasSubstr("nosuch/redis:7.0"));
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
}

TEST_F(ReconcilerTest, ImagePullThatRecoversCarriesOn) {
  CreateUpgrade();
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  PutWaitingPod(client_, "ImagePullBackOff");
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  EXPECT_EQ(Status()["reason"], "ImagePullFailed");
  // The registry answers again before the grace period ends.
  clock_.Advance(opts_.new_pod_failure_grace / 2);
  RunStatefulSet();
  Result r = Reconcile();
  EXPECT_NE(r.kind(), Result::Kind::kTerminal) << r.ToString();
  EXPECT_NE(Phase(), "Failed");
  EXPECT_NE(Phase(), "Provisioning");
  EXPECT_TRUE(client_.Has(res::StatefulSets(), kNs, kSts));
  for (const auto& c : Status()["conditions"]) {
    if (c["type"] == "Degraded") {
      EXPECT_EQ(c["status"], "False") << c.dump();
    }
  }
}

TEST_F(ReconcilerTest, InvalidImageNameIsRefusedAtOnce) {
  CreateUpgrade();
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  PutWaitingPod(client_, "InvalidImageName");
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Status()["reason"], "ImagePullFailed");
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
}

TEST_F(ReconcilerTest, WrongPasswordIsRefusedAndNeverShown) {
  old_->password = "right-password";
  client_.Put(res::Secrets(), {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", "auth"}, {"namespace", kNs}}},
                               {"data", {{"password", k8s::Base64Encode("wrong-password")}}}});
  CreateUpgrade({{"auth", {{"secretRef", {{"name", "auth"}, {"key", "password"}}}}}});
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Status()["reason"], "AuthFailed");
  EXPECT_THAT(Object().dump() + AllEventText(), Not(HasSubstr("wrong-password")));

  // A missing key in the Secret is its own reason.
  TearDown();
  client_ = FakeK8sClient();
  SetUp();
  client_.Put(res::Secrets(), {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", "auth"}, {"namespace", kNs}}},
                               {"data", json::object()}});
  CreateUpgrade({{"auth", {{"secretRef", {{"name", "auth"}, {"key", "password"}}}}}});
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Status()["reason"], "SecretKeyNotFound");
}

TEST_F(ReconcilerTest, PasswordFlowsThroughTheSecretOnly) {
  old_->password = "s3cret-pw";
  client_.Put(res::Secrets(), {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", "auth"}, {"namespace", kNs}}},
                               {"data", {{"password", k8s::Base64Encode("s3cret-pw")}}}});
  CreateUpgrade({{"auth", {{"secretRef", {{"name", "auth"}, {"key", "password"}}}}}});
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  RunStatefulSet();
  net_[kNew0].password = "s3cret-pw";
  net_[kNew1].password = "s3cret-pw";
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  EXPECT_EQ(Phase(), "Completed");
  EXPECT_EQ(net_[kNew0].config.at("masterauth"), "s3cret-pw");
  const std::string visible =
      Object().dump() + AllEventText() + client_.At(res::StatefulSets(), kNs, kSts).dump();
  EXPECT_THAT(visible, Not(HasSubstr("s3cret-pw")));
}

TEST_F(ReconcilerTest, SecondUpgradeOfTheSameServiceIsRefused) {
  client_.now = "2026-01-01T11:00:00Z";
  client_.Put(res::RedisUpgrades(),
              {{"apiVersion", "redisupgrade.dev/v1alpha1"},
               {"kind", "RedisUpgrade"},
               {"metadata", {{"name", "first"}, {"namespace", kNs}}},
               {"spec", {{"instance", {{"service", "orders-redis"}}}, {"targetVersion", "7.0"}}},
               {"status", {{"phase", "Syncing"}}}});
  client_.now = "2026-01-01T11:30:00Z";
  CreateUpgrade();
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Status()["reason"], "UpgradeInProgress");
  EXPECT_THAT(Status()["message"].get<std::string>(), HasSubstr("first"));
}

TEST_F(ReconcilerTest, WaitingPhaseStopsTheSequence) {
  CreateUpgrade();
  ASSERT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  RunStatefulSet("7.0.15", /*ready=*/false);
  old_->commands.clear();
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kRequeueAfter);
  EXPECT_EQ(r.delay(), opts_.provision_poll_interval);
  EXPECT_EQ(Phase(), "Provisioning");
  EXPECT_THAT(Status()["message"].get<std::string>(), HasSubstr("0/2 new pods ready"));
  // Syncing did not run: nothing replicates, no limit was raised.
  EXPECT_EQ(net_[kNew0].role, "master");
  EXPECT_TRUE(old_->commands.empty());
  EXPECT_FALSE(Status()["sync"].contains("savedConfig"));
}

TEST_F(ReconcilerTest, TargetNewerThanEveryCheckedLineProceedsWithAWarning) {
  CreateUpgrade({{"targetVersion", "9.0"}, {"allowSameVersion", false}});
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  EXPECT_EQ(Phase(), "Provisioning");
  EXPECT_THAT(Events(), Contains("Warning/NewerThanChecked"));
  const json status = Status();
  const json* cond = nullptr;
  for (const auto& c : status["conditions"]) {
    if (c.value("type", "") == "VersionsChecked") cond = &c;
  }
  ASSERT_NE(cond, nullptr) << status.dump(2);
  EXPECT_EQ(cond->value("status", ""), "False");
  EXPECT_EQ(cond->value("reason", ""), "NewerThanChecked");
  EXPECT_THAT(cond->value("message", ""), HasSubstr("target's Redis 9.0 is newer than"));
  EXPECT_THAT(cond->value("message", ""), HasSubstr("rules of 8.2 are assumed"));
}

TEST_F(ReconcilerTest, CheckedVersionsGetNoVersionCondition) {
  CreateUpgrade({{"targetVersion", "8.2"}, {"allowSameVersion", false}});
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  EXPECT_EQ(Phase(), "Provisioning");
  EXPECT_THAT(Events(), Not(Contains("Warning/NewerThanChecked")));
  const json status = Status();
  for (const auto& c : status["conditions"]) EXPECT_NE(c.value("type", ""), "VersionsChecked");
}

TEST_F(ReconcilerTest, TargetVersionMismatchFailsAndRemovesTheNewPods) {
  CreateUpgrade();
  ASSERT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  RunStatefulSet("7.2.4");
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Status()["reason"], "TargetVersionMismatch");
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
  EXPECT_FALSE(client_.Has(res::Services(), kNs, std::string(kSts) + "-hl"));
}

TEST_F(ReconcilerTest, MaintenanceWindowWaitsWithLagCurrentThenSwitchNow) {
  BringToWaiting();
  for (int i = 0; i < 3; ++i) {
    old_->offset += 100;
    Result r = Reconcile();
    EXPECT_EQ(r.kind(), Result::Kind::kRequeueAfter);
    EXPECT_EQ(Phase(), "WaitingForSwitch");
    EXPECT_EQ(Status()["sync"]["lagBytes"], 0);
    EXPECT_EQ(Status()["sync"]["masterLinkStatus"], "up");
    EXPECT_EQ(Status()["reason"], "OutsideMaintenanceWindow");
  }
  EXPECT_EQ(old_->role, "master");
  SwitchNow();
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  EXPECT_EQ(Phase(), "Completed");
}

TEST_F(ReconcilerTest, InsideTheWindowSwitches) {
  BringToWaiting();
  clock_.Advance(std::chrono::hours(6) + std::chrono::minutes(5));  // 18:05
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  EXPECT_EQ(Phase(), "Completed");
}

TEST_F(ReconcilerTest, DeletionBeforeTheSwitchRestoresTheOldInstance) {
  const auto original = old_->config;
  BringToWaiting();
  EXPECT_NE(old_->config, original);  // limits raised for the sync
  EXPECT_EQ(net_[kNew0].role, "slave");
  ASSERT_TRUE(client_.Delete(res::RedisUpgrades(), kNs, kName, {}).ok());
  // The first pass deletes, the next one sees everything gone.
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kRequeueAfter) << r.ToString();
  EXPECT_TRUE(client_.Has(res::RedisUpgrades(), kNs, kName));
  r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kDone) << r.ToString();
  EXPECT_FALSE(client_.Has(res::RedisUpgrades(), kNs, kName));
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
  EXPECT_FALSE(client_.Has(res::Services(), kNs, std::string(kSts) + "-hl"));
  EXPECT_FALSE(client_.Has(res::Pods(), kNs, std::string(kSts) + "-0"));
  EXPECT_EQ(old_->config, original);
  EXPECT_EQ(old_->role, "master");
  EXPECT_EQ(client_.At(res::Services(), kNs, "orders-redis")["spec"]["selector"],
            json({{"app", "orders-redis"}}));
}

constexpr const char* kRead = "orders-redis-read";

TEST_F(ReconcilerTest, ReadServiceCreatedInProvisioningAndDeletedBeforeTheSwitch) {
  CreateUpgrade(
      {{"readService", {{"name", kRead}}},
       {"switchover",
        {{"mode", "MaintenanceWindow"},
         {"maintenanceWindow", {{"start", "18:00"}, {"duration", "1h"}, {"timeZone", "UTC"}}}}}});
  Result r = Reconcile();
  ASSERT_EQ(r.kind(), Result::Kind::kRequeueAfter) << r.ToString();
  EXPECT_EQ(Phase(), "Provisioning");
  EXPECT_EQ(Status()["readService"], kRead);
  ASSERT_TRUE(client_.Has(res::Services(), kNs, kRead));
  const json read = client_.At(res::Services(), kNs, kRead);
  const json sts = client_.At(res::StatefulSets(), kNs, kSts);
  EXPECT_EQ(read["spec"]["type"], "ClusterIP");
  EXPECT_EQ(read["spec"]["selector"], json({{"redisupgrade.dev/upgrade", kName}}));
  EXPECT_EQ(read["spec"]["selector"], sts["spec"]["selector"]["matchLabels"]);
  EXPECT_EQ(read["spec"]["ports"][0]["port"], 6379);
  EXPECT_EQ(read["spec"]["ports"][0]["targetPort"], 6379);
  EXPECT_EQ(read["metadata"]["labels"]["redisupgrade.dev/upgrade"], kName);
  EXPECT_EQ(read["metadata"]["labels"]["app.kubernetes.io/managed-by"], "redis-upgrade-operator");
  EXPECT_THAT(AllEventText(), HasSubstr(kRead));

  RunStatefulSet();
  ASSERT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  ASSERT_EQ(Phase(), "WaitingForSwitch");
  EXPECT_TRUE(client_.Has(res::Services(), kNs, kRead));

  ASSERT_TRUE(client_.Delete(res::RedisUpgrades(), kNs, kName, {}).ok());
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  EXPECT_FALSE(client_.Has(res::RedisUpgrades(), kNs, kName));
  EXPECT_FALSE(client_.Has(res::Services(), kNs, kRead));
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
  EXPECT_TRUE(client_.Has(res::Services(), kNs, "orders-redis"));
}

TEST_F(ReconcilerTest, ReadServiceStaysAfterCompleted) {
  CreateUpgrade({{"readService", {{"name", kRead}}}});
  ASSERT_EQ(Reconcile().kind(), Result::Kind::kRequeueAfter);
  RunStatefulSet();
  ASSERT_EQ(Reconcile().kind(), Result::Kind::kDone);
  ASSERT_EQ(Phase(), "Completed");
  ASSERT_TRUE(client_.Delete(res::RedisUpgrades(), kNs, kName, {}).ok());
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  EXPECT_FALSE(client_.Has(res::RedisUpgrades(), kNs, kName));
  EXPECT_TRUE(client_.Has(res::Services(), kNs, kRead));
  EXPECT_TRUE(client_.Has(res::StatefulSets(), kNs, kSts));
}

TEST_F(ReconcilerTest, OurReadServiceIsAdopted) {
  client_.Put(
      res::Services(),
      {{"apiVersion", "v1"},
       {"kind", "Service"},
       {"metadata",
        {{"name", kRead}, {"namespace", kNs}, {"labels", {{"redisupgrade.dev/upgrade", kName}}}}},
       {"spec", {{"selector", {{"redisupgrade.dev/upgrade", kName}}}}}});
  CreateUpgrade({{"readService", {{"name", kRead}}}});
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kRequeueAfter) << r.ToString();
  EXPECT_EQ(Phase(), "Provisioning");
  EXPECT_TRUE(client_.Has(res::StatefulSets(), kNs, kSts));
}

TEST_F(ReconcilerTest, ForeignReadServiceIsRefusedBeforeAnythingIsCreated) {
  const json foreign =
      client_.Put(res::Services(), {{"apiVersion", "v1"},
                                    {"kind", "Service"},
                                    {"metadata", {{"name", kRead}, {"namespace", kNs}}},
                                    {"spec", {{"selector", {{"app", "reports"}}}}}});
  CreateUpgrade({{"readService", {{"name", kRead}}}});
  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kTerminal);
  EXPECT_EQ(r.status().reason(), "ReadServiceConflict");
  EXPECT_EQ(Phase(), "Failed");
  EXPECT_EQ(Status()["reason"], "ReadServiceConflict");
  EXPECT_THAT(Events(), Contains("Warning/ReadServiceConflict"));
  EXPECT_EQ(client_.Count("Create services"), 0);
  EXPECT_EQ(client_.Count("Create statefulsets"), 0);
  EXPECT_EQ(client_.Count("Delete services"), 0);
  EXPECT_EQ(client_.At(res::Services(), kNs, kRead), foreign);  // untouched
  for (const auto& c : old_->commands) EXPECT_THAT(c, Not(HasSubstr("CONFIG SET")));
  // Deleting the failed upgrade leaves the foreign Service alone.
  ASSERT_TRUE(client_.Delete(res::RedisUpgrades(), kNs, kName, {}).ok());
  static_cast<void>(Reconcile());
  EXPECT_EQ(client_.At(res::Services(), kNs, kRead), foreign);
}

TEST_F(ReconcilerTest, InterruptedSwitchIsUndoneThenRetried) {
  BringToWaiting();
  // The operator died right after blocking writes (attempt 1 at step Blocked).
  engine::SwitchRecord rec;
  rec.attempt = 1;
  rec.step = engine::SwitchStep::kBlocked;
  rec.old_master = kOld;
  rec.new_master = kNew0;
  rec.source_version = "7.0.15";
  rec.block_method = "pause-write";
  rec.saved_config = {{"min-replicas-to-write", "0"}};
  rec.fence_offset = old_->offset;
  rec.replication_source = kOld;
  old_->config["min-replicas-to-write"] = "1001";
  Object()["status"]["phase"] = "Switching";
  Object()["status"]["switch"] = {{"attempts", 1}, {"step", "Blocked"}, {"record", rec.ToJson()}};

  Result r = Reconcile();
  EXPECT_EQ(r.kind(), Result::Kind::kRequeueAfter) << r.ToString();
  EXPECT_EQ(Phase(), "WaitingForSwitch");
  EXPECT_EQ(Status()["reason"], "SwitchInterrupted");
  EXPECT_EQ(old_->config.at("min-replicas-to-write"), "0");
  EXPECT_EQ(old_->role, "master");
  EXPECT_THAT(Events(), Contains("Warning/SwitchInterrupted"));

  SwitchNow();
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  EXPECT_EQ(Phase(), "Completed");
  EXPECT_EQ(Status()["switch"]["attempts"], 2);
}

TEST_F(ReconcilerTest, SwitchPastThePointOfNoReturnIsFinished) {
  BringToWaiting();
  // Died after Verified: promoted, sealed, traffic not moved yet.
  engine::SwitchRecord rec;
  rec.attempt = 1;
  rec.step = engine::SwitchStep::kVerified;
  rec.old_master = kOld;
  rec.new_master = kNew0;
  rec.block_method = "pause-write";
  rec.block_started_unix_ms = ToUnixMillis(clock_.Now()) - 5;
  rec.fence_offset = rec.promoted_offset = rec.sealed_offset = old_->offset;
  net_.Handle(kNew0, {"SLAVEOF", "NO", "ONE"});
  net_.Handle(kOld, {"SLAVEOF", "127.0.0.1", "1"});
  Object()["status"]["phase"] = "Switching";
  Object()["status"]["switch"] = {{"attempts", 1}, {"step", "Verified"}, {"record", rec.ToJson()}};

  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
  EXPECT_EQ(Phase(), "Completed");
  EXPECT_EQ(client_.At(res::Services(), kNs, "orders-redis")["spec"]["selector"],
            json({{"statefulset.kubernetes.io/pod-name", std::string(kSts) + "-0"}}));
}

TEST_F(ReconcilerTest, OldMasterPodGoneIsSourceLost) {
  BringToWaiting();
  client_.Erase(res::Pods(), kNs, "orders-redis-0");
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Status()["reason"], "SourceLost");
  EXPECT_FALSE(client_.Has(res::StatefulSets(), kNs, kSts));
}

TEST_F(ReconcilerTest, UnreachableOldMasterIsRetriedThenSourceLost) {
  BringToWaiting();
  old_->reachable = false;
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kError);
  EXPECT_EQ(Phase(), "WaitingForSwitch");
  EXPECT_THAT(Events(), Contains("Warning/SourceUnreachable"));
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kError);
  EXPECT_EQ(Phase(), "WaitingForSwitch");
  clock_.Advance(std::chrono::seconds(31));
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kTerminal);
  EXPECT_EQ(Status()["reason"], "SourceLost");
}

TEST_F(ReconcilerTest, GoneObjectIsDone) {
  EXPECT_EQ(Reconcile().kind(), Result::Kind::kDone);
}

}  // namespace
}  // namespace ruo::upgrade
