// End-to-end: the real `redis-upgrade-operator run` against the local cluster
// (hack/cluster), RedisUpgrades applied with kubectl, live writes through the
// Service VIP with `redis-upgrade-operator probe`. Each test has a namespace
// and an operator of its own.
#include "e2e/upgrade_fixture.h"

namespace ruo::e2e {
namespace {

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
  {
    // Old clients were closed until the Service's EndpointSlices listed only
    // the new master: by Completed they do, and the old master is not listed.
    k8s::ListOptions lo;
    lo.label_selector = std::string("kubernetes.io/service-name=") + kService;
    auto slices = cluster_->client().List(res::EndpointSlices(), ns_, lo);
    ASSERT_TRUE(slices.ok()) << slices.status().ToString();
    std::set<std::string> ready, listed;
    for (const auto& slice : slices->items) {
      for (const auto& ep : slice.value("endpoints", json::array())) {
        for (const auto& a : ep.value("addresses", json::array())) {
          listed.insert(a.get<std::string>());
          if (ep.value("/conditions/ready"_json_pointer, true)) ready.insert(a.get<std::string>());
        }
      }
    }
    EXPECT_EQ(ready, std::set<std::string>{new_addr.substr(0, new_addr.find(':'))});
    EXPECT_EQ(listed.count(old_addr.substr(0, old_addr.find(':'))), 0u)
        << ::testing::PrintToString(listed);
    EXPECT_THAT(u.value("/status/message"_json_pointer, ""),
                HasSubstr("until the Service's endpoints listed only new pods"));
    EXPECT_FALSE(HasEvent("Warning/EndpointsNotSettled"));
    std::cout << "[e2e] " << u.value("/status/message"_json_pointer, "") << std::endl;
  }
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
  // Blocked is not written to status (the Blocking record covers it): the
  // hook's log line says when the operator is there.
  ASSERT_TRUE(
      WaitUntil([&] { return first.Logs().find("after switch step Blocked") != std::string::npos; },
                seconds(90), milliseconds(20)))
      << Upgrade().dump(2);
  EXPECT_EQ(Upgrade().value("/status/switch/step"_json_pointer, ""), "Blocking");
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
