// The chaos fixture: UpgradeE2ETest (namespace, old instance, kubectl) plus
// what the scenarios of issue 6 §1 do to the system under test — the operator
// started, SIGKILLed and restarted at test-hook pauses found in its log, pods
// deleted, the apiserver restarted, etcd compacted, status writes forced into
// conflicts — and the probe writing through the VIP for the whole run.
#pragma once

#include <signal.h>

#include <atomic>
#include <thread>

#include "chaos/invariants.h"
#include "e2e/upgrade_fixture.h"

namespace ruo::e2e::chaos {

// Merge-patches an annotation onto the RedisUpgrade every 20–50 ms from a
// thread of its own (its own API client), so the operator's optimistic-lock
// status writes meet real 409 Conflicts.
class AnnotationStorm {
 public:
  AnnotationStorm(const std::string& kubeconfig, std::string ns, std::string name);
  ~AnnotationStorm();
  int64_t patches() const { return patches_.load(); }
  void Stop();

 private:
  void Run(std::unique_ptr<k8s::Client> client);
  std::string ns_, name_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> patches_{0};
  std::thread thread_;
};

// hack/cluster/<script> ARGS against this cluster; the exit code (-1 when it
// did not finish in `timeout`), its output appended to *out when given.
int RunClusterScript(Cluster& cluster, const std::string& script,
                     const std::vector<std::string>& args, std::chrono::seconds timeout,
                     std::string* out = nullptr);

// How many times `needle` occurs in `haystack`.
size_t Count(const std::string& haystack, const std::string& needle);

class ChaosTest : public UpgradeE2ETest {
 protected:
  static constexpr int kProbeRate = 1000;

  void TearDown() override;

  // The operator (`redis-upgrade-operator run` for this namespace) with extra
  // environment (test hooks); debug logging shows status-write conflicts.
  testing::Subprocess& StartOp(const std::map<std::string, std::optional<std::string>>& env = {},
                               bool debug = false);
  // SIGKILL: no cleanup, no graceful shutdown.
  void KillOp(testing::Subprocess& op) { op.Kill(); }
  // Every operator's log of this test, in start order.
  std::string AllOpLogs() const;
  // Waits until the operator's log holds `needle`.
  bool WaitLog(testing::Subprocess& op, const std::string& needle, std::chrono::seconds timeout);

  // The old instance (`image`, e.g. redis:2.8 for a real 2.8.19) with `keys`
  // keys, its VIP and settings; the probe is not started. ApplyUpgrade then
  // targets `target` (allowSameVersion when it is the source's own line).
  void Prepare(int keys, const std::string& image = "redis:7.0", const std::string& target = "7.0");
  // kubectl apply of the RedisUpgrade (Immediate unless `window` is set).
  void ApplyUpgrade(bool window = false);
  // The probe writes through the VIP until StopProbe, then verifies every
  // acknowledged write through the VIP too: the final master, whichever it is.
  void StartVipProbe();
  nlohmann::json StopProbe();

  // Waits for Completed/Failed, stops the probe, runs the invariant checker.
  void Finish(const std::string& scenario, const Expectation& want,
              std::chrono::seconds timeout = std::chrono::seconds(150));

  // kubectl delete pod --grace-period=0 --force.
  void ForceDeletePod(const std::string& pod);
  // The old master's full syncs crawl: rdb-key-save-delay (µs per key) on it.
  void SlowFullSync(const std::string& addr, int us_per_key);
  // Waits until the new master's full sync from the old one is under way.
  bool WaitFullSyncInProgress(std::chrono::seconds timeout);
  // Prepare(keys), full syncs slowed to `us_per_key`, the probe, an operator and
  // the upgrade; true once the new master's full sync is under way.
  bool StartUpgradeInSlowFullSync(int keys, int us_per_key);

  std::string old_addr_;
  std::string target_version_ = "7.0";
  bool allow_same_version_ = true;
  std::string vip_;
  std::map<std::string, std::string> old_config_;
  int seeded_ = 0;
  std::vector<std::unique_ptr<testing::Subprocess>> ops_;
};

}  // namespace ruo::e2e::chaos
