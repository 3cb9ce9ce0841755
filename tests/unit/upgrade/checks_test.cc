#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "upgrade/k8s_checks.h"
#include "upgrade/pods.h"
#include "upgrade/quantity.h"
#include "upgrade/rfc3339.h"

namespace ruo::upgrade {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json Pod(const std::string& name, bool ready, const std::string& ip = "10.0.0.1") {
  return {
      {"metadata", {{"name", name}, {"uid", "u-" + name}}},
      {"spec",
       {{"containers",
         json::array({{{"name", "redis"},
                       {"ports", json::array({{{"name", "redis"}, {"containerPort", 7000}}})},
                       {"resources", {{"limits", {{"memory", "256Mi"}}}}}}})}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", ip},
        {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

json Upgrade(const std::string& name, const std::string& created, const std::string& phase,
             const std::string& service = "orders-redis") {
  json u = {{"metadata", {{"name", name}, {"namespace", "shop"}, {"creationTimestamp", created}}},
            {"spec", {{"instance", {{"service", service}}}, {"targetVersion", "7.0"}}}};
  if (!phase.empty()) u["status"] = {{"phase", phase}};
  return u;
}

TEST(K8sChecksTest, TargetVersionSpec) {
  RedisUpgradeSpec spec;
  spec.target_version = "7.0";
  EXPECT_FALSE(CheckTargetVersionSpec(spec));
  spec.target_version = "seven";
  EXPECT_EQ(CheckTargetVersionSpec(spec)->reason, "InvalidTargetVersion");
  // Any release from 2.8 on, newer-than-checked ones too (a warning, not a refusal).
  for (const char* ok : {"2.8", "8.2", "8.4", "9.9"}) {
    spec.target_version = ok;
    EXPECT_FALSE(CheckTargetVersionSpec(spec)) << ok;
  }
  spec.target_version = "2.6";
  ASSERT_TRUE(CheckTargetVersionSpec(spec));
  EXPECT_EQ(CheckTargetVersionSpec(spec)->reason, "InvalidTargetVersion");
  EXPECT_THAT(CheckTargetVersionSpec(spec)->message, ::testing::HasSubstr("2.8 or newer"));
  spec.target_version = "7";
  EXPECT_EQ(CheckTargetVersionSpec(spec)->reason, "InvalidTargetVersion");
}

TEST(K8sChecksTest, UpgradeNameFitsALabelValue) {
  EXPECT_FALSE(CheckUpgradeName("orders-to-7"));
  EXPECT_FALSE(CheckUpgradeName(std::string(63, 'a')));
  auto r = CheckUpgradeName(std::string(64, 'a'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "NameTooLong");
  EXPECT_THAT(r->message, HasSubstr("64"));
}

json NewPod(const json& container_state, const std::string& phase = "Pending") {
  return {
      {"metadata", {{"name", "orders-redis-7-0-0"}}},
      {"status",
       {{"phase", phase},
        {"containerStatuses",
         json::array(
             {{{"name", "redis"}, {"image", "nosuch/redis:7.0"}, {"state", container_state}}})}}}};
}

TEST(K8sChecksTest, NewPodThatCannotStart) {
  // Starting normally: nothing to say.
  EXPECT_FALSE(CheckNewPodStarts(NewPod({{"waiting", {{"reason", "ContainerCreating"}}}})));
  EXPECT_FALSE(CheckNewPodStarts(NewPod({{"running", json::object()}}, "Running")));
  EXPECT_FALSE(CheckNewPodStarts(json{{"metadata", {{"name", "p"}}}}));
  // An image the node cannot pull: retried by the kubelet, so not permanent.
  auto p = CheckNewPodStarts(NewPod(
      {{"waiting", {{"reason", "ErrImagePull"}, {"message", "image not in the local map"}}}}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->refusal.reason, "ImagePullFailed");
  EXPECT_FALSE(p->permanent);
  EXPECT_THAT(p->refusal.message, HasSubstr("ErrImagePull"));
  EXPECT_THAT(p->refusal.message, HasSubstr("nosuch/redis:7.0"));
  EXPECT_EQ(
      CheckNewPodStarts(NewPod({{"waiting", {{"reason", "ImagePullBackOff"}}}}))->refusal.reason,
      "ImagePullFailed");
  // An invalid image name never gets better.
  p = CheckNewPodStarts(NewPod({{"waiting", {{"reason", "InvalidImageName"}}}}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->refusal.reason, "ImagePullFailed");
  EXPECT_TRUE(p->permanent);
  // A container that cannot run, and a pod that failed for good.
  p = CheckNewPodStarts(NewPod({{"waiting", {{"reason", "CrashLoopBackOff"}}}}, "Running"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->refusal.reason, "NewPodFailing");
  EXPECT_FALSE(p->permanent);
  p = CheckNewPodStarts(NewPod({{"terminated", {{"exitCode", 1}}}}, "Failed"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->refusal.reason, "NewPodFailing");
  EXPECT_TRUE(p->permanent);
}

TEST(K8sChecksTest, WindowSpec) {
  RedisUpgradeSpec spec;
  EXPECT_FALSE(CheckWindowSpec(spec));  // Immediate
  spec.mode = "MaintenanceWindow";
  EXPECT_EQ(CheckWindowSpec(spec)->reason, "InvalidMaintenanceWindow");
  spec.window = WindowSpec{"03:00", "1h", "Mars/Olympus"};
  EXPECT_EQ(CheckWindowSpec(spec)->reason, "UnknownTimeZone");
  spec.window = WindowSpec{"03:00", "0m", "UTC"};
  EXPECT_EQ(CheckWindowSpec(spec)->reason, "InvalidMaintenanceWindow");
  spec.window = WindowSpec{"03:00", "1h", "Europe/Paris"};
  EXPECT_FALSE(CheckWindowSpec(spec));
}

TEST(K8sChecksTest, ServiceSelector) {
  EXPECT_EQ(
      CheckServiceSelector(json{{"metadata", {{"name", "s"}}}, {"spec", json::object()}})->reason,
      "ServiceHasNoSelector");
  EXPECT_EQ(CheckServiceSelector(
                json{{"metadata", {{"name", "s"}}}, {"spec", {{"type", "ExternalName"}}}})
                ->reason,
            "ServiceHasNoSelector");
  EXPECT_FALSE(CheckServiceSelector(json{{"spec", {{"selector", {{"app", "x"}}}}}}));
}

TEST(K8sChecksTest, ReadyPodsAndMasters) {
  const auto ready = ReadyPods({Pod("b", true), Pod("a", true), Pod("c", false)});
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].name, "a");
  json deleting = Pod("d", true);
  deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_FALSE(IsPodReady(deleting));
  EXPECT_EQ(CheckHasReadyPods("svc", {})->reason, "NoReadyMaster");

  EXPECT_FALSE(CheckSingleMaster("svc", {{"a", "master"}, {"b", "slave"}}));
  EXPECT_EQ(CheckSingleMaster("svc", {{"a", "master"}, {"b", "master"}})->reason,
            "MultipleMasters");
  // Only replicas behind the Service: it points at the wrong pods.
  EXPECT_EQ(CheckSingleMaster("svc", {{"a", "slave"}})->reason, "NotAMaster");
  EXPECT_EQ(CheckSingleMaster("svc", {{"a", "slave"}, {"b", "slave"}})->reason, "NotAMaster");
  // A pod that did not answer: no verdict yet (retried as MasterUnreachable).
  EXPECT_FALSE(CheckSingleMaster("svc", {{"a", "slave"}, {"b", ""}}));
}

TEST(K8sChecksTest, OlderActiveUpgradeOfTheSameServiceRefuses) {
  const json me = Upgrade("second", "2026-01-01T00:00:10Z", "");
  EXPECT_FALSE(CheckNoOlderUpgrade(me, {me}).refusal);
  // Older and active → refused.
  auto c = CheckNoOlderUpgrade(me, {me, Upgrade("first", "2026-01-01T00:00:05Z", "Syncing")});
  ASSERT_TRUE(c.refusal);
  EXPECT_EQ(c.refusal->reason, "UpgradeInProgress");
  EXPECT_THAT(c.refusal->message, HasSubstr("first"));
  // Terminal, newer, or another Service: fine.
  EXPECT_FALSE(
      CheckNoOlderUpgrade(me, {Upgrade("first", "2026-01-01T00:00:05Z", "Completed")}).refusal);
  EXPECT_FALSE(
      CheckNoOlderUpgrade(me, {Upgrade("third", "2026-01-01T00:00:20Z", "Syncing")}).refusal);
  EXPECT_FALSE(
      CheckNoOlderUpgrade(me, {Upgrade("x", "2026-01-01T00:00:05Z", "Syncing", "other")}).refusal);
  // Same second: the name breaks the tie.
  EXPECT_TRUE(CheckNoOlderUpgrade(me, {Upgrade("aaa", "2026-01-01T00:00:10Z", "Pending")}).refusal);
  EXPECT_FALSE(
      CheckNoOlderUpgrade(me, {Upgrade("zzz", "2026-01-01T00:00:10Z", "Pending")}).refusal);
  // An older one being deleted: wait, do not refuse.
  json going = Upgrade("first", "2026-01-01T00:00:05Z", "Syncing");
  going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z";
  c = CheckNoOlderUpgrade(me, {going});
  EXPECT_FALSE(c.refusal);
  EXPECT_TRUE(c.wait);
}

TEST(K8sChecksTest, SecretValue) {
  const json secret = {{"metadata", {{"name", "auth"}}}, {"data", {{"password", "czNjcjN0"}}}};
  EXPECT_EQ(*SecretValue(secret, "password"), "s3cr3t");
  auto missing = SecretValue(secret, "pw");
  EXPECT_EQ(missing.status().reason(), "SecretKeyNotFound");
  EXPECT_THAT(missing.status().message(), ::testing::Not(HasSubstr("s3cr3t")));
}

TEST(PodsTest, TargetPortResolution) {
  const json pod = Pod("p", true);
  json svc = {{"spec", {{"ports", json::array({{{"port", 6379}, {"targetPort", "redis"}}})}}}};
  EXPECT_EQ(*ResolveTargetPort(svc, pod), 7000);
  EXPECT_EQ(TargetPortName(svc), "redis");
  svc["spec"]["ports"][0]["targetPort"] = 6380;
  EXPECT_EQ(*ResolveTargetPort(svc, pod), 6380);
  svc["spec"]["ports"][0].erase("targetPort");
  EXPECT_EQ(*ResolveTargetPort(svc, pod), 6379);
  svc["spec"]["ports"][0]["targetPort"] = "nope";
  EXPECT_EQ(ResolveTargetPort(svc, pod).status().reason(), "ServicePortUnresolved");
  EXPECT_EQ(RedisContainer(pod, 7000)["name"], "redis");
  EXPECT_EQ(MemoryLimitBytes(RedisContainer(pod, 7000)), 256 * 1024 * 1024);
}

TEST(QuantityTest, Parse) {
  EXPECT_EQ(*ParseQuantityBytes("256Mi"), 268435456);
  EXPECT_EQ(*ParseQuantityBytes("1G"), 1000000000);
  EXPECT_EQ(*ParseQuantityBytes("1.5Gi"), 1610612736);
  EXPECT_EQ(*ParseQuantityBytes("128974848"), 128974848);
  EXPECT_EQ(*ParseQuantityBytes("1e3"), 1000);
  EXPECT_FALSE(ParseQuantityBytes("12Qi").ok());
  EXPECT_FALSE(ParseQuantityBytes("").ok());
  EXPECT_EQ(MemoryLimitBytes(json::object()), 0);
}

TEST(Rfc3339Test, RoundTrip) {
  const auto t = std::chrono::system_clock::from_time_t(1767225600);  // 2026-01-01T00:00:00Z
  EXPECT_EQ(ParseRfc3339(Rfc3339(t)), t);
  EXPECT_EQ(ParseRfc3339("2026-01-01T01:00:00.123+01:00"), t);
  EXPECT_FALSE(ParseRfc3339("yesterday"));
}

}  // namespace
}  // namespace ruo::upgrade
