#include "chaos/invariants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>

#include "k8s/resource.h"

namespace ruo::e2e::chaos {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace res = k8s::resources;

// A write must be answered by a connection whose command timeout is 1 s: a
// server paused for writes (CLIENT PAUSE WRITE) or fenced would not answer it,
// or would answer with an error.
void ExpectTakesWriteAtOnce(const std::string& addr, const std::string& who) {
  static std::unique_ptr<redis::Dialer> dialer = redis::NewHiredisDialer();
  auto ep = redis::Endpoint::Parse(addr);
  ASSERT_TRUE(ep.ok()) << who << " " << addr;
  redis::ConnectOptions opts;
  opts.connect_timeout = std::chrono::milliseconds(1000);
  opts.command_timeout = std::chrono::milliseconds(1000);
  auto conn = dialer->Dial(*ep, opts);
  ASSERT_TRUE(conn.ok()) << who << " " << addr << ": " << conn.status().ToString();
  auto r = (*conn)->Command({"SET", "chaos:invariant-write", "x"});
  ASSERT_TRUE(r.ok()) << who << " " << addr << " did not take a write: " << r.status().ToString();
  EXPECT_TRUE(r->IsOk()) << who << " " << addr << " refused a write: " << redis::DebugString(*r);
}

std::vector<std::string> UpgradeStatefulSets(Cluster& cluster, const std::string& ns,
                                             const std::string& upgrade) {
  k8s::ListOptions lo;
  lo.label_selector = std::string("redisupgrade.dev/upgrade=") + upgrade;
  std::vector<std::string> names;
  auto list = cluster.client().List(res::StatefulSets(), ns, lo);
  if (!list.ok()) return {"<list failed: " + list.status().ToString() + ">"};
  for (const auto& s : list->items) {
    if (s.contains(json::json_pointer("/metadata/deletionTimestamp"))) continue;
    names.push_back(s.value("/metadata/name"_json_pointer, ""));
  }
  return names;
}

// The reason is named in status: a condition's reason, status.reason, the last
// switch error, or (for retries, which end Completed) a Warning Event.
bool ReasonNamed(Cluster& cluster, const std::string& ns, const json& u,
                 const std::string& reason) {
  if (u.value("/status/reason"_json_pointer, "") == reason) return true;
  for (const auto& c : u.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("reason", "") == reason) return true;
  }
  if (u.value("/status/switch/lastError"_json_pointer, "").find(reason) != std::string::npos) {
    return true;
  }
  auto events = cluster.client().List(res::Events(), ns, {});
  if (!events.ok()) return false;
  for (const auto& e : events->items) {
    if (e.value("reason", "") == reason && e.value("type", "") == "Warning") return true;
  }
  return false;
}

int64_t KeysOr(const std::string& addr) {
  auto n = DbSize(addr);
  return n.ok() ? *n : -1;
}

}  // namespace

std::string PodAddr(Cluster& cluster, const std::string& ns, const std::string& pod) {
  auto p = cluster.client().Get(res::Pods(), ns, pod);
  if (!p.ok()) return "";
  const std::string ip = p->value("/status/podIP"_json_pointer, "");
  return ip.empty() ? "" : ip + ":6379";
}

std::map<std::string, std::string> WriteBlockConfig(const std::string& addr) {
  std::map<std::string, std::string> out;
  // Both spellings of the fence and seal settings: 2.8 and 4.0 know only slave-*.
  for (const char* name :
       {"client-output-buffer-limit", "repl-backlog-size", "min-replicas-to-write",
        "min-replicas-max-lag", "min-slaves-to-write", "min-slaves-max-lag", "maxmemory",
        "slave-read-only", "slave-serve-stale-data"}) {
    auto r = RedisCmd(addr, {"CONFIG", "GET", name});
    if (r.ok() && r->elements.size() == 2) out[name] = r->elements[1].str;
  }
  return out;
}

void ExpectInvariants(Cluster& cluster, const std::string& ns, const Expectation& want,
                      const Observation& got) {
  SCOPED_TRACE("invariants of " + got.scenario);
  const json& u = got.upgrade;
  const std::string phase = u.value("/status/phase"_json_pointer, "");
  EXPECT_EQ(phase, want.phase) << u.dump(2);

  // The probe: writes were acknowledged the whole time and none is missing
  // from the final master (the probe verified them through the VIP).
  const json& probe = got.probe;
  EXPECT_GT(probe.value("acked", int64_t{0}), 0) << probe.dump();
  EXPECT_FALSE(probe.contains("verify_error")) << probe.dump();
  if (!want.source_data_lost) {
    EXPECT_EQ(probe.value("lost", int64_t{-1}), 0) << probe.dump();
  }

  // The reason, where there was one.
  if (!want.reason.empty()) {
    EXPECT_TRUE(ReasonNamed(cluster, ns, u, want.reason))
        << want.reason << " not named in status or events:\n"
        << u.value("status", json::object()).dump(2);
  }
  if (want.phase == "Failed") {
    EXPECT_EQ(u.value("/status/reason"_json_pointer, ""), want.reason);
    bool in_condition = false;
    for (const auto& c : u.value("/status/conditions"_json_pointer, json::array())) {
      in_condition = in_condition || c.value("reason", "") == want.reason;
    }
    EXPECT_TRUE(in_condition) << "no condition with reason " << want.reason;
  }
  if (want.attempts) {
    EXPECT_EQ(u.value("/status/switch/attempts"_json_pointer, 0), *want.attempts) << u.dump(2);
  }

  auto svc = cluster.client().Get(res::Services(), ns, "orders-redis");
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  const json selector = svc->value("/spec/selector"_json_pointer, json::object());
  const std::string sts = u.value("/status/newStatefulSet"_json_pointer, "");
  int64_t old_keys = -1, new_keys = -1;

  if (want.phase == "Completed") {
    // Exactly one StatefulSet from this upgrade, the one status names.
    EXPECT_THAT(UpgradeStatefulSets(cluster, ns, got.upgrade_name), ::testing::ElementsAre(sts));
    EXPECT_EQ(selector, json({{"statefulset.kubernetes.io/pod-name", sts + "-0"}}));
    const std::string new_addr = PodAddr(cluster, ns, sts + "-0");
    ASSERT_FALSE(new_addr.empty());
    auto role = Role(new_addr);
    ASSERT_TRUE(role.ok()) << role.status().ToString();
    EXPECT_EQ(*role, "master");
    // Not left blocked: no fence setting, takes a write at once.
    auto cfg = WriteBlockConfig(new_addr);
    EXPECT_EQ(cfg["min-replicas-to-write"], "0");
    ExpectTakesWriteAtOnce(new_addr, "new master");
    // The old master is sealed (read-only, replicating nowhere), its data all
    // on the new one.
    const std::string old_addr = PodAddr(cluster, ns, got.old_pod);
    if (old_addr == got.old_addr) {
      EXPECT_EQ(*Role(old_addr), "slave of 127.0.0.1:1");
      // Sealed means it refuses writes and stale reads alike.
      auto set = RedisCmd(old_addr, {"SET", "after-switch", "x"});
      ASSERT_TRUE(set.ok());
      EXPECT_THAT(set->str, ::testing::HasSubstr("READONLY"));
      auto get = RedisCmd(old_addr, {"GET", "after-switch"});
      ASSERT_TRUE(get.ok());
      EXPECT_THAT(get->str, ::testing::HasSubstr("MASTERDOWN"));
      // Lifted to compare its data (the slave-* name works on every version).
      auto stale = RedisCmd(old_addr, {"CONFIG", "SET", "slave-serve-stale-data", "yes"});
      ASSERT_TRUE(stale.ok() && !stale->IsError());
      auto missing = MissingKeys(old_addr, new_addr);
      ASSERT_TRUE(missing.ok()) << missing.status().ToString();
      EXPECT_EQ(*missing, 0) << "keys of the old master missing on the new one";
      old_keys = KeysOr(old_addr);
    }
    new_keys = KeysOr(new_addr);
    EXPECT_GE(new_keys, got.seeded);
  } else {
    // Failed: never switched, the new instance removed (design: a refusal
    // tears down what the upgrade created), the old one serving as before.
    EXPECT_LE(u.value("/status/switch/attempts"_json_pointer, 0), 0) << "a switch was started";
    EXPECT_EQ(selector, json({{"app", "orders-redis"}}));
    std::vector<std::string> left;
    WaitUntil(
        [&] {
          left = UpgradeStatefulSets(cluster, ns, got.upgrade_name);
          return left.empty();
        },
        std::chrono::seconds(30));
    EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
    const std::string old_addr = PodAddr(cluster, ns, got.old_pod);
    ASSERT_FALSE(old_addr.empty());
    EXPECT_EQ(*Role(old_addr), "master");
    EXPECT_EQ(WriteBlockConfig(old_addr), got.old_config);
    ExpectTakesWriteAtOnce(old_addr, "old master");
    old_keys = KeysOr(old_addr);
  }

  std::cout << "[chaos] " << got.scenario << ": phase=" << phase
            << " write-blocked ms=" << u.value("/status/switch/writeBlockedMillis"_json_pointer, -1)
            << " probe max_gap_ms=" << probe.value("max_gap_ms", -1.0)
            << " acked=" << probe.value("acked", int64_t{0})
            << " lost=" << probe.value("lost", int64_t{-1})
            << " attempts=" << u.value("/status/switch/attempts"_json_pointer, 0)
            << " reason=" << u.value("/status/reason"_json_pointer, "") << " keys old=" << old_keys
            << " new=" << new_keys;
  if (want.phase == "Failed") {
    std::cout << " message=\"" << u.value("/status/message"_json_pointer, "") << "\"";
  }
  std::cout << std::endl;
}

}  // namespace ruo::e2e::chaos
