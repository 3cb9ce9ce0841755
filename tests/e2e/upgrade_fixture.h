// The fixture shared by the end-to-end suites (upgrade, hostile input, chaos):
// a namespace per test, the operator as a subprocess, the old instance, the
// probe through the Service VIP, and the checks after a completed switch.
#pragma once

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
    return WaitPodAddr(o.name + "-0");
  }

  // "podIP:6379" of pod `name` once it is Ready.
  std::string WaitPodAddr(const std::string& name) {
    std::string addr;
    const bool up = WaitUntil(
        [&] {
          auto pod = cluster_->client().Get(res::Pods(), ns_, name);
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
    EXPECT_TRUE(up) << "pod " << name << " did not become ready";
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

  // `mix`: SET, EVAL, MULTI/EXEC and expiring writes plus a subscriber (probe --mix).
  void StartProbe(const std::string& vip, const std::string& verify, int duration_s,
                  const std::optional<std::string>& password = std::nullopt, bool mix = false) {
    testing::SubprocessOptions o;
    o.argv = {RUO_BINARY, "probe", "--addr",     vip + ":6379",
              "--rate",   "2000",  "--duration", std::to_string(duration_s),
              "--verify", verify};
    if (mix) o.argv.push_back("--mix");
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
    // The seal refuses stale reads (serve-stale-data no); lifted to compare the
    // data. The slave-* name works on every version.
    auto stale = RedisCmd(old_addr, {"CONFIG", "SET", "slave-serve-stale-data", "yes"}, pw);
    ASSERT_TRUE(stale.ok() && !stale->IsError()) << (stale.ok() ? stale->str : "");
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

}  // namespace ruo::e2e
