#include "e2e/e2e_env.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "k8s/config.h"
#include "redis/info.h"

namespace ruo::e2e {
namespace {

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool Executable(const std::string& path) {
  return access(path.c_str(), X_OK) == 0;
}

// RUO_BIN_DIR from the cluster's env file (hack/cluster/up.sh writes it).
std::string KubectlPath(const std::string& cluster_dir) {
  std::ifstream env(cluster_dir + "/env");
  for (std::string line; std::getline(env, line);) {
    const std::string key = "export RUO_BIN_DIR=";
    if (line.rfind(key, 0) == 0 && Executable(line.substr(key.size()) + "/kubectl")) {
      return line.substr(key.size()) + "/kubectl";
    }
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "");
  for (std::string d; std::getline(dirs, d, ':');) {
    if (Executable(d + "/kubectl")) return d + "/kubectl";
  }
  return {};
}

StatusOr<std::unique_ptr<redis::Connection>> Dial(const std::string& addr,
                                                  const std::optional<std::string>& password) {
  static std::unique_ptr<redis::Dialer> dialer = redis::NewHiredisDialer();
  RUO_ASSIGN_OR_RETURN(redis::Endpoint ep, redis::Endpoint::Parse(addr));
  redis::ConnectOptions opts;
  opts.password = password;
  opts.connect_timeout = std::chrono::milliseconds(2000);
  opts.command_timeout = std::chrono::milliseconds(10000);
  return dialer->Dial(ep, opts);
}

}  // namespace

StatusOr<Cluster*> Cluster::Get() {
  static Cluster* cluster = nullptr;
  static Status init_status = Internal("not initialised");
  if (cluster == nullptr) {
    auto* c = new Cluster();
    init_status = c->Init();
    cluster = c;
  }
  if (!init_status.ok()) return init_status;
  return cluster;
}

Status Cluster::Init() {
  const char* kc = std::getenv("RUO_KUBECONFIG");
  if (kc == nullptr || *kc == '\0') {
    return FailedPrecondition(
        "RUO_KUBECONFIG is not set: run these tests through ctest (the k8s_cluster fixture "
        "brings the local cluster up), or bring it up with hack/cluster/up.sh and export "
        "RUO_KUBECONFIG=<its kubeconfig>");
  }
  kubeconfig_ = kc;
  dir_ = Dirname(kubeconfig_);
  kubectl_ = KubectlPath(dir_);
  if (kubectl_.empty()) return NotFound("kubectl not found (" + dir_ + "/env, PATH)");
  RUO_ASSIGN_OR_RETURN(k8s::RestConfig config, k8s::LoadKubeconfig(kubeconfig_));
  RUO_ASSIGN_OR_RETURN(client_, k8s::NewClient(config));
  return Status::Ok();
}

CmdResult Cluster::Kubectl(const std::vector<std::string>& args) {
  testing::SubprocessOptions o;
  o.argv = {kubectl_, "--kubeconfig", kubeconfig_};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.output_dir = tmp_.path();
  o.name = "kubectl";
  CmdResult r;
  auto p = testing::Subprocess::Start(o);
  if (!p.ok()) {
    r.err = p.status().ToString();
    return r;
  }
  auto rc = (*p)->Wait(std::chrono::seconds(120));
  r.rc = rc ? *rc : -1;
  r.out = (*p)->Stdout();
  r.err = (*p)->Stderr();
  return r;
}

CmdResult Cluster::Apply(const std::string& yaml) {
  static int n = 0;
  const std::string file = tmp_.File("manifest-" + std::to_string(++n) + ".yaml");
  testing::WriteFileAtomic(file, yaml);
  return Kubectl({"apply", "-f", file});
}

std::optional<std::string> Cluster::Vip(const std::string& ns, const std::string& service,
                                        std::chrono::milliseconds timeout) {
  std::optional<std::string> vip;
  WaitUntil(
      [&] {
        std::ifstream in(dir_ + "/vips");
        for (std::string line; std::getline(in, line);) {
          const size_t sp = line.find(' ');
          if (sp != std::string::npos && line.substr(0, sp) == ns + "/" + service) {
            vip = line.substr(sp + 1);
            return true;
          }
        }
        return false;
      },
      timeout);
  return vip;
}

StatusOr<redis::Reply> RedisCmd(const std::string& addr, const std::vector<std::string>& argv,
                                const std::optional<std::string>& password) {
  RUO_ASSIGN_OR_RETURN(auto conn, Dial(addr, password));
  return conn->Command(argv);
}

StatusOr<int64_t> DbSize(const std::string& addr, const std::optional<std::string>& password) {
  RUO_ASSIGN_OR_RETURN(redis::Reply r, RedisCmd(addr, {"DBSIZE"}, password));
  if (r.type != redis::Reply::Type::kInteger) return Internal("DBSIZE: " + redis::DebugString(r));
  return static_cast<int64_t>(r.integer);
}

Status LoadKeys(const std::string& addr, int n, const std::string& prefix,
                const std::optional<std::string>& password) {
  RUO_ASSIGN_OR_RETURN(auto conn, Dial(addr, password));
  constexpr int kBatch = 1000;
  for (int i = 0; i < n; i += kBatch) {
    std::vector<std::vector<std::string>> cmds;
    for (int j = i; j < std::min(n, i + kBatch); ++j) {
      cmds.push_back({"SET", prefix + ":" + std::to_string(j), "value-" + std::to_string(j)});
    }
    RUO_ASSIGN_OR_RETURN(auto replies, conn->Pipeline(cmds));
    for (const auto& r : replies) {
      if (r.IsError()) return Internal("SET: " + r.str);
    }
  }
  return Status::Ok();
}

StatusOr<int64_t> MissingKeys(const std::string& from, const std::string& to,
                              const std::optional<std::string>& password) {
  RUO_ASSIGN_OR_RETURN(auto src, Dial(from, password));
  RUO_ASSIGN_OR_RETURN(auto dst, Dial(to, password));
  std::string cursor = "0";
  int64_t missing = 0;
  do {
    RUO_ASSIGN_OR_RETURN(redis::Reply r, src->Command({"SCAN", cursor, "COUNT", "1000"}));
    if (r.type != redis::Reply::Type::kArray || r.elements.size() != 2) {
      return Internal("SCAN: " + redis::DebugString(r));
    }
    cursor = r.elements[0].str;
    std::vector<std::vector<std::string>> cmds;
    for (const auto& k : r.elements[1].elements) cmds.push_back({"EXISTS", k.str});
    if (cmds.empty()) continue;
    RUO_ASSIGN_OR_RETURN(auto replies, dst->Pipeline(cmds));
    for (const auto& e : replies)
      missing += (e.type == redis::Reply::Type::kInteger && e.integer == 1) ? 0 : 1;
  } while (cursor != "0");
  return missing;
}

StatusOr<std::string> Role(const std::string& addr, const std::optional<std::string>& password) {
  RUO_ASSIGN_OR_RETURN(redis::Reply r, RedisCmd(addr, {"INFO", "replication"}, password));
  RUO_ASSIGN_OR_RETURN(redis::Info info, redis::ParseInfoReply(r));
  if (info.replication.role != "slave") return info.replication.role;
  return "slave of " + info.replication.master_host + ":" +
         std::to_string(info.replication.master_port);
}

StatusOr<std::unique_ptr<Operator>> Operator::Start(
    Cluster& cluster, const std::string& ns,
    const std::map<std::string, std::optional<std::string>>& env) {
  testing::SubprocessOptions o;
  o.argv = {RUO_BINARY,
            "run",
            "--kubeconfig",
            cluster.kubeconfig(),
            "--namespace",
            ns,
            "--metrics-bind-address",
            "0",
            "--health-probe-bind-address",
            "0"};
  o.env = env;
  o.output_dir = cluster.tmp().path();
  o.name = "operator-" + ns;
  std::unique_ptr<Operator> op(new Operator());
  RUO_ASSIGN_OR_RETURN(op->proc_, testing::Subprocess::Start(o));
  return op;
}

void Operator::Kill() {
  if (proc_) proc_->Kill();
}

std::string Operator::Logs() const {
  return proc_ ? proc_->Stderr() + proc_->Stdout() : "";
}

std::string OldInstanceYaml(const OldInstance& o) {
  std::ostringstream y;
  if (o.password) {
    y << "apiVersion: v1\nkind: Secret\nmetadata: {name: " << o.name << "-auth, namespace: " << o.ns
      << "}\nstringData: {password: \"" << *o.password << "\"}\n---\n";
  }
  y << "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: " << o.name
    << ", namespace: " << o.ns << "}\nspec:\n  replicas: 1\n  serviceName: " << o.name
    << "\n  selector: {matchLabels: {app: " << o.name << "}}\n  template:\n"
    << "    metadata: {labels: {app: " << o.name << "}}\n    spec:\n      containers:\n"
    << "      - name: redis\n        image: " << o.image << "\n"
    << "        args: [\"--port\", \"6379\", \"--save\", \"\", \"--appendonly\", \"no\"";
  if (o.cluster_enabled) y << ", \"--cluster-enabled\", \"yes\"";
  if (o.password) y << ", \"--requirepass\", \"$(REDIS_PASSWORD)\"";
  y << "]\n";
  if (o.password) {
    y << "        env:\n        - name: REDIS_PASSWORD\n          valueFrom: {secretKeyRef: "
         "{name: "
      << o.name << "-auth, key: password}}\n";
  }
  y << "        ports: [{name: redis, containerPort: 6379}]\n"
    << "        resources: {limits: {memory: 512Mi}}\n---\n"
    << "apiVersion: v1\nkind: Service\nmetadata: {name: " << o.name << ", namespace: " << o.ns
    << "}\nspec:\n  selector: {app: " << o.name
    << "}\n  ports: [{name: redis, port: 6379, targetPort: redis}]\n";
  return y.str();
}

std::string UpgradeYaml(const UpgradeSpec& u) {
  std::ostringstream y;
  y << "apiVersion: redisupgrade.dev/v1alpha1\nkind: RedisUpgrade\nmetadata: {name: " << u.name
    << ", namespace: " << u.ns << "}\nspec:\n  instance: {service: " << u.service
    << "}\n  targetVersion: \"" << u.target_version
    << "\"\n  allowSameVersion: " << (u.allow_same_version ? "true" : "false") << "\n";
  if (u.replicas) y << "  replicas: " << *u.replicas << "\n";
  if (u.secret) y << "  auth: {secretRef: {name: " << *u.secret << ", key: password}}\n";
  if (u.read_service) y << "  readService: {name: " << *u.read_service << "}\n";
  y << "  switchover:\n    mode: " << u.mode << "\n";
  if (u.mode == "MaintenanceWindow") {
    y << "    maintenanceWindow: {start: \"" << u.window_start
      << "\", duration: " << u.window_duration << ", timeZone: UTC}\n";
  }
  return y.str();
}

std::string UtcClock(std::chrono::minutes offset) {
  const std::time_t t =
      std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + offset);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[8];
  std::strftime(buf, sizeof(buf), "%H:%M", &tm);
  return buf;
}

}  // namespace ruo::e2e
