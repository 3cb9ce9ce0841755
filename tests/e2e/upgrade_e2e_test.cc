// End-to-end: the real `redis-upgrade-operator run` against the local cluster
// (hack/cluster), RedisUpgrades applied with kubectl, live writes through the
// Service VIP with `redis-upgrade-operator probe`. Each test has a namespace
// and an operator of its own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>
#include <random>
#include <set>

#include "e2e/e2e_env.h"
#include "k8s/errors.h"
#include "k8s/resource.h"

namespace ruo::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
namespace res = k8s::resources;

constexpr const char* kUpgrade = "orders-to-7";
constexpr const char* kService = "orders-redis";

class UpgradeE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = Cluster::Get();
    if (!c.ok()) return;
    CmdResult r = (*c)->Kubectl(
        {"apply", "-f", std::string(RUO_SOURCE_DIR) + "/crds/redisupgrade.dev_redisupgrades.yaml"});
    if (r.rc != 0) std::cerr << "installing the CRD failed: " << r.err << std::endl;
    (*c)->Kubectl({"wait", "--for", "condition=established", "--timeout=60s",
                   "crd/redisupgrades.redisupgrade.dev"});
  }

  void SetUp() override {
    auto c = Cluster::Get();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = *c;
    std::random_device rd;
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string shortname;
    for (char ch : test) {
      if (std::isupper(static_cast<unsigned char>(ch)) && shortname.size() < 12) {
        shortname.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
      }
    }
    ns_ = "e2e-" + shortname + "-" + std::to_string(rd() % 100000);
    CmdResult r = cluster_->Kubectl({"create", "namespace", ns_});
    ASSERT_EQ(r.rc, 0) << r.err;
  }

  void TearDown() override {
    if (cluster_ == nullptr) return;  // SetUp failed: nothing was created
    if (HasFailure()) {
      std::cerr << "---- RedisUpgrades in " << ns_ << " ----\n"
                << cluster_->Kubectl({"get", "rup", "-n", ns_, "-o", "yaml"}).out
                << "---- events ----\n"
                << cluster_->Kubectl({"get", "events", "-n", ns_}).out;
      for (const auto& op : operators_) {
        const std::string logs = op->Logs();
        std::cerr << "---- operator log (tail) ----\n"
                  << logs.substr(logs.size() > 12000 ? logs.size() - 12000 : 0) << std::endl;
      }
    }
    for (auto& op : operators_) op->Kill();
    if (probe_) probe_->Kill();
    // Without an operator the finalizers would hold the namespace forever.
    auto list = cluster_->client().List(res::RedisUpgrades(), ns_, {});
    if (list.ok()) {
      for (const auto& u : list->items) {
        (void)cluster_->client().MergePatch(res::RedisUpgrades(), ns_, k8s::NameOf(u),
                                            {{"metadata", {{"finalizers", nullptr}}}});
      }
    }
    cluster_->Kubectl({"delete", "namespace", ns_, "--wait=false"});
  }

  // ---- helpers ----

  Operator& StartOperator(const std::map<std::string, std::optional<std::string>>& env = {}) {
    auto op = Operator::Start(*cluster_, ns_, env);
    EXPECT_TRUE(op.ok()) << op.status().ToString();
    operators_.push_back(std::move(op).value());
    return *operators_.back();
  }

  void Apply(const std::string& yaml) {
    CmdResult r = cluster_->Apply(yaml);
    ASSERT_EQ(r.rc, 0) << r.err << "\n" << yaml;
  }

  // Deploys the old instance and waits for its pod; returns "podIP:6379".
  std::string DeployOld(OldInstance o = {}) {
    o.ns = ns_;
    Apply(OldInstanceYaml(o));
    std::string addr;
    const bool up = WaitUntil(
        [&] {
          auto pod = cluster_->client().Get(res::Pods(), ns_, o.name + "-0");
          if (!pod.ok()) return false;
          const std::string ip = pod->value("/status/podIP"_json_pointer, "");
          bool ready = false;
          for (const auto& c : pod->value("/status/conditions"_json_pointer, json::array())) {
            if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
          }
          if (!ready || ip.empty()) return false;
          addr = ip + ":6379";
          return true;
        },
        seconds(60));
    EXPECT_TRUE(up) << "old instance " << o.name << " did not become ready";
    return addr;
  }

  json Upgrade(const std::string& name = kUpgrade) {
    auto u = cluster_->client().Get(res::RedisUpgrades(), ns_, name);
    return u.ok() ? *u : json::object();
  }
  std::string Phase(const std::string& name = kUpgrade) {
    return Upgrade(name).value("/status/phase"_json_pointer, "");
  }
  // Waits for one of `phases`; returns the object.
  json WaitPhase(const std::vector<std::string>& phases, seconds timeout,
                 const std::string& name = kUpgrade) {
    json last;
    WaitUntil(
        [&] {
          last = Upgrade(name);
          const std::string p = last.value("/status/phase"_json_pointer, "");
          return std::find(phases.begin(), phases.end(), p) != phases.end();
        },
        timeout, milliseconds(50));
    return last;
  }

  // "Type/Reason" of the Events about RedisUpgrade `name`.
  std::vector<std::string> Events(const std::string& name = kUpgrade) {
    std::vector<std::string> out;
    auto list = cluster_->client().List(res::Events(), ns_, {});
    if (!list.ok()) return out;
    for (const auto& e : list->items) {
      if (e.value("/involvedObject/name"_json_pointer, "") != name) continue;
      out.push_back(e.value("type", "") + "/" + e.value("reason", ""));
    }
    return out;
  }
  bool HasEvent(const std::string& type_reason, const std::string& name = kUpgrade) {
    return WaitUntil(
        [&] {
          auto ev = Events(name);
          return std::find(ev.begin(), ev.end(), type_reason) != ev.end();
        },
        seconds(10));
  }

  // The new master pod's address once it has an IP (Provisioning).
  std::string WaitNewMasterAddr(const std::string& name = kUpgrade) {
    std::string addr;
    WaitUntil(
        [&] {
          const std::string sts = Upgrade(name).value("/status/newStatefulSet"_json_pointer, "");
          if (sts.empty()) return false;
          auto pod = cluster_->client().Get(res::Pods(), ns_, sts + "-0");
          if (!pod.ok()) return false;
          const std::string ip = pod->value("/status/podIP"_json_pointer, "");
          if (ip.empty()) return false;
          addr = ip + ":6379";
          return true;
        },
        seconds(90), milliseconds(20));
    return addr;
  }

  void StartProbe(const std::string& vip, const std::string& verify, int duration_s,
                  const std::optional<std::string>& password = std::nullopt) {
    testing::SubprocessOptions o;
    o.argv = {RUO_BINARY, "probe", "--addr",     vip + ":6379",
              "--rate",   "2000",  "--duration", std::to_string(duration_s),
              "--verify", verify};
    if (password) o.env["REDISCLI_AUTH"] = *password;
    o.output_dir = cluster_->tmp().path();
    o.name = "probe-" + ns_;
    auto p = testing::Subprocess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    probe_ = std::move(p).value();
  }

  // Waits for the probe and returns its JSON report.
  json ProbeReport(seconds timeout = seconds(90)) {
    if (!probe_) return json::object();
    auto rc = probe_->Wait(timeout);
    EXPECT_TRUE(rc.has_value()) << "probe did not finish";
    const std::string out = probe_->Stdout();
    try {
      return json::parse(out);
    } catch (const json::exception&) {
      ADD_FAILURE() << "probe output is not JSON: " << out << "\n" << probe_->Stderr();
      return json::object();
    }
  }

  // Settings the upgrade changes on the old master while it runs.
  std::map<std::string, std::string> OldConfig(const std::string& addr,
                                               const std::optional<std::string>& pw = {}) {
    std::map<std::string, std::string> out;
    for (const char* name : {"client-output-buffer-limit", "repl-backlog-size",
                             "min-replicas-to-write", "min-replicas-max-lag", "maxmemory"}) {
      auto r = RedisCmd(addr, {"CONFIG", "GET", name}, pw);
      if (r.ok() && r->elements.size() == 2) out[name] = r->elements[1].str;
    }
    return out;
  }

  void ExpectServiceSelects(const std::map<std::string, std::string>& selector) {
    auto svc = cluster_->client().Get(res::Services(), ns_, kService);
    ASSERT_TRUE(svc.ok());
    EXPECT_EQ(svc->value("/spec/selector"_json_pointer, json::object()), json(selector));
  }

  // After Completed: the figures, the Service, the sealed old master, the data.
  void ExpectCompletedSwitch(const json& u, const std::string& old_addr,
                             const std::string& new_addr, int seeded, const json& probe,
                             const std::optional<std::string>& pw = {}) {
    const std::string sts = u.value("/status/newStatefulSet"_json_pointer, "");
    ExpectServiceSelects({{"statefulset.kubernetes.io/pod-name", sts + "-0"}});
    auto role = Role(old_addr, pw);
    ASSERT_TRUE(role.ok()) << role.status().ToString();
    EXPECT_EQ(*role, "slave of 127.0.0.1:1");
    auto set = RedisCmd(old_addr, {"SET", "after-switch", "x"}, pw);
    ASSERT_TRUE(set.ok());
    EXPECT_TRUE(set->IsError());
    EXPECT_THAT(set->str, HasSubstr("READONLY"));
    EXPECT_EQ(*Role(new_addr, pw), "master");
    auto missing = MissingKeys(old_addr, new_addr, pw);
    ASSERT_TRUE(missing.ok()) << missing.status().ToString();
    EXPECT_EQ(*missing, 0) << "keys of the old master missing on the new one";
    auto old_keys = DbSize(old_addr, pw);
    auto new_keys = DbSize(new_addr, pw);
    ASSERT_TRUE(old_keys.ok() && new_keys.ok());
    // The probe wrote to both sides of the switch.
    EXPECT_GT(*old_keys, seeded) << "no probe write reached the old master";
    EXPECT_GT(*new_keys, *old_keys) << "no probe write reached the new master";
    EXPECT_GE(*new_keys, seeded + probe.value("acked", int64_t{0}));
    EXPECT_EQ(probe.value("lost", int64_t{-1}), 0) << probe.dump();
    EXPECT_GT(probe.value("acked", int64_t{0}), 0);
    EXPECT_TRUE(HasEvent("Normal/SwitchCompleted"));
    std::cout << "[e2e] " << ns_ << ": write-blocked ms="
              << u.value("/status/switch/writeBlockedMillis"_json_pointer, int64_t{-1})
              << " attempts=" << u.value("/status/switch/attempts"_json_pointer, 0)
              << " probe max_gap_ms=" << probe.value("max_gap_ms", -1.0)
              << " acked=" << probe.value("acked", int64_t{0})
              << " errors=" << probe.value("errors", json()).dump()
              << " lost=" << probe.value("lost", int64_t{-1}) << " keys old=" << *old_keys
              << " new=" << *new_keys << std::endl;
  }

  Cluster* cluster_ = nullptr;
  std::string ns_;
  std::vector<std::unique_ptr<Operator>> operators_;
  std::unique_ptr<testing::Subprocess> probe_;
};

TEST_F(UpgradeE2ETest, ImmediateSwitchUnderLiveWrites) {
  const std::string old_addr = DeployOld();
  ASSERT_TRUE(LoadKeys(old_addr, 20000, "seed").ok());
  const auto vip = cluster_->Vip(ns_, kService);
  ASSERT_TRUE(vip) << "no VIP for the Service";
  StartOperator();
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  spec.read_service = "orders-redis-read";
  Apply(UpgradeYaml(spec));

  const std::string new_addr = WaitNewMasterAddr();
  ASSERT_FALSE(new_addr.empty());
  StartProbe(*vip, new_addr, 15);
  const json u = WaitPhase({"Completed", "Failed"}, seconds(120));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "Completed") << u.dump(2);
  EXPECT_EQ(u.value("/status/targetVersion"_json_pointer, ""), "7.0.15");
  EXPECT_EQ(u.value("/status/sourceVersion"_json_pointer, ""), "7.0.15");
  EXPECT_EQ(u.value("/status/switch/attempts"_json_pointer, 0), 1);
  // kubectl wait works on the Ready condition.
  CmdResult w = cluster_->Kubectl({"wait", "-n", ns_, "--for=condition=Ready", "--timeout=10s",
                                   std::string("rup/") + kUpgrade});
  EXPECT_EQ(w.rc, 0) << w.err;
  const json probe = ProbeReport();
  ExpectCompletedSwitch(Upgrade(), old_addr, new_addr, 20000, probe);
  // The new replica follows the new master.
  const std::string sts = u.value("/status/newStatefulSet"_json_pointer, "");
  auto replica = cluster_->client().Get(res::Pods(), ns_, sts + "-1");
  ASSERT_TRUE(replica.ok());
  EXPECT_EQ(*Role(replica->value("/status/podIP"_json_pointer, "") + ":6379"),
            "slave of " + new_addr);

  // spec.readService: a Service over both new pods (master and replica), kept after Completed.
  EXPECT_EQ(u.value("/status/readService"_json_pointer, ""), "orders-redis-read");
  auto read = cluster_->client().Get(res::Services(), ns_, "orders-redis-read");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->value("/metadata/labels/redisupgrade.dev~1upgrade"_json_pointer, ""), kUpgrade);
  EXPECT_EQ(read->value("/spec/ports/0/port"_json_pointer, 0), 6379);
  std::set<std::string> want = {new_addr.substr(0, new_addr.find(':')),
                                replica->value("/status/podIP"_json_pointer, "")};
  std::set<std::string> got;
  const bool endpoints = WaitUntil(
      [&] {
        k8s::ListOptions lo;
        lo.label_selector = "kubernetes.io/service-name=orders-redis-read";
        auto slices = cluster_->client().List(res::EndpointSlices(), ns_, lo);
        if (!slices.ok()) return false;
        got.clear();
        for (const auto& slice : slices->items) {
          for (const auto& ep : slice.value("endpoints", json::array())) {
            if (!ep.value("/conditions/ready"_json_pointer, true)) continue;  // absent = ready
            for (const auto& a : ep.value("addresses", json::array()))
              got.insert(a.get<std::string>());
          }
        }
        return got == want;
      },
      seconds(30));
  EXPECT_TRUE(endpoints) << "read Service endpoints: " << ::testing::PrintToString(got);
}

TEST_F(UpgradeE2ETest, MaintenanceWindowWaitsThenSwitchesInsideTheWindow) {
  const std::string old_addr = DeployOld();
  ASSERT_TRUE(LoadKeys(old_addr, 5000, "seed").ok());
  StartOperator();
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  spec.mode = "MaintenanceWindow";
  spec.window_start = UtcClock(std::chrono::minutes(180));
  Apply(UpgradeYaml(spec));
  json u = WaitPhase({"WaitingForSwitch", "Failed"}, seconds(90));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "WaitingForSwitch") << u.dump(2);

  // Outside the window: it stays, with the lag kept current as writes go on.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Upgrade().value("/status/reason"_json_pointer, "") == "OutsideMaintenanceWindow";
      },
      seconds(10)))
      << Upgrade().dump(2);
  const std::string new_addr = WaitNewMasterAddr();
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(LoadKeys(old_addr, 2000, "more" + std::to_string(round)).ok());
    EXPECT_TRUE(WaitUntil(
        [&] {
          auto n = DbSize(new_addr);
          return n.ok() && *n == 5000 + 2000 * (round + 1);
        },
        seconds(10)));
    u = Upgrade();
    EXPECT_EQ(u.value("/status/phase"_json_pointer, ""), "WaitingForSwitch");
    EXPECT_EQ(u.value("/status/reason"_json_pointer, ""), "OutsideMaintenanceWindow");
    EXPECT_EQ(u.value("/status/sync/masterLinkStatus"_json_pointer, ""), "up");
    EXPECT_TRUE(u.contains(json::json_pointer("/status/sync/lagBytes")));
    std::this_thread::sleep_for(seconds(1));
  }
  EXPECT_THAT(u.value("/status/message"_json_pointer, ""), HasSubstr("window"));
  EXPECT_EQ(*Role(old_addr), "master");

  // The spec cannot change once started: a window that includes now is a new
  // RedisUpgrade (the first one's deletion cleans up after it).
  CmdResult del =
      cluster_->Kubectl({"delete", "-n", ns_, std::string("rup/") + kUpgrade, "--timeout=90s"});
  ASSERT_EQ(del.rc, 0) << del.err;
  spec.name = "orders-to-7-now";
  spec.window_start = UtcClock(std::chrono::minutes(-5));
  Apply(UpgradeYaml(spec));
  u = WaitPhase({"Completed", "Failed"}, seconds(120), spec.name);
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "Completed") << u.dump(2);
  const std::string sts = u.value("/status/newStatefulSet"_json_pointer, "");
  ExpectServiceSelects({{"statefulset.kubernetes.io/pod-name", sts + "-0"}});
  EXPECT_EQ(*Role(old_addr), "slave of 127.0.0.1:1");
}

TEST_F(UpgradeE2ETest, DeletionBeforeTheSwitchLeavesTheOldInstanceAsItWas) {
  const std::string old_addr = DeployOld();
  ASSERT_TRUE(LoadKeys(old_addr, 5000, "seed").ok());
  const auto config_before = OldConfig(old_addr);
  StartOperator();
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  spec.mode = "MaintenanceWindow";
  spec.window_start = UtcClock(std::chrono::minutes(180));
  Apply(UpgradeYaml(spec));
  json u = WaitPhase({"WaitingForSwitch", "Failed"}, seconds(90));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "WaitingForSwitch") << u.dump(2);
  const std::string sts = u.value("/status/newStatefulSet"_json_pointer, "");
  // The sync raised limits on the old master; deletion must put them back.
  EXPECT_FALSE(u.value("/status/sync/savedConfig"_json_pointer, json::object()).empty());
  EXPECT_NE(OldConfig(old_addr), config_before);

  CmdResult del =
      cluster_->Kubectl({"delete", "-n", ns_, std::string("rup/") + kUpgrade, "--timeout=90s"});
  ASSERT_EQ(del.rc, 0) << del.err;
  EXPECT_TRUE(k8s::IsNotFound(cluster_->client().Get(res::StatefulSets(), ns_, sts).status()));
  EXPECT_TRUE(k8s::IsNotFound(cluster_->client().Get(res::Services(), ns_, sts + "-hl").status()));
  k8s::ListOptions lo;
  lo.label_selector = std::string("redisupgrade.dev/upgrade=") + kUpgrade;
  auto pods = cluster_->client().List(res::Pods(), ns_, lo);
  ASSERT_TRUE(pods.ok());
  EXPECT_TRUE(pods->items.empty());
  EXPECT_TRUE(HasEvent("Normal/Cleaned"));

  EXPECT_EQ(OldConfig(old_addr), config_before);
  EXPECT_EQ(*Role(old_addr), "master");
  EXPECT_EQ(*DbSize(old_addr), 5000);
  auto set = RedisCmd(old_addr, {"SET", "still-writable", "yes"});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->IsOk()) << redis::DebugString(*set);
  ExpectServiceSelects({{"app", kService}});
}

TEST_F(UpgradeE2ETest, RefusalsNameTheirReasonAndLeaveTheOldInstanceAlone) {
  const std::string old_addr = DeployOld();
  ASSERT_TRUE(LoadKeys(old_addr, 1000, "seed").ok());
  const auto config_before = OldConfig(old_addr);
  StartOperator();

  auto refused = [&](UpgradeSpec spec, const std::string& reason) {
    SCOPED_TRACE(spec.name + " → " + reason);
    spec.ns = ns_;
    Apply(UpgradeYaml(spec));
    const json u = WaitPhase({"Failed", "Completed", "WaitingForSwitch"}, seconds(60), spec.name);
    EXPECT_EQ(u.value("/status/phase"_json_pointer, ""), "Failed") << u.dump(2);
    EXPECT_EQ(u.value("/status/reason"_json_pointer, ""), reason) << u.dump(2);
    EXPECT_FALSE(u.value("/status/message"_json_pointer, "").empty());
    EXPECT_TRUE(HasEvent("Warning/" + reason, spec.name));
    EXPECT_EQ(OldConfig(old_addr), config_before);
    EXPECT_EQ(*Role(old_addr), "master");
    EXPECT_EQ(*DbSize(old_addr), 1000);
  };

  UpgradeSpec downgrade;
  downgrade.name = "downgrade";
  downgrade.target_version = "6.2";
  downgrade.allow_same_version = false;
  refused(downgrade, "DowngradeRefused");
  EXPECT_TRUE(k8s::IsNotFound(
      cluster_->client().Get(res::StatefulSets(), ns_, "orders-redis-6-2").status()));

  UpgradeSpec unknown;
  unknown.name = "unknown-service";
  unknown.service = "no-such-redis";
  refused(unknown, "ServiceNotFound");

  Apply("apiVersion: v1\nkind: Service\nmetadata: {name: empty-redis, namespace: " + ns_ +
        "}\nspec:\n  selector: {app: nothing-here}\n  ports: [{port: 6379}]\n");
  UpgradeSpec no_endpoints;
  no_endpoints.name = "no-endpoints";
  no_endpoints.service = "empty-redis";
  refused(no_endpoints, "NoReadyMaster");

  // One upgrade at a time per Service.
  UpgradeSpec first;
  first.ns = ns_;
  first.name = "first";
  first.mode = "MaintenanceWindow";
  first.window_start = UtcClock(std::chrono::minutes(180));
  Apply(UpgradeYaml(first));
  json u = WaitPhase({"WaitingForSwitch", "Failed"}, seconds(90), "first");
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "WaitingForSwitch") << u.dump(2);
  const auto raised = OldConfig(old_addr);
  UpgradeSpec second;
  second.name = "second";
  second.ns = ns_;
  Apply(UpgradeYaml(second));
  u = WaitPhase({"Failed", "Completed"}, seconds(60), "second");
  EXPECT_EQ(u.value("/status/reason"_json_pointer, ""), "UpgradeInProgress") << u.dump(2);
  EXPECT_TRUE(HasEvent("Warning/UpgradeInProgress", "second"));
  EXPECT_EQ(OldConfig(old_addr), raised);  // the second one touched nothing

  // A spec edit after the start: the CRD's CEL rule rejects it.
  first.target_version = "7.2";
  CmdResult edit = cluster_->Apply(UpgradeYaml(first));
  EXPECT_NE(edit.rc, 0);
  EXPECT_THAT(edit.err, HasSubstr("spec is immutable once the upgrade has started"));
  EXPECT_EQ(Upgrade("first").value("/spec/targetVersion"_json_pointer, ""), "7.0");

  CmdResult del = cluster_->Kubectl({"delete", "-n", ns_, "rup/first", "--timeout=90s"});
  ASSERT_EQ(del.rc, 0) << del.err;
  EXPECT_EQ(OldConfig(old_addr), config_before);
  EXPECT_EQ(*DbSize(old_addr), 1000);
}

TEST_F(UpgradeE2ETest, ClusterModeInstanceIsRefused) {
  OldInstance o;
  o.cluster_enabled = true;
  const std::string old_addr = DeployOld(o);
  StartOperator();
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  Apply(UpgradeYaml(spec));
  const json u = WaitPhase({"Failed", "Completed"}, seconds(60));
  EXPECT_EQ(u.value("/status/reason"_json_pointer, ""), "ClusterModeNotSupported") << u.dump(2);
  EXPECT_TRUE(HasEvent("Warning/ClusterModeNotSupported"));
  EXPECT_TRUE(k8s::IsNotFound(
      cluster_->client().Get(res::StatefulSets(), ns_, "orders-redis-7-0").status()));
}

TEST_F(UpgradeE2ETest, WrongPasswordIsRefusedWithoutShowingIt) {
  OldInstance o;
  o.password = "correct-horse";
  const std::string old_addr = DeployOld(o);
  Apply("apiVersion: v1\nkind: Secret\nmetadata: {name: wrong-auth, namespace: " + ns_ +
        "}\nstringData: {password: battery-staple}\n");
  StartOperator();
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  spec.secret = "wrong-auth";
  Apply(UpgradeYaml(spec));
  const json u = WaitPhase({"Failed", "Completed"}, seconds(60));
  EXPECT_EQ(u.value("/status/reason"_json_pointer, ""), "AuthFailed") << u.dump(2);
  EXPECT_TRUE(HasEvent("Warning/AuthFailed"));
  const std::string shown = u.dump() +
                            cluster_->Kubectl({"get", "events", "-n", ns_, "-o", "json"}).out +
                            operators_.back()->Logs();
  EXPECT_THAT(shown, ::testing::Not(HasSubstr("battery-staple")));
  EXPECT_THAT(shown, ::testing::Not(HasSubstr("correct-horse")));
}

TEST_F(UpgradeE2ETest, UpgradeWithPasswordCompletes) {
  OldInstance o;
  o.password = "correct-horse";
  const std::string old_addr = DeployOld(o);
  ASSERT_TRUE(LoadKeys(old_addr, 5000, "seed", o.password).ok());
  const auto vip = cluster_->Vip(ns_, kService);
  ASSERT_TRUE(vip);
  StartOperator();
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  spec.secret = "orders-redis-auth";
  Apply(UpgradeYaml(spec));
  const std::string new_addr = WaitNewMasterAddr();
  ASSERT_FALSE(new_addr.empty());
  StartProbe(*vip, new_addr, 12, o.password);
  const json u = WaitPhase({"Completed", "Failed"}, seconds(120));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "Completed") << u.dump(2);
  ExpectCompletedSwitch(u, old_addr, new_addr, 5000, ProbeReport(), o.password);
  // The password never reached the StatefulSet, the status or the Events.
  const std::string sts = u.value("/status/newStatefulSet"_json_pointer, "");
  const std::string shown =
      cluster_->Kubectl({"get", "sts", sts, "-n", ns_, "-o", "json"}).out + Upgrade().dump() +
      cluster_->Kubectl({"get", "events", "-n", ns_, "-o", "json"}).out + operators_.back()->Logs();
  EXPECT_THAT(shown, ::testing::Not(HasSubstr("correct-horse")));
}

TEST_F(UpgradeE2ETest, OperatorKilledMidSyncCarriesOn) {
  const std::string old_addr = DeployOld();
  ASSERT_TRUE(LoadKeys(old_addr, 100000, "seed").ok());
  const auto vip = cluster_->Vip(ns_, kService);
  ASSERT_TRUE(vip);
  Operator& first = StartOperator();
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  Apply(UpgradeYaml(spec));
  const std::string new_addr = WaitNewMasterAddr();
  ASSERT_FALSE(new_addr.empty());
  StartProbe(*vip, new_addr, 20);
  json u =
      WaitPhase({"Syncing", "WaitingForSwitch", "Switching", "Completed", "Failed"}, seconds(90));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "Syncing") << "missed the Syncing phase";
  first.Kill();
  std::cout << "[e2e] killed the operator in phase Syncing (savedConfig="
            << u.value("/status/sync/savedConfig"_json_pointer, json::object()).dump() << ")"
            << std::endl;
  std::this_thread::sleep_for(seconds(1));
  StartOperator();
  u = WaitPhase({"Completed", "Failed"}, seconds(120));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "Completed") << u.dump(2);
  ExpectCompletedSwitch(u, old_addr, new_addr, 100000, ProbeReport());
}

// The switch pauses (test hook RUO_TEST_SWITCH_STEP_DELAY) after persisting a
// step; the operator is SIGKILLed there and a new one must finish the upgrade
// without losing a write.
TEST_F(UpgradeE2ETest, OperatorKilledWhileWritesAreBlockedUndoesAndRetries) {
  const std::string old_addr = DeployOld();
  ASSERT_TRUE(LoadKeys(old_addr, 20000, "seed").ok());
  const auto vip = cluster_->Vip(ns_, kService);
  ASSERT_TRUE(vip);
  Operator& first = StartOperator({{"RUO_TEST_SWITCH_STEP_DELAY", "Blocked:5000"}});
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  Apply(UpgradeYaml(spec));
  const std::string new_addr = WaitNewMasterAddr();
  ASSERT_FALSE(new_addr.empty());
  StartProbe(*vip, new_addr, 25);
  ASSERT_TRUE(WaitUntil(
      [&] { return Upgrade().value("/status/switch/step"_json_pointer, "") == "Blocked"; },
      seconds(90), milliseconds(20)))
      << Upgrade().dump(2);
  first.Kill();
  std::cout << "[e2e] killed the operator at switch step Blocked" << std::endl;
  std::this_thread::sleep_for(seconds(1));
  StartOperator();
  const json u = WaitPhase({"Completed", "Failed"}, seconds(120));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "Completed") << u.dump(2);
  EXPECT_EQ(u.value("/status/switch/attempts"_json_pointer, 0), 2);  // undone, then redone
  EXPECT_TRUE(HasEvent("Warning/SwitchInterrupted"));
  ExpectCompletedSwitch(u, old_addr, new_addr, 20000, ProbeReport());
}

TEST_F(UpgradeE2ETest, OperatorKilledPastThePointOfNoReturnFinishes) {
  const std::string old_addr = DeployOld();
  ASSERT_TRUE(LoadKeys(old_addr, 20000, "seed").ok());
  const auto vip = cluster_->Vip(ns_, kService);
  ASSERT_TRUE(vip);
  Operator& first = StartOperator({{"RUO_TEST_SWITCH_STEP_DELAY", "Verified:5000"}});
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  Apply(UpgradeYaml(spec));
  const std::string new_addr = WaitNewMasterAddr();
  ASSERT_FALSE(new_addr.empty());
  StartProbe(*vip, new_addr, 25);
  ASSERT_TRUE(WaitUntil(
      [&] { return Upgrade().value("/status/switch/step"_json_pointer, "") == "Verified"; },
      seconds(90), milliseconds(20)))
      << Upgrade().dump(2);
  first.Kill();
  std::cout << "[e2e] killed the operator at switch step Verified" << std::endl;
  std::this_thread::sleep_for(seconds(1));
  StartOperator();
  const json u = WaitPhase({"Completed", "Failed"}, seconds(120));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "Completed") << u.dump(2);
  EXPECT_EQ(u.value("/status/switch/attempts"_json_pointer, 0), 1);  // finished forward
  ExpectCompletedSwitch(u, old_addr, new_addr, 20000, ProbeReport());
}

}  // namespace
}  // namespace ruo::e2e
