#include "upgrade/watch_mapping.h"

#include <gtest/gtest.h>

namespace ruo::upgrade {
namespace {

using nlohmann::json;
using Keys = std::vector<std::string>;

json Meta(const std::string& kind, const std::string& ns, const std::string& name,
          json labels = json::object()) {
  return {{"kind", kind}, {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}}};
}

json Upgrade(const std::string& ns, const std::string& name, const std::string& service,
             const std::string& old_master = "", const std::string& phase = "Syncing") {
  json u = Meta("RedisUpgrade", ns, name);
  u["spec"] = {{"instance", {{"service", service}}}, {"targetVersion", "7.0"}};
  u["status"] = {{"phase", phase}};
  if (!old_master.empty()) u["status"]["oldMasterPod"] = old_master;
  return u;
}

json Service(const std::string& ns, const std::string& name, json selector,
             json labels = json::object()) {
  json s = Meta("Service", ns, name, std::move(labels));
  s["spec"] = {{"selector", std::move(selector)}};
  return s;
}

TEST(WatchMappingTest, RedisUpgradeMapsToItself) {
  EXPECT_EQ(KeysForRedisUpgrade(Upgrade("shop", "orders-to-7", "orders")),
            (Keys{"shop/orders-to-7"}));
  EXPECT_TRUE(KeysForRedisUpgrade(json::object()).empty());
}

TEST(WatchMappingTest, LabelledStatefulSetMapsToItsOwner) {
  EXPECT_EQ(KeysForStatefulSet(Meta("StatefulSet", "shop", "orders-redis-7-0",
                                    {{"redisupgrade.dev/upgrade", "orders-to-7"}})),
            (Keys{"shop/orders-to-7"}));
  EXPECT_TRUE(KeysForStatefulSet(Meta("StatefulSet", "shop", "unrelated")).empty());
  EXPECT_TRUE(
      KeysForStatefulSet(Meta("StatefulSet", "shop", "x", {{"redisupgrade.dev/upgrade", ""}}))
          .empty());
}

TEST(WatchMappingTest, ServiceMapsToUpgradesOfThatServiceInItsNamespace) {
  std::vector<json> upgrades = {Upgrade("shop", "u1", "orders"),
                                Upgrade("shop", "u2", "carts"),
                                Upgrade("shop", "u3", "orders"),
                                Upgrade("other", "u4", "orders"),
                                Upgrade("shop", "done", "orders", "", "Completed"),
                                Upgrade("shop", "failed", "orders", "", "Failed")};
  EXPECT_EQ(KeysForService(Service("shop", "orders", {{"app", "orders"}}), upgrades),
            (Keys{"shop/u1", "shop/u3"}));
  EXPECT_TRUE(KeysForService(Service("shop", "nobody", {{"app", "x"}}), upgrades).empty());
}

TEST(WatchMappingTest, LabelledServiceMapsToItsOwnerToo) {
  std::vector<json> upgrades = {Upgrade("shop", "u1", "orders")};
  auto headless = Service("shop", "orders-redis-7-0-headless", json::object(),
                          {{"redisupgrade.dev/upgrade", "u9"}});
  EXPECT_EQ(KeysForService(headless, upgrades), (Keys{"shop/u9"}));
}

TEST(WatchMappingTest, LabelledPodMapsOnlyToItsOwner) {
  std::vector<json> upgrades = {Upgrade("shop", "u1", "orders")};
  std::vector<json> services = {Service("shop", "orders", {{"app", "orders"}})};
  auto pod = Meta("Pod", "shop", "orders-redis-7-0-0",
                  {{"redisupgrade.dev/upgrade", "u2"}, {"app", "orders"}});
  EXPECT_EQ(KeysForPod(pod, upgrades, services), (Keys{"shop/u2"}));
}

TEST(WatchMappingTest, UnlabelledPodMapsBySelectorAndOldMaster) {
  std::vector<json> upgrades = {
      Upgrade("shop", "by-selector", "orders"),
      Upgrade("shop", "by-old-master", "carts", "orders-redis-0"),
      Upgrade("shop", "unrelated", "carts"),
      Upgrade("other", "other-ns", "orders", "orders-redis-0"),
      Upgrade("shop", "finished", "orders", "orders-redis-0", "Completed"),
  };
  std::vector<json> services = {
      Service("shop", "orders", {{"app", "orders"}, {"role", "master"}}),
      Service("shop", "carts", {{"app", "carts"}}),
      Service("other", "orders", {{"app", "orders"}}),
  };
  auto master = Meta("Pod", "shop", "orders-redis-0", {{"app", "orders"}, {"role", "master"}});
  EXPECT_EQ(KeysForPod(master, upgrades, services),
            (Keys{"shop/by-old-master", "shop/by-selector"}));

  // A replica the selector does not pick, not the recorded old master.
  auto replica = Meta("Pod", "shop", "orders-redis-1", {{"app", "orders"}, {"role", "replica"}});
  EXPECT_TRUE(KeysForPod(replica, upgrades, services).empty());
}

TEST(WatchMappingTest, EmptySelectorSelectsNothing) {
  EXPECT_FALSE(SelectorMatches(Service("ns", "s", json::object()), {{"app", "x"}}));
  json no_spec = Meta("Service", "ns", "s");
  EXPECT_FALSE(SelectorMatches(no_spec, {{"app", "x"}}));
  EXPECT_TRUE(SelectorMatches(Service("ns", "s", {{"app", "x"}}), {{"app", "x"}, {"b", "c"}}));
  EXPECT_FALSE(SelectorMatches(Service("ns", "s", {{"app", "x"}}), {{"app", "y"}}));
}

TEST(WatchMappingTest, ToleratesMalformedObjects) {
  json weird = {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"labels", "not-a-map"}}}};
  json bad_upgrade = {{"metadata", {{"name", "u"}, {"namespace", "ns"}}}, {"spec", 5}};
  EXPECT_TRUE(KeysForPod(weird, {bad_upgrade}, {weird}).empty());
  EXPECT_TRUE(KeysForService(weird, {bad_upgrade}).empty());
}

}  // namespace
}  // namespace ruo::upgrade
