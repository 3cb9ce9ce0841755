// What the end-to-end tests need from the local cluster (hack/cluster): the
// kubeconfig from $RUO_KUBECONFIG, kubectl, an API client for polling, the
// Service VIPs, Redis access to pods and VIPs, and the operator binary run as
// a subprocess (`redis-upgrade-operator run`).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "integration/migrate/subprocess.h"
#include "k8s/client.h"
#include "redis/connection.h"
#include "redis/reply.h"
#include "support/wait.h"

namespace ruo::e2e {

using nlohmann::json;

struct CmdResult {
  int rc = -1;
  std::string out;
  std::string err;
};

// The cluster, set up once per test binary.
class Cluster {
 public:
  // Fails (Status) when $RUO_KUBECONFIG is not set or the cluster does not answer.
  static StatusOr<Cluster*> Get();

  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& dir() const { return dir_; }
  k8s::Client& client() { return *client_; }

  // kubectl --kubeconfig … ARGS (stdin: /dev/null).
  CmdResult Kubectl(const std::vector<std::string>& args);
  // kubectl apply -f <file holding `yaml`>.
  CmdResult Apply(const std::string& yaml);

  // The Service's loopback VIP from $RUO_CLUSTER_DIR/vips, waiting for it.
  std::optional<std::string> Vip(const std::string& ns, const std::string& service,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30));

  testing::TempDir& tmp() { return tmp_; }

 private:
  Cluster() = default;
  Status Init();

  std::string kubeconfig_;
  std::string dir_;
  std::string kubectl_;
  std::unique_ptr<k8s::Client> client_;
  testing::TempDir tmp_;
};

using ::ruo::testing::WaitUntil;

// Redis access (hiredis) to "host:port".
StatusOr<redis::Reply> RedisCmd(const std::string& addr, const std::vector<std::string>& argv,
                                const std::optional<std::string>& password = std::nullopt);
StatusOr<int64_t> DbSize(const std::string& addr,
                         const std::optional<std::string>& password = std::nullopt);
// SET key:<i> for i in [0, n), pipelined.
Status LoadKeys(const std::string& addr, int n, const std::string& prefix,
                const std::optional<std::string>& password = std::nullopt);
// Every key of `from` (SCAN) exists on `to`; returns how many are missing.
StatusOr<int64_t> MissingKeys(const std::string& from, const std::string& to,
                              const std::optional<std::string>& password = std::nullopt);
// "role" field of INFO replication, plus master_host:master_port for replicas.
StatusOr<std::string> Role(const std::string& addr,
                           const std::optional<std::string>& password = std::nullopt);

// The operator binary as a subprocess.
class Operator {
 public:
  static StatusOr<std::unique_ptr<Operator>> Start(
      Cluster& cluster, const std::string& ns,
      const std::map<std::string, std::optional<std::string>>& env = {});
  void Kill();  // SIGKILL: no cleanup, no graceful shutdown
  std::string Logs() const;

 private:
  std::unique_ptr<testing::Subprocess> proc_;
};

// YAML builders.
struct OldInstance {
  std::string ns;
  std::string name = "orders-redis";  // StatefulSet and Service
  std::string image = "redis:7.0";
  std::optional<std::string> password;  // a Secret <name>-auth, key "password"
  bool cluster_enabled = false;
};
std::string OldInstanceYaml(const OldInstance& o);

struct UpgradeSpec {
  std::string ns;
  std::string name;
  std::string service = "orders-redis";
  std::string target_version = "7.0";
  bool allow_same_version = true;
  std::optional<int> replicas = 1;
  std::optional<std::string> secret;  // auth.secretRef.name (key "password")
  std::string mode = "Immediate";
  std::string window_start;  // MaintenanceWindow: "HH:MM" UTC
  std::string window_duration = "1h";
  std::optional<std::string> read_service;  // spec.readService.name
};
std::string UpgradeYaml(const UpgradeSpec& u);

// "HH:MM" UTC of now + offset.
std::string UtcClock(std::chrono::minutes offset);

}  // namespace ruo::e2e
