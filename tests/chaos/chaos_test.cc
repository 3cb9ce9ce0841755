// Chaos (issue 6 §1): the real operator against the local cluster, the probe
// writing through the Service VIP the whole time, and one fault per scenario —
// the operator SIGKILLed at every phase boundary and at every switch step, the
// new master pod killed during the full and the incremental sync, the old
// master lost during the sync, the apiserver restarted, status writes forced
// into 409 Conflicts, watches answered with 410 Gone. Every scenario ends with
// the shared invariant checker (invariants.h). See README.md.
#include <sstream>
#include <vector>

#include "chaos/chaos_fixture.h"

namespace ruo::e2e::chaos {
namespace {

constexpr int kSeed = 20000;
constexpr const char* kPauseMs = "4000";
// 20,000 keys × 300 µs: a full sync takes ~6 s, long enough to act inside it.
constexpr int kSlowSyncUsPerKey = 300;

// The source itself is gone: Failed SourceLost, its writes gone with it.
Expectation SourceLost() {
  Expectation want;
  want.phase = "Failed";
  want.reason = "SourceLost";
  want.source_data_lost = true;
  return want;
}

std::string NewSts(const json& u) {
  return u.value("/status/newStatefulSet"_json_pointer, "");
}

// ---- 1. the operator SIGKILLed at every phase boundary ----------------------

// One upgrade, one operator per phase: each pauses (RUO_TEST_PHASE_DELAY) right
// after the transition into its phase was persisted and is SIGKILLed there;
// the next one must carry on from status.
TEST_F(ChaosTest, OperatorKilledAtEveryPhaseBoundary) {
  Prepare(kSeed);
  StartVipProbe();
  ApplyUpgrade();
  for (const char* phase :
       {"Validating", "Provisioning", "Syncing", "WaitingForSwitch", "Switching"}) {
    SCOPED_TRACE(phase);
    testing::Subprocess& op =
        StartOp({{"RUO_TEST_PHASE_DELAY", std::string(phase) + ":" + kPauseMs}});
    ASSERT_TRUE(WaitLog(op,
                        std::string("pausing ") + kPauseMs + " ms after entering phase " + phase,
                        std::chrono::seconds(120)))
        << Upgrade().dump(2);
    EXPECT_EQ(Phase(), phase);  // persisted before the pause
    KillOp(op);
    std::cout << "[chaos] killed the operator right after entering phase " << phase << std::endl;
  }
  StartOp();
  Finish("operator killed at every phase boundary", {});
}

// ---- 2. the operator SIGKILLed at each step of the switch -------------------

struct StepCase {
  const char* source_image;  // the old instance: redis:7.0 (Debian), real 2.8.19 / 6.2.14
  const char* target;
  const char* step;
  bool before_point_of_no_return;  // undone and retried; otherwise finished forward
};
void PrintTo(const StepCase& c, std::ostream* os) {
  *os << c.source_image << "->" << c.target << "@" << c.step;
}

class OperatorKilledAtSwitchStep : public ChaosTest,
                                   public ::testing::WithParamInterface<StepCase> {};

TEST_P(OperatorKilledAtSwitchStep, ThenRestartedEndsCompleted) {
  const StepCase c = GetParam();
  Prepare(kSeed, c.source_image, c.target);
  StartVipProbe();
  testing::Subprocess& op =
      StartOp({{"RUO_TEST_SWITCH_STEP_DELAY", std::string(c.step) + ":" + kPauseMs}});
  ApplyUpgrade();
  ASSERT_TRUE(WaitLog(op, std::string("pausing ") + kPauseMs + " ms after switch step " + c.step,
                      std::chrono::seconds(120)))
      << Upgrade().dump(2);
  KillOp(op);
  std::cout << "[chaos] " << c.source_image << " -> " << c.target
            << ": killed the operator at switch step " << c.step << std::endl;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  StartOp();
  Expectation want;
  want.attempts = c.before_point_of_no_return ? 2 : 1;
  if (c.before_point_of_no_return) want.reason = "SwitchInterrupted";
  Finish(std::string("operator killed at switch step ") + c.step + " (" + c.source_image + ")",
         want);
}

// Every step for each write-blocking path: 7.0 → 7.0 and a real 6.2 → 8.2
// (pause-write), a real 2.8 → 7.0 (fence). After the block, after the
// catch-up, after promotion, after the seal: undone and retried; at the point
// of no return and after the selector move: finished forward.
std::vector<StepCase> StepCases() {
  std::vector<StepCase> out;
  const std::pair<const char*, const char*> sources[] = {
      {"redis:7.0", "7.0"}, {"redis:2.8", "7.0"}, {"redis:6.2", "8.2"}};
  const std::pair<const char*, bool> steps[] = {{"Blocked", true},   {"Promoting", true},
                                                {"Promoted", true},  {"Sealed", true},
                                                {"Verified", false}, {"TrafficMoved", false}};
  for (const auto& [image, target] : sources) {
    for (const auto& [step, before] : steps) out.push_back({image, target, step, before});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Steps, OperatorKilledAtSwitchStep, ::testing::ValuesIn(StepCases()),
                         [](const ::testing::TestParamInfo<StepCase>& i) {
                           std::string n = i.param.source_image;
                           n = n.substr(n.find(':') + 1);
                           for (char& ch : n) {
                             if (ch == '.') ch = '_';
                           }
                           // Names of the 7.0 cases stay as they were.
                           return (n == "7_0" ? "" : "from_" + n + "_") + i.param.step;
                         });

// ---- 3. the new master pod killed -------------------------------------------

TEST_F(ChaosTest, NewMasterPodKilledDuringFullSync) {
  ASSERT_TRUE(StartUpgradeInSlowFullSync(kSeed, kSlowSyncUsPerKey)) << Upgrade().dump(2);
  const json u = Upgrade();
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "Syncing") << u.dump(2);
  const std::string pod = NewSts(u) + "-0";
  const std::string before = PodAddr(*cluster_, ns_, pod);
  ForceDeletePod(pod);
  SlowFullSync(old_addr_, 0);
  std::cout << "[chaos] deleted the new master pod " << pod << " (" << before
            << ") during the full sync" << std::endl;
  Finish("new master pod killed during the full sync", {});
  EXPECT_NE(PodAddr(*cluster_, ns_, pod), before) << "the pod was not replaced";
}

// In WaitingForSwitch (a maintenance window hours away) the new master follows
// the old one by the replication stream; it is killed and, at once, the switch
// is asked for (switch-now): the switch must wait for the replacement to hold
// the whole dataset again.
TEST_F(ChaosTest, NewMasterPodKilledDuringIncrementalSync) {
  Prepare(kSeed);
  StartVipProbe();
  StartOp();
  ApplyUpgrade(/*window=*/true);
  json u = WaitPhase({"WaitingForSwitch", "Failed"}, std::chrono::seconds(120));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "WaitingForSwitch") << u.dump(2);
  const std::string pod = NewSts(u) + "-0";
  const std::string before = PodAddr(*cluster_, ns_, pod);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = RedisCmd(before, {"INFO", "replication"});
        return r.ok() && r->str.find("master_link_status:up") != std::string::npos;
      },
      std::chrono::seconds(30)));
  ForceDeletePod(pod);
  CmdResult a = cluster_->Kubectl(
      {"annotate", "-n", ns_, std::string("rup/") + kUpgrade, "redisupgrade.dev/switch-now=true"});
  ASSERT_EQ(a.rc, 0) << a.err;
  std::cout << "[chaos] deleted the new master pod " << pod << " (" << before
            << ") during the incremental sync, then asked for the switch" << std::endl;
  Finish("new master pod killed during the incremental sync", {});
  EXPECT_NE(PodAddr(*cluster_, ns_, pod), before) << "the pod was not replaced";
}

// ---- 4. the old master lost during the sync ---------------------------------

// The pod is replaced (another uid): the source is gone with its data.
TEST_F(ChaosTest, OldMasterPodKilledDuringSyncFailsSourceLost) {
  ASSERT_TRUE(StartUpgradeInSlowFullSync(kSeed, kSlowSyncUsPerKey)) << Upgrade().dump(2);
  ForceDeletePod("orders-redis-0");
  std::cout << "[chaos] deleted the old master pod during the full sync" << std::endl;
  const Expectation want = SourceLost();
  Finish("old master pod killed during the sync", want);
}

// The server restarts in place (same pod, same uid, same IP) without its data:
// the new master must not full-sync the empty server and switch to it.
TEST_F(ChaosTest, OldMasterRestartedEmptyDuringSyncFailsSourceLost) {
  ASSERT_TRUE(StartUpgradeInSlowFullSync(kSeed, kSlowSyncUsPerKey)) << Upgrade().dump(2);
  (void)RedisCmd(old_addr_, {"SHUTDOWN", "NOSAVE", "NOW"});  // the connection just closes
  std::cout << "[chaos] shut the old master down (NOSAVE) during the full sync; the node "
               "agent restarts it empty"
            << std::endl;
  const Expectation want = SourceLost();
  Finish("old master restarted empty during the sync", want);
}

// ---- 5. the apiserver restarted mid-sync ------------------------------------

TEST_F(ChaosTest, ApiserverRestartedMidSync) {
  ASSERT_TRUE(StartUpgradeInSlowFullSync(kSeed, kSlowSyncUsPerKey)) << Upgrade().dump(2);
  std::string out;
  const int rc = RunClusterScript(*cluster_, "restart-apiserver.sh", {"--kill"},
                                  std::chrono::seconds(240), &out);
  ASSERT_EQ(rc, 0) << out;
  SlowFullSync(old_addr_, 0);
  std::cout << "[chaos] restarted the apiserver during the sync" << std::endl;
  Finish("apiserver restarted mid-sync", {});
  // The operator saw its watches break and came back on its own.
  const std::string logs = AllOpLogs();
  EXPECT_GT(Count(logs, "watch ended") + Count(logs, "watch failed"), 0u);
}

// ---- 6. forced 409 Conflicts on status writes --------------------------------

TEST_F(ChaosTest, StatusWriteConflictsAreRetried) {
  Prepare(kSeed);
  StartVipProbe();
  StartOp({}, /*debug=*/true);
  ApplyUpgrade();
  ASSERT_TRUE(WaitUntil([&] { return !Upgrade().empty(); }, std::chrono::seconds(30)));
  AnnotationStorm storm(cluster_->kubeconfig(), ns_, kUpgrade);
  WaitPhase({"Completed", "Failed"}, std::chrono::seconds(150));
  storm.Stop();
  const std::string logs = AllOpLogs();
  const size_t conflicts = Count(logs, "status write conflict");
  std::cout << "[chaos] annotation patches=" << storm.patches()
            << " status write conflicts seen by the operator=" << conflicts
            << " (log lines naming a Conflict: " << Count(logs, "(Conflict)") << ")" << std::endl;
  EXPECT_GT(storm.patches(), 0);
  EXPECT_GT(conflicts, 0u) << "no 409 happened: the scenario proved nothing";
  Finish("forced 409 conflicts on status writes", {});
}

// ---- 7. a watch that gets 410 Gone ------------------------------------------

// etcd compacted past every resourceVersion the operator holds, then the
// apiserver restarted (its watch cache gone): the operator's watches resume
// from versions that no longer exist, get 410 Gone and must relist.
TEST_F(ChaosTest, WatchGoneRelistsAndCompletes) {
  Prepare(kSeed);
  SlowFullSync(old_addr_, kSlowSyncUsPerKey);
  StartVipProbe();
  testing::Subprocess& op = StartOp({}, /*debug=*/true);
  ApplyUpgrade();
  ASSERT_TRUE(WaitFullSyncInProgress(std::chrono::seconds(120))) << Upgrade().dump(2);
  // A write the operator does not watch: every version it holds is now older
  // than the revision compacted to.
  const std::string bump = "chaos-bump-" + ns_;
  ASSERT_EQ(cluster_->Kubectl({"create", "configmap", bump, "-n", "default"}).rc, 0);
  std::string out;
  ASSERT_EQ(RunClusterScript(*cluster_, "compact-etcd.sh", {}, std::chrono::seconds(60), &out), 0)
      << out;
  ASSERT_EQ(RunClusterScript(*cluster_, "restart-apiserver.sh", {"--kill"},
                             std::chrono::seconds(240), &out),
            0)
      << out;
  SlowFullSync(old_addr_, 0);
  std::cout << "[chaos] compacted etcd and restarted the apiserver during the sync" << std::endl;
  Finish("watch gets 410 Gone", {});
  cluster_->Kubectl({"delete", "configmap", bump, "-n", "default", "--wait=false"});
  // After a 410 the watcher (k8s/watch.h) is back to "empty": it can only
  // watch again after a fresh List, so an event of that resource delivered
  // after its 410 proves the relist and the resumed watch.
  std::istringstream lines(op.Stderr() + op.Stdout());
  std::map<std::string, int> gone, resumed;
  for (std::string line; std::getline(lines, line);) {
    const size_t at = line.find("resource=");
    if (at == std::string::npos) continue;
    const std::string resource = line.substr(at + 9, line.find(' ', at) - at - 9);
    if (line.find("(Gone)") != std::string::npos) {
      ++gone[resource];
    } else if (gone.count(resource) &&
               (line.find("watch event resource=") != std::string::npos ||
                line.find("informer synced resource=") != std::string::npos)) {
      ++resumed[resource];
    }
  }
  EXPECT_FALSE(gone.empty()) << "no watch got 410 Gone: the scenario proved nothing";
  EXPECT_FALSE(resumed.empty()) << "no watch delivered an event after its 410";
  std::cout << "[chaos] watches that got 410 Gone: " << ::testing::PrintToString(gone)
            << "; events delivered after it: " << ::testing::PrintToString(resumed) << std::endl;
}

}  // namespace
}  // namespace ruo::e2e::chaos
