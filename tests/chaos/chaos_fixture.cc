#include "chaos/chaos_fixture.h"

#include <random>

#include "k8s/config.h"

namespace ruo::e2e::chaos {

AnnotationStorm::AnnotationStorm(const std::string& kubeconfig, std::string ns, std::string name)
    : ns_(std::move(ns)), name_(std::move(name)) {
  auto config = k8s::LoadKubeconfig(kubeconfig);
  auto client = config.ok() ? k8s::NewClient(*config)
                            : StatusOr<std::unique_ptr<k8s::Client>>(config.status());
  if (!client.ok()) {
    ADD_FAILURE() << "annotation storm: " << client.status().ToString();
    return;
  }
  thread_ = std::thread([this, c = std::move(client).value()]() mutable { Run(std::move(c)); });
}

AnnotationStorm::~AnnotationStorm() {
  Stop();
}

void AnnotationStorm::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void AnnotationStorm::Run(std::unique_ptr<k8s::Client> client) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(20, 50);
  for (int64_t i = 0; !stop_; ++i) {
    // No resourceVersion: the patch always lands and bumps the object's.
    const nlohmann::json patch = {
        {"metadata", {{"annotations", {{"chaos.redisupgrade.dev/tick", std::to_string(i)}}}}}};
    if (client->MergePatch(k8s::resources::RedisUpgrades(), ns_, name_, patch).ok()) ++patches_;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
  }
}

int RunClusterScript(Cluster& cluster, const std::string& script,
                     const std::vector<std::string>& args, std::chrono::seconds timeout,
                     std::string* out) {
  testing::SubprocessOptions o;
  o.argv = {std::string(RUO_SOURCE_DIR) + "/hack/cluster/" + script};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env["RUO_CLUSTER_DIR"] = cluster.dir();
  o.output_dir = cluster.tmp().path();
  o.name = script;
  auto p = testing::Subprocess::Start(o);
  if (!p.ok()) {
    if (out) *out += p.status().ToString();
    return -1;
  }
  auto rc = (*p)->Wait(timeout);
  if (out) *out += (*p)->Stdout() + (*p)->Stderr();
  if (!rc) (*p)->Kill();
  return rc ? *rc : -1;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

void ChaosTest::TearDown() {
  if (HasFailure()) {
    for (const auto& op : ops_) {
      const std::string logs = op->Stderr() + op->Stdout();
      std::cerr << "---- operator log (tail) ----\n"
                << logs.substr(logs.size() > 12000 ? logs.size() - 12000 : 0) << std::endl;
    }
  }
  for (auto& op : ops_) op->Kill();
  if (!old_addr_.empty()) (void)RedisCmd(old_addr_, {"CONFIG", "SET", "rdb-key-save-delay", "0"});
  UpgradeE2ETest::TearDown();
}

testing::Subprocess& ChaosTest::StartOp(
    const std::map<std::string, std::optional<std::string>>& env, bool debug) {
  testing::SubprocessOptions o;
  o.argv = {RUO_BINARY,
            "run",
            "--kubeconfig",
            cluster_->kubeconfig(),
            "--namespace",
            ns_,
            "--metrics-bind-address",
            "0",
            "--health-probe-bind-address",
            "0"};
  if (debug) {
    o.argv.push_back("--log-level");
    o.argv.push_back("debug");
  }
  o.env = env;
  o.output_dir = cluster_->tmp().path();
  o.name = "chaos-operator-" + ns_;
  auto p = testing::Subprocess::Start(o);
  if (!p.ok()) {
    ADD_FAILURE() << p.status().ToString();
    std::abort();
  }
  ops_.push_back(std::move(p).value());
  return *ops_.back();
}

std::string ChaosTest::AllOpLogs() const {
  std::string out;
  for (const auto& op : ops_) out += op->Stderr() + op->Stdout();
  return out;
}

bool ChaosTest::WaitLog(testing::Subprocess& op, const std::string& needle,
                        std::chrono::seconds timeout) {
  return WaitUntil([&] { return (op.Stderr() + op.Stdout()).find(needle) != std::string::npos; },
                   timeout, std::chrono::milliseconds(20));
}

void ChaosTest::Prepare(int keys, const std::string& image, const std::string& target) {
  OldInstance old;
  old.image = image;
  target_version_ = target;
  allow_same_version_ = image == "redis:" + target;
  old_addr_ = DeployOld(old);
  ASSERT_FALSE(old_addr_.empty());
  ASSERT_TRUE(LoadKeys(old_addr_, keys, "seed").ok());
  seeded_ = keys;
  old_config_ = WriteBlockConfig(old_addr_);
  auto vip = cluster_->Vip(ns_, kService);
  ASSERT_TRUE(vip) << "no VIP for the Service";
  vip_ = *vip;
  // The VIP is in the map before the node agent routes it (its Service
  // endpoints may still be on their way, e.g. while it re-lists after an
  // apiserver restart in the previous test): the probe starts on a working VIP.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = RedisCmd(vip_ + ":6379", {"PING"});
        return r.ok() && !r->IsError();
      },
      std::chrono::seconds(60)))
      << "the VIP " << vip_ << " does not reach the old master";
}

void ChaosTest::ApplyUpgrade(bool window) {
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  spec.target_version = target_version_;
  spec.allow_same_version = allow_same_version_;
  if (window) {
    spec.mode = "MaintenanceWindow";
    spec.window_start = UtcClock(std::chrono::minutes(180));
  }
  Apply(UpgradeYaml(spec));
}

void ChaosTest::StartVipProbe() {
  testing::SubprocessOptions o;
  // Stopped with SIGTERM (it then verifies); the duration is only a backstop.
  o.argv = {RUO_BINARY,   "probe", "--addr",   vip_ + ":6379", "--rate", std::to_string(kProbeRate),
            "--duration", "300",   "--verify", vip_ + ":6379"};
  o.output_dir = cluster_->tmp().path();
  o.name = "probe-" + ns_;
  auto p = testing::Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  probe_ = std::move(p).value();
}

nlohmann::json ChaosTest::StopProbe() {
  if (!probe_) return nlohmann::json::object();
  probe_->Signal(SIGTERM);
  return ProbeReport(std::chrono::seconds(60));
}

void ChaosTest::Finish(const std::string& scenario, const Expectation& want,
                       std::chrono::seconds timeout) {
  const nlohmann::json u = WaitPhase({"Completed", "Failed"}, timeout);
  // A last second of writes after the end, through the VIP.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Observation got;
  got.scenario = scenario;
  got.upgrade_name = kUpgrade;
  got.upgrade = Upgrade();
  got.probe = StopProbe();
  got.old_addr = old_addr_;
  got.old_config = old_config_;
  got.seeded = seeded_;
  ASSERT_FALSE(u.empty());
  ExpectInvariants(*cluster_, ns_, want, got);
}

void ChaosTest::ForceDeletePod(const std::string& pod) {
  CmdResult r = cluster_->Kubectl(
      {"delete", "pod", pod, "-n", ns_, "--grace-period=0", "--force", "--wait=false"});
  ASSERT_EQ(r.rc, 0) << r.err;
}

void ChaosTest::SlowFullSync(const std::string& addr, int us_per_key) {
  auto r = RedisCmd(addr, {"CONFIG", "SET", "rdb-key-save-delay", std::to_string(us_per_key)});
  ASSERT_TRUE(r.ok() && r->IsOk()) << (r.ok() ? redis::DebugString(*r) : r.status().ToString());
}

bool ChaosTest::StartUpgradeInSlowFullSync(int keys, int us_per_key) {
  Prepare(keys);
  SlowFullSync(old_addr_, us_per_key);
  StartVipProbe();
  StartOp();
  ApplyUpgrade();
  return WaitFullSyncInProgress(std::chrono::seconds(120));
}

bool ChaosTest::WaitFullSyncInProgress(std::chrono::seconds timeout) {
  return WaitUntil(
      [&] {
        auto r = RedisCmd(old_addr_, {"INFO", "persistence"});
        return r.ok() && r->str.find("rdb_bgsave_in_progress:1") != std::string::npos;
      },
      timeout, std::chrono::milliseconds(20));
}

}  // namespace ruo::e2e::chaos
