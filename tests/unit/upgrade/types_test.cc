#include "upgrade/types.h"

#include <gtest/gtest.h>

namespace ruo::upgrade {
namespace {

using nlohmann::json;

json Sample() {
  return json::parse(R"({
    "apiVersion": "redisupgrade.dev/v1alpha1", "kind": "RedisUpgrade",
    "metadata": {"name": "orders-to-7", "namespace": "shop", "uid": "u-1",
                 "resourceVersion": "42", "generation": 3,
                 "annotations": {"redisupgrade.dev/switch-now": "true"},
                 "finalizers": ["redisupgrade.dev/cleanup"]},
    "spec": {"instance": {"service": "orders-redis"}, "targetVersion": "7.0",
             "image": "redis:7.0.15", "replicas": 1,
             "auth": {"secretRef": {"name": "orders-auth", "key": "password"}},
             "switchover": {"mode": "MaintenanceWindow",
                            "maintenanceWindow": {"start": "03:00", "duration": "1h",
                                                  "timeZone": "Europe/Paris"},
                            "maxLagBytes": 1000, "maxReadOnlySeconds": 30},
             "readService": {"name": "orders-redis-read"}},
    "status": {"phase": "Syncing", "sourceVersion": "5.0.14", "readService": "orders-redis-read",
               "sync": {"lagBytes": 1234, "masterLinkStatus": "up", "fullSyncDone": true},
               "switch": {"attempts": 1, "writeBlockedMillis": 180},
               "conditions": [{"type": "Ready", "status": "False", "reason": "Syncing",
                               "message": "m", "lastTransitionTime": "2026-11-24T00:00:00Z"}],
               "observedGeneration": 3}
  })");
}

TEST(TypesTest, ParsesAFullObject) {
  auto u = RedisUpgradeFromJson(Sample());
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->Key(), "shop/orders-to-7");
  EXPECT_EQ(u->generation, 3);
  EXPECT_TRUE(u->HasFinalizer());
  EXPECT_TRUE(u->SwitchNowRequested());
  EXPECT_FALSE(u->being_deleted);
  EXPECT_EQ(u->spec.service, "orders-redis");
  EXPECT_EQ(u->spec.replicas, 1);
  ASSERT_TRUE(u->spec.auth);
  EXPECT_EQ(u->spec.auth->key, "password");
  EXPECT_EQ(u->spec.mode, "MaintenanceWindow");
  ASSERT_TRUE(u->spec.window);
  EXPECT_EQ(u->spec.window->time_zone, "Europe/Paris");
  EXPECT_EQ(u->spec.max_read_only_seconds, 30);
  ASSERT_TRUE(u->spec.read_service);
  EXPECT_EQ(u->spec.read_service->name, "orders-redis-read");
  EXPECT_EQ(u->status.read_service, "orders-redis-read");
  EXPECT_EQ(u->status.phase, Phase::kSyncing);
  EXPECT_EQ(u->status.sync.lag_bytes, 1234);
  EXPECT_EQ(u->status.sw.write_blocked_millis, 180);
  ASSERT_EQ(u->status.conditions.size(), 1u);
}

TEST(TypesTest, DefaultsWhenFieldsAreAbsent) {
  auto u = RedisUpgradeFromJson(json::parse(
      R"({"metadata": {"name": "a", "namespace": "b"},
          "spec": {"instance": {"service": "s"}, "targetVersion": "7.0"}})"));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->status.phase, Phase::kPending);
  EXPECT_EQ(u->spec.mode, "Immediate");
  EXPECT_EQ(u->spec.max_lag_bytes, 10 * 1024 * 1024);
  EXPECT_FALSE(u->spec.replicas);
  EXPECT_FALSE(u->spec.auth);
  EXPECT_FALSE(u->spec.read_service);
  EXPECT_FALSE(SpecToJson(u->spec).contains("readService"));
  EXPECT_FALSE(StatusToJson(u->status).contains("readService"));
  EXPECT_FALSE(u->HasFinalizer());
}

TEST(TypesTest, WrongTypesAreNamedErrors) {
  json j = Sample();
  j["spec"]["replicas"] = "three";
  auto u = RedisUpgradeFromJson(j);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().reason(), "InvalidSpec");
  j = Sample();
  j["status"]["phase"] = "Exploded";
  u = RedisUpgradeFromJson(j);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().reason(), "InvalidStatus");
}

TEST(TypesTest, StatusRoundTrip) {
  auto u = RedisUpgradeFromJson(Sample());
  ASSERT_TRUE(u.ok());
  RedisUpgradeStatus s = u->status;
  s.sw.record = json{{"step", "Blocked"}, {"fence_offset", 99}};
  s.original_selector = {{"app", "orders"}};
  s.phase_times = {{"Syncing", "2026-11-24T00:00:00Z"}};
  auto back = StatusFromJson(StatusToJson(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);
  EXPECT_EQ(StatusToJson(s)["readService"], "orders-redis-read");
}

TEST(TypesTest, SpecRoundTrip) {
  auto u = RedisUpgradeFromJson(Sample());
  ASSERT_TRUE(u.ok());
  json obj = {{"metadata", {{"name", "x"}}}, {"spec", SpecToJson(u->spec)}};
  auto again = RedisUpgradeFromJson(obj);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->spec, u->spec);
  EXPECT_EQ(SpecToJson(u->spec)["readService"], json({{"name", "orders-redis-read"}}));
  // Equality sees the read Service.
  RedisUpgradeSpec other = u->spec;
  other.read_service->name = "other-read";
  EXPECT_NE(other, u->spec);
  other.read_service.reset();
  EXPECT_NE(other, u->spec);
}

TEST(ConditionsTest, TransitionTimeChangesOnlyWithStatus) {
  std::vector<Condition> cs;
  EXPECT_TRUE(SetCondition(cs, {"Ready", "False", "Syncing", "a", "", 1}, "T1"));
  EXPECT_EQ(cs[0].last_transition_time, "T1");
  // Same status, new message: updated, time kept.
  EXPECT_TRUE(SetCondition(cs, {"Ready", "False", "Syncing", "b", "", 1}, "T2"));
  EXPECT_EQ(cs[0].last_transition_time, "T1");
  EXPECT_EQ(cs[0].message, "b");
  // Identical: no change reported.
  EXPECT_FALSE(SetCondition(cs, {"Ready", "False", "Syncing", "b", "", 1}, "T3"));
  // Status flips: new time.
  EXPECT_TRUE(SetCondition(cs, {"Ready", "True", "Completed", "done", "", 1}, "T4"));
  EXPECT_EQ(cs[0].last_transition_time, "T4");
  EXPECT_EQ(FindCondition(cs, "Ready")->status, "True");
  EXPECT_EQ(FindCondition(cs, "Degraded"), nullptr);
}

TEST(PhaseTest, NamesAndClasses) {
  for (auto p : {Phase::kPending, Phase::kValidating, Phase::kProvisioning, Phase::kSyncing,
                 Phase::kWaitingForSwitch, Phase::kSwitching, Phase::kCompleted, Phase::kFailed}) {
    EXPECT_EQ(*ParsePhase(PhaseName(p)), p);
  }
  EXPECT_TRUE(IsTerminal(Phase::kFailed));
  EXPECT_FALSE(IsTerminal(Phase::kSwitching));
  EXPECT_TRUE(IsBeforeSwitch(Phase::kWaitingForSwitch));
  EXPECT_FALSE(IsBeforeSwitch(Phase::kSwitching));
  EXPECT_EQ(Rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(1795478400))),
            "2026-11-24T00:00:00Z");
}

}  // namespace
}  // namespace ruo::upgrade
