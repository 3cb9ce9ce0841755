#include "upgrade/manifests.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "upgrade/carry_over.h"

namespace ruo::upgrade {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

redis::Version V(const char* s) {
  return *redis::Version::Parse(s);
}

NewInstanceParams Params() {
  NewInstanceParams p;
  p.ns = "shop";
  p.upgrade = "orders-to-7";
  p.service = "orders-redis";
  p.statefulset = StatefulSetNameFor("orders-redis", V("7.0"));
  p.image = "redis:7.0";
  p.replicas = 2;
  p.port = 6379;
  p.target = V("7.0.15");
  p.original_selector = {{"app", "orders-redis"}};
  return p;
}

TEST(ManifestsTest, NamesFollowServiceAndTargetLine) {
  EXPECT_EQ(StatefulSetNameFor("orders-redis", V("7.0")), "orders-redis-7-0");
  EXPECT_EQ(StatefulSetNameFor("orders-redis", V("6.2.14")), "orders-redis-6-2");
  EXPECT_EQ(HeadlessServiceNameFor("orders-redis-7-0"), "orders-redis-7-0-hl");
  EXPECT_EQ(PodNameFor("orders-redis-7-0", 0), "orders-redis-7-0-0");
}

TEST(ManifestsTest, LongNamesAreCutWithAStableHashSuffix) {
  const std::string svc(63, 'a');
  const std::string other = std::string(62, 'a') + "b";
  const std::string name = StatefulSetNameFor(svc, V("7.0"));
  EXPECT_LE(name.size(), kMaxStatefulSetName);
  EXPECT_EQ(name, StatefulSetNameFor(svc, V("7.0")));  // deterministic
  EXPECT_NE(name, StatefulSetNameFor(other, V("7.0")));
  EXPECT_NE(name, StatefulSetNameFor(svc, V("7.2")));
  EXPECT_LE(PodNameFor(name, 9).size(), 63u);
  // A DNS-1035 label: letters, digits and '-', starting with a letter.
  EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(name.front())));
  EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(name.back())));
  for (char c : name) EXPECT_TRUE(std::islower(c) || std::isdigit(c) || c == '-') << name;
}

TEST(ManifestsTest, LabelsOnEverything) {
  const NewInstanceParams p = Params();
  const json sts = BuildStatefulSet(p);
  const json svc = BuildHeadlessService(p);
  const std::map<std::string, std::string> want = {
      {"app.kubernetes.io/name", "redis"},
      {"app.kubernetes.io/instance", "orders-redis"},
      {"app.kubernetes.io/managed-by", "redis-upgrade-operator"},
      {"redisupgrade.dev/upgrade", "orders-to-7"},
  };
  EXPECT_EQ(sts["metadata"]["labels"].get<decltype(want)>(), want);
  EXPECT_EQ(sts["spec"]["template"]["metadata"]["labels"].get<decltype(want)>(), want);
  EXPECT_EQ(svc["metadata"]["labels"].get<decltype(want)>(), want);
  // The StatefulSet's selector matches its template.
  for (const auto& [k, v] : sts["spec"]["selector"]["matchLabels"].items()) {
    EXPECT_EQ(sts["spec"]["template"]["metadata"]["labels"][k], v);
  }
  EXPECT_FALSE(sts["metadata"].contains("ownerReferences"));
  EXPECT_EQ(sts["spec"]["replicas"], 2);
  EXPECT_EQ(sts["spec"]["serviceName"], "orders-redis-7-0-hl");
  EXPECT_EQ(svc["spec"]["clusterIP"], "None");
  EXPECT_EQ(svc["spec"]["selector"], sts["spec"]["selector"]["matchLabels"]);
}

TEST(ManifestsTest, NewPodsNeverMatchTheOriginalSelector) {
  NewInstanceParams p = Params();
  p.original_selector = {{"app.kubernetes.io/name", "redis"},
                         {"app.kubernetes.io/instance", "orders-redis"}};
  const auto labels = NewInstanceLabels(p);
  EXPECT_FALSE(SelectorSelects(p.original_selector, labels));
  EXPECT_EQ(labels.at("redisupgrade.dev/upgrade"), "orders-to-7");
  EXPECT_TRUE(SelectorSelects(NewInstanceSelector(p), labels));
}

TEST(ManifestsTest, ContainerPortProbeAndNoBind) {
  NewInstanceParams p = Params();
  p.port = 7000;
  p.port_name = "client";
  const json c = BuildStatefulSet(p)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["name"], "redis");
  EXPECT_EQ(c["image"], "redis:7.0");
  EXPECT_EQ(c["ports"][0]["containerPort"], 7000);
  EXPECT_EQ(c["ports"][0]["name"], "client");
  const auto args = c["args"].get<std::vector<std::string>>();
  EXPECT_THAT(args, ::testing::IsSupersetOf({"--port", "7000", "--protected-mode", "no"}));
  EXPECT_THAT(args, Not(::testing::Contains("--bind")));
  EXPECT_THAT(c["readinessProbe"]["exec"]["command"][2].get<std::string>(),
              HasSubstr("redis-cli -p 7000 ping"));
  EXPECT_FALSE(c.contains("env"));
}

TEST(ManifestsTest, PasswordOnlyThroughTheSecret) {
  NewInstanceParams p = Params();
  p.auth = SecretKeyRef{"orders-auth", "password"};
  const json sts = BuildStatefulSet(p);
  const json c = sts["spec"]["template"]["spec"]["containers"][0];
  const auto args = c["args"].get<std::vector<std::string>>();
  EXPECT_THAT(args, ::testing::IsSupersetOf({"--requirepass", "$(REDIS_PASSWORD)", "--masterauth",
                                             "$(REDIS_PASSWORD)"}));
  ASSERT_TRUE(c.contains("env"));
  EXPECT_EQ(c["env"][0]["name"], "REDIS_PASSWORD");
  EXPECT_EQ(c["env"][0]["valueFrom"]["secretKeyRef"]["name"], "orders-auth");
  EXPECT_EQ(c["env"][0]["valueFrom"]["secretKeyRef"]["key"], "password");
  EXPECT_EQ(c["env"][1]["name"], "REDISCLI_AUTH");
  // No literal value anywhere in the object: it comes from the Secret only.
  for (const auto& e : c["env"]) EXPECT_FALSE(e.contains("value"));
}

TEST(ManifestsTest, OldTargetsUseDashAInTheProbe) {
  NewInstanceParams p = Params();
  p.auth = SecretKeyRef{"s", "k"};
  p.target = V("4.0.14");
  const json c = BuildStatefulSet(p)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_THAT(c["readinessProbe"]["exec"]["command"][2].get<std::string>(),
              HasSubstr("-a \"$REDIS_PASSWORD\""));
  EXPECT_EQ(c["env"].size(), 1u);
}

TEST(ManifestsTest, ResourcesCopied) {
  NewInstanceParams p = Params();
  p.resources = {{"limits", {{"memory", "256Mi"}}}, {"requests", {{"cpu", "100m"}}}};
  const json c = BuildStatefulSet(p)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["resources"], p.resources);
}

TEST(ManifestsTest, ReadServiceSelectsEveryNewPodOnTheServicePort) {
  NewInstanceParams p = Params();
  p.port = 7000;  // the old master's container port
  p.service_port = 6379;
  p.port_name = "client";
  const json read = BuildReadService(p, "orders-redis-read");
  const json sts = BuildStatefulSet(p);
  EXPECT_EQ(read["kind"], "Service");
  EXPECT_EQ(read["metadata"]["name"], "orders-redis-read");
  EXPECT_EQ(read["metadata"]["namespace"], "shop");
  EXPECT_EQ(read["metadata"]["labels"], BuildHeadlessService(p)["metadata"]["labels"]);
  EXPECT_EQ(read["metadata"]["labels"]["app.kubernetes.io/managed-by"], "redis-upgrade-operator");
  EXPECT_EQ(read["metadata"]["labels"]["redisupgrade.dev/upgrade"], "orders-to-7");
  EXPECT_EQ(read["spec"]["type"], "ClusterIP");
  EXPECT_FALSE(read["spec"].contains("clusterIP"));
  // Every pod of the StatefulSet (no role label): master and replicas serve reads.
  EXPECT_EQ(read["spec"]["selector"], sts["spec"]["selector"]["matchLabels"]);
  EXPECT_FALSE(read["spec"]["selector"].contains(kRoleLabel));
  const auto selector = read["spec"]["selector"].get<std::map<std::string, std::string>>();
  EXPECT_TRUE(SelectorSelects(
      selector,
      sts["spec"]["template"]["metadata"]["labels"].get<std::map<std::string, std::string>>()));
  // Never picked by the user's Service selector, as for the other new objects.
  EXPECT_FALSE(SelectorSelects(p.original_selector, NewInstanceLabels(p)));
  ASSERT_EQ(read["spec"]["ports"].size(), 1u);
  EXPECT_EQ(read["spec"]["ports"][0]["port"], 6379);
  EXPECT_EQ(read["spec"]["ports"][0]["targetPort"], 7000);
  EXPECT_EQ(read["spec"]["ports"][0]["name"], "client");
  // Without a known Service port: the container port.
  p.service_port = 0;
  EXPECT_EQ(BuildReadService(p, "r")["spec"]["ports"][0]["port"], 7000);
}

TEST(CarryOverTest, ArgsForTheTargetVersion) {
  const std::map<std::string, std::string> config = {
      {"maxmemory", "104857600"},          {"maxmemory-policy", "allkeys-lru"},
      {"save", "3600 1 300 100"},          {"notify-keyspace-events", ""},
      {"replica-serve-stale-data", "yes"}, {"lazyfree-lazy-eviction", "no"},
  };
  const auto args = CarryOverArgs(config, V("7.0.15"));
  EXPECT_THAT(args,
              ElementsAre("--maxmemory", "104857600", "--maxmemory-policy", "allkeys-lru", "--save",
                          "3600", "1", "300", "100", "--notify-keyspace-events", "",
                          "--replica-serve-stale-data", "yes", "--lazyfree-lazy-eviction", "no"));
  // A 4.0 target spells slave-*; a 3.2 target does not know lazyfree.
  const auto old = CarryOverArgs(config, V("3.2.12"));
  EXPECT_THAT(old, ::testing::Contains("--slave-serve-stale-data"));
  EXPECT_THAT(old, Not(::testing::Contains("--lazyfree-lazy-eviction")));
}

TEST(CarryOverTest, EmptySaveStaysOneArgument) {
  const auto args = CarryOverArgs({{"save", ""}}, V("7.0"));
  EXPECT_THAT(args, ElementsAre("--save", ""));
}

}  // namespace
}  // namespace ruo::upgrade
