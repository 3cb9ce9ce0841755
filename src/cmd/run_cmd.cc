// `run`: the Kubernetes controller. Flag parsing and wiring only: informers
// for RedisUpgrades, their StatefulSets, Pods and Services feed the work
// queue through upgrade/watch_mapping.h; the manager (runtime/manager.h)
// starts the workers once the caches synced and this process leads; the
// metrics and health endpoints report on it; SIGTERM/SIGINT shut down
// gracefully, a second signal exits at once.
#include <fmt/format.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cmd/commands.h"
#include "common/clock.h"
#include "common/log.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/cpprest_transport.h"
#include "k8s/events.h"
#include "k8s/resource.h"
#include "metrics/health_server.h"
#include "metrics/metrics_server.h"
#include "metrics/operator_metrics.h"
#include "redis/connection.h"
#include "runtime/informer.h"
#include "runtime/leader_election.h"
#include "runtime/manager.h"
#include "upgrade/reconciler.h"
#include "upgrade/types.h"
#include "upgrade/watch_mapping.h"

namespace ruo::cmd {
namespace {

using std::chrono::milliseconds;

constexpr const char* kComponent = "redis-upgrade-operator";

// cpprestsdk's pool threads only run socket I/O and short continuations (our
// waits block on their own threads): a few are plenty for the watches and the
// workers' requests (docs/benchmarks.md, "Operator footprint").
constexpr size_t kHttpThreads = 4;

// glibc's defaults favour throughput; the operator is small and mostly idle.
// At most two malloc arenas (else up to one per thread, each keeping its own
// freed memory), and fixed mmap/trim thresholds (else the mmap threshold grows
// after the first large list response is freed, and later large buffers stay
// in the heap for good). Before any thread starts.
void TuneMalloc() {
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024);
}

// How often freed heap pages are handed back (malloc_trim), from the manager's tick.
constexpr std::chrono::seconds kTrimPeriod{30};

// "15s", "500ms", "2m", "1h"; a bare number is seconds (controller-runtime's
// flags are Go durations; this covers the forms people write).
CLI::Validator DurationUnits() {
  CLI::Validator v = CLI::AsNumberWithUnit(
      std::map<std::string, double>{{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}},
      CLI::AsNumberWithUnit::CASE_SENSITIVE, "DURATION");
  v.description("");  // the type name says DURATION; CLI11's own text is noise
  return v;
}

milliseconds Millis(double seconds) {
  return milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
}

std::string MetricsResult(const runtime::Result& r) {
  switch (r.kind()) {
    case runtime::Result::Kind::kContinue:
    case runtime::Result::Kind::kDone:
      return std::string(metrics::kResultSuccess);
    case runtime::Result::Kind::kRequeueAfter:
      return std::string(metrics::kResultRequeue);
    case runtime::Result::Kind::kError:
      return std::string(metrics::kResultError);
    case runtime::Result::Kind::kTerminal:
      return std::string(metrics::kResultTerminal);
  }
  return std::string(metrics::kResultError);
}

// SIGTERM/SIGINT are blocked in every thread (the mask is inherited, so this
// runs before any thread exists) and taken synchronously by one thread: the
// first cancels `stop`, a second ends the process at once.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  ~SignalWatcher() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }

  void Start(k8s::CancelTokenPtr stop) {
    thread_ = std::thread([this, stop] {
      int received = 0;
      while (!done_) {
        timespec timeout{0, 200 * 1000 * 1000};  // to notice done_
        int sig = sigtimedwait(&set_, nullptr, &timeout);
        if (sig < 0) continue;
        if (++received == 1) {
          spdlog::info("signal received, shutting down signal={}", strsignal(sig));
          stop->Cancel();
        } else {
          spdlog::warn("second signal received, exiting now signal={}", strsignal(sig));
          spdlog::default_logger()->flush();
          std::_Exit(kExitFailed);
        }
      }
    });
  }

 private:
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

class RunCommand : public Command {
 public:
  explicit RunCommand(CLI::App& parent) {
    app_ = parent.add_subcommand("run", "Run the Kubernetes controller.");
    app_->add_option("--kubeconfig", kubeconfig_,
                     "Path to a kubeconfig; empty: $KUBECONFIG, the in-cluster service "
                     "account, then ~/.kube/config.");
    app_->add_option("--namespace", namespace_,
                     "Namespace to watch, or a comma-separated list; empty = all.");
    app_->add_option("--metrics-bind-address", metrics_addr_,
                     "Address of /metrics, [HOST]:PORT; \"0\" disables it.")
        ->capture_default_str();
    app_->add_option("--health-probe-bind-address", health_addr_,
                     "Address of /healthz and /readyz, [HOST]:PORT; \"0\" disables it.")
        ->capture_default_str();
    app_->add_flag("--leader-elect", leader_elect_,
                   "Elect a leader through a Lease, so only one replica reconciles.");
    app_->add_option("--leader-election-namespace", lease_namespace_,
                     "Namespace of the Lease; default: $POD_NAMESPACE, the pod's or the "
                     "kubeconfig context's namespace, else \"default\".");
    app_->add_option("--leader-election-id", lease_name_, "Name of the Lease.")
        ->capture_default_str();
    app_->add_option("--lease-duration", lease_duration_s_,
                     "How long standbys wait before taking over an unrenewed lease.")
        ->transform(DurationUnits())
        ->type_name("DURATION")
        ->default_str("15s");
    app_->add_option("--renew-deadline", renew_deadline_s_,
                     "How long the leader keeps retrying renewal before giving up leadership.")
        ->transform(DurationUnits())
        ->type_name("DURATION")
        ->default_str("10s");
    app_->add_option("--retry-period", retry_period_s_, "Interval between acquire/renew attempts.")
        ->transform(DurationUnits())
        ->type_name("DURATION")
        ->default_str("2s");
    app_->add_option("--graceful-shutdown-timeout", shutdown_timeout_s_,
                     "Bound on waiting for running reconciles at shutdown.")
        ->transform(DurationUnits())
        ->type_name("DURATION")
        ->default_str("30s");
    app_->add_option("--workers", workers_, "Concurrent reconciles.")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app_->add_option("--client-kill-min", client_kill_min_s_,
                     "After the switch, the old master's clients are closed until the Service's "
                     "EndpointSlices list only new pods, for at least this long.")
        ->transform(DurationUnits())
        ->type_name("DURATION")
        ->default_str("200ms");
    app_->add_option("--client-kill-max", client_kill_max_s_,
                     "Upper bound on closing the old master's clients after the switch; then "
                     "it completes anyway (the old master is sealed) with a Warning Event "
                     "EndpointsNotSettled.")
        ->transform(DurationUnits())
        ->type_name("DURATION")
        ->default_str("30s");
    app_->add_option("--log-level", log_level_, "trace|debug|info|warn|error")
        ->capture_default_str();
    app_->add_flag("--log-json", log_json_, "One JSON object per log line.");
  }

  int Execute() override {
    bool level_ok = false;
    for (const char* l : kLogLevels) level_ok = level_ok || log_level_ == l;
    if (!level_ok) return UsageError(fmt::format("--log-level: unknown level '{}'", log_level_));
    if (shutdown_timeout_s_ < 0) return UsageError("--graceful-shutdown-timeout: negative");
    if (client_kill_min_s_ < 0 || client_kill_max_s_ < client_kill_min_s_) {
      return UsageError("--client-kill-min, --client-kill-max: need 0 <= min <= max");
    }

    // Before any thread starts, so every thread inherits the blocked mask.
    SignalWatcher signals;
    TuneMalloc();
    log::Init(log_level_, log_json_);
    if (Status s = k8s::InitCppRestThreadPool(kHttpThreads); !s.ok()) {
      return Fail("cannot set up the HTTP client", s);
    }
    int rc = Run(signals);
    spdlog::default_logger()->flush();
    return rc;
  }

 private:
  int Fail(const std::string& what, const Status& s) {
    spdlog::error("{}: {}", what, s.ToString());
    return kExitFailed;
  }

  int Run(SignalWatcher& signals) {
    auto config = k8s::LoadDefault(kubeconfig_);
    if (!config.ok()) return Fail("cannot load the Kubernetes config", config.status());
    auto client = k8s::NewClient(*config);
    if (!client.ok()) return Fail("cannot create the Kubernetes client", client.status());

    metrics::OperatorMetrics metrics;
    k8s::EventRecorder events(**client, kComponent);
    auto dialer = redis::NewHiredisDialer();
    upgrade::ReconcilerOptions reconciler_options;
    reconciler_options.client_kill_min = Millis(client_kill_min_s_);
    reconciler_options.client_kill_max = Millis(client_kill_max_s_);
    upgrade::UpgradeReconciler reconciler(**client, events, *dialer, RealClock(), metrics,
                                          reconciler_options);

    runtime::ManagerOptions options;
    options.workers = workers_;
    options.graceful_shutdown_timeout = Millis(shutdown_timeout_s_);
    runtime::ManagerHooks hooks;
    hooks.on_result = [&metrics](const std::string& key, const runtime::Result& r,
                                 std::chrono::duration<double> took) {
      metrics.ObserveReconcile(MetricsResult(r), took.count());
      spdlog::debug("reconciled key={} result=\"{}\" seconds={:.3f}", key, r.ToString(),
                    took.count());
    };
    hooks.on_queue_latency = [&metrics](std::chrono::duration<double> waited) {
      metrics.ObserveWorkqueueLatency(waited.count());
    };
    hooks.on_queue_depth = [&metrics](size_t depth) { metrics.SetWorkqueueDepth(depth); };
    hooks.on_leader = [&metrics](bool leader) { metrics.SetLeader(leader); };
    hooks.on_tick = [last = std::chrono::steady_clock::time_point()]() mutable {
      // glibc keeps freed pages inside the heap (only its top is trimmed):
      // give them back after the initial lists and then every half minute.
      auto now = std::chrono::steady_clock::now();
      if (now - last < kTrimPeriod) return;
      last = now;
      malloc_trim(0);
    };
    // Declared before the manager, which holds a reference to it.
    std::unique_ptr<k8s::Client> lease_client;
    runtime::Manager manager(options, reconciler, hooks);

    for (const std::string& ns : Namespaces()) {
      WatchNamespace(manager, **client, metrics, ns);
    }

    // Leader election, on a client of its own whose requests time out well
    // within the renew deadline (a hung renewal must not outlast the lease).
    if (leader_elect_) {
      runtime::LeaderElectionConfig le;
      le.lease_namespace = LeaseNamespace(*config);
      le.lease_name = lease_name_;
      le.identity = runtime::DefaultIdentity();
      le.lease_duration = Millis(lease_duration_s_);
      le.renew_deadline = Millis(renew_deadline_s_);
      le.retry_period = Millis(retry_period_s_);
      k8s::ClientOptions lease_opts;
      lease_opts.request_timeout = std::clamp(le.retry_period, milliseconds(1000),
                                              std::max(le.renew_deadline / 2, milliseconds(1000)));
      auto lc = k8s::NewClient(*config, lease_opts);
      if (!lc.ok()) return Fail("cannot create the leader-election client", lc.status());
      lease_client = std::move(lc).value();
      spdlog::info("leader election enabled lease={}/{} identity={}", le.lease_namespace,
                   le.lease_name, le.identity);
      Status s = manager.EnableLeaderElection(*lease_client, le);
      if (!s.ok()) return Fail("invalid leader election settings", s);
    }

    std::unique_ptr<metrics::MetricsServer> metrics_server;
    if (!metrics_addr_.empty() && metrics_addr_ != "0") {
      auto ms = metrics::MetricsServer::Start(metrics_addr_, metrics);
      if (!ms.ok()) return Fail("cannot serve metrics", ms.status());
      metrics_server = std::move(ms).value();
      spdlog::info("serving metrics address={} port={}", metrics_addr_, metrics_server->port());
    }
    std::unique_ptr<metrics::HealthServer> health_server;
    if (!health_addr_.empty() && health_addr_ != "0") {
      metrics::HealthChecks checks;
      checks.healthz = [&manager] { return manager.Healthz(); };
      checks.readyz = [&manager] { return manager.Readyz(); };
      auto hs = metrics::HealthServer::Start(health_addr_, std::move(checks));
      if (!hs.ok()) return Fail("cannot serve health probes", hs.status());
      health_server = std::move(hs).value();
      spdlog::info("serving health probes address={} port={}", health_addr_, health_server->port());
    }

    spdlog::info("starting controller namespace={} workers={} leader_elect={}",
                 namespace_.empty() ? "<all>" : namespace_, workers_, leader_elect_);
    auto stop = k8s::CancelToken::Create();
    signals.Start(stop);
    runtime::RunOutcome outcome = manager.Run(stop);
    if (!outcome.drained) {
      // Workers are still inside reconciles: destroying the manager would
      // block on them. End the process; the lease expires on its own.
      spdlog::error("shutdown: {}", outcome.status.ToString());
      spdlog::default_logger()->flush();
      std::_Exit(kExitFailed);
    }
    // civetweb takes up to 2 s to stop a server: stop both at once.
    std::thread stop_metrics([&metrics_server] { metrics_server.reset(); });
    health_server.reset();
    stop_metrics.join();
    if (!outcome.status.ok()) return Fail("controller stopped", outcome.status);
    spdlog::info("controller stopped cleanly");
    return kExitOk;
  }

  // --namespace: "" (all), one name, or a comma-separated list (the Helm
  // chart's watchNamespaces, where RBAC grants only those namespaces).
  std::vector<std::string> Namespaces() const {
    std::set<std::string> names;
    std::stringstream ss(namespace_);
    std::string item;
    while (std::getline(ss, item, ',')) {
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (!item.empty()) names.insert(item);
    }
    if (names.empty()) return {""};
    return {names.begin(), names.end()};
  }

  // Informers for the four kinds in one scope ("" = every namespace), each
  // feeding the queue through upgrade/watch_mapping.h. StatefulSets are only
  // ever ours (labelled); Pods and Services are watched whole, since the old
  // instance carries no label of ours. Every object of a scope lies in it, so
  // its mappings read that scope's caches.
  static void WatchNamespace(runtime::Manager& manager, k8s::Client& client,
                             metrics::OperatorMetrics& metrics, const std::string& ns) {
    // The caches feed only the mappings below (the reconciler reads the API
    // server), so each keeps just what upgrade/watch_mapping.cc reads: whole
    // Pods and Services of every instance in the scope would otherwise be most
    // of the operator's memory.
    auto informer = [&](k8s::ResourceRef ref, std::vector<std::string> keep,
                        std::string selector = {}) -> runtime::Informer& {
      runtime::InformerOptions o;
      o.ns = ns;
      o.label_selector = std::move(selector);
      o.keep_fields = std::move(keep);
      return manager.AddInformer(
          std::make_unique<runtime::Informer>(client, std::move(ref), std::move(o)));
    };
    runtime::Informer& upgrades =
        informer(k8s::resources::RedisUpgrades(),
                 {"/spec/instance/service", "/status/phase", "/status/oldMasterPod"});
    runtime::Informer& statefulsets =
        informer(k8s::resources::StatefulSets(), {"/metadata/labels"}, upgrade::kOwnerLabel);
    runtime::Informer& pods = informer(k8s::resources::Pods(), {"/metadata/labels"});
    runtime::Informer& services =
        informer(k8s::resources::Services(), {"/metadata/labels", "/spec/selector"});

    manager.Watch(upgrades, upgrade::KeysForRedisUpgrade);
    manager.Watch(statefulsets, upgrade::KeysForStatefulSet);
    manager.Watch(services, [&upgrades](const nlohmann::json& svc) {
      return upgrade::KeysForService(svc, upgrades.ListNamespace(k8s::NamespaceOf(svc)));
    });
    manager.Watch(pods, [&upgrades, &services](const nlohmann::json& pod) {
      std::string pod_ns = k8s::NamespaceOf(pod);
      return upgrade::KeysForPod(pod, upgrades.ListNamespace(pod_ns),
                                 services.ListNamespace(pod_ns));
    });
    // A deleted upgrade's series would otherwise linger on /metrics forever.
    runtime::ResourceEventHandler forget;
    forget.on_delete = [&metrics](const nlohmann::json& obj) {
      metrics.Forget(k8s::NamespaceOf(obj), k8s::NameOf(obj));
    };
    upgrades.AddEventHandler(std::move(forget));
  }

  std::string LeaseNamespace(const k8s::RestConfig& config) const {
    if (!lease_namespace_.empty()) return lease_namespace_;
    if (const char* ns = std::getenv("POD_NAMESPACE"); ns != nullptr && *ns != '\0') return ns;
    if (!config.namespace_name.empty()) return config.namespace_name;
    return "default";
  }

  std::string kubeconfig_;
  std::string namespace_;
  std::string metrics_addr_ = ":8080";
  std::string health_addr_ = ":8081";
  bool leader_elect_ = false;
  std::string lease_namespace_;
  std::string lease_name_ = "redis-upgrade-operator";
  double lease_duration_s_ = 15;
  double renew_deadline_s_ = 10;
  double retry_period_s_ = 2;
  double shutdown_timeout_s_ = 30;
  double client_kill_min_s_ = 0.2;
  double client_kill_max_s_ = 30;
  int workers_ = 2;
  std::string log_level_ = "info";
  bool log_json_ = false;
};

class VersionCommand : public Command {
 public:
  explicit VersionCommand(CLI::App& parent) {
    app_ = parent.add_subcommand("version", "Print the version.");
  }
  int Execute() override {
    std::cout << "redis-upgrade-operator " << RUO_VERSION << std::endl;
    return kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> NewRunCommand(CLI::App& parent) {
  return std::make_unique<RunCommand>(parent);
}

std::unique_ptr<Command> NewVersionCommand(CLI::App& parent) {
  return std::make_unique<VersionCommand>(parent);
}

}  // namespace ruo::cmd
