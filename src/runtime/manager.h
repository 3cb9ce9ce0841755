// Wires the controller runtime together, as controller-runtime's manager
// does: informers feed the work queue through key mappings; once every cache
// has synced and (with leader election) this process leads, the workers
// start; a stop request or lost leadership shuts it all down in order:
// stop taking keys → let running reconciles finish (bounded) → release the
// lease → stop the watches. Health and readiness are derived from that state.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "k8s/client.h"
#include "runtime/controller.h"
#include "runtime/informer.h"
#include "runtime/leader_election.h"
#include "runtime/reconcile_tracker.h"
#include "runtime/work_queue.h"

namespace ruo::runtime {

// Observability hooks (metrics); each may be null.
struct ManagerHooks {
  std::function<void(const std::string& key, const Result& r, std::chrono::duration<double>)>
      on_result;
  std::function<void(std::chrono::duration<double>)> on_queue_latency;
  std::function<void(size_t depth)> on_queue_depth;  // sampled every sample_period
  // Every sample_period while the workers run (this process leads), on the
  // thread in Run(): housekeeping of the process (run_cmd.cc trims the heap).
  std::function<void()> on_tick;
  std::function<void(bool leader)> on_leader;
};

struct ManagerOptions {
  std::string name = "redisupgrade";
  int workers = 2;
  // Beside `workers`, workers that take only keys changed by watch events
  // (controller.h): the event -> reconcile latency then does not depend on how
  // many objects are being polled.
  int event_workers = 1;
  // controller-runtime's default: a cache that cannot sync means a broken
  // setup (RBAC, CRD missing); fail instead of serving stale nothing.
  std::chrono::milliseconds cache_sync_timeout{120000};
  // Bound on waiting for running reconciles at SIGTERM.
  std::chrono::milliseconds graceful_shutdown_timeout{30000};
  // /healthz fails when one reconcile runs longer than this, or a ready key
  // waits this long while workers are running: a wedged controller loop.
  std::chrono::milliseconds stall_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds sample_period{1000};
};

struct RunOutcome {
  // OK after a requested stop; kAborted (reason "LeaderElectionLost") when
  // leadership was lost; kDeadlineExceeded when the caches did not sync.
  Status status;
  // False when running reconciles did not finish within their bound: worker
  // threads are still running, so the caller must end the process with
  // std::_Exit instead of destroying the manager. The lease is then not
  // released: it must expire, since a reconcile of ours may still be acting.
  bool drained = true;
};

class Manager {
 public:
  // `reconciler` and `clock` must outlive the manager.
  Manager(ManagerOptions options, Reconciler& reconciler, ManagerHooks hooks = {},
          Clock& clock = RealClock(),
          std::unique_ptr<RateLimiter> limiter = DefaultControllerRateLimiter());
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Takes ownership; the reference stays valid for the manager's life.
  Informer& AddInformer(std::unique_ptr<Informer> informer);
  // Every add/update/delete seen by `informer` enqueues the keys `map` returns
  // (for an update, those of the old and the new object). Call before Run().
  void Watch(Informer& informer,
             std::function<std::vector<std::string>(const nlohmann::json& obj)> map);
  // Workers run only while this process holds the lease. `client` must outlive
  // the manager. Call before Run().
  Status EnableLeaderElection(k8s::Client& client, LeaderElectionConfig config);

  // Blocks until `stop` is cancelled or leadership is lost, then shuts down.
  RunOutcome Run(const k8s::CancelTokenPtr& stop);

  // Liveness: the controller loop is not wedged.
  Status Healthz() const;
  // Readiness: every cache synced and not shutting down (a standby that
  // waits for the lease is ready: it can take over at once).
  Status Readyz() const;

  bool leading() const { return leading_.load(); }
  WorkQueue& queue() { return *queue_; }
  const ReconcileTracker& tracker() const { return tracker_; }

 private:
  bool StopController(std::chrono::milliseconds bound);
  void StopInformers();

  const ManagerOptions options_;
  const ManagerHooks hooks_;
  Clock& clock_;
  ReconcileTracker tracker_;
  std::unique_ptr<WorkQueue> queue_;
  std::unique_ptr<Controller> controller_;
  std::vector<std::unique_ptr<Informer>> informers_;
  std::unique_ptr<LeaderElector> elector_;
  std::chrono::milliseconds lost_drain_{0};

  std::mutex mu_;
  std::condition_variable cv_;  // leading_, lost_ or stop changed
  std::atomic<bool> synced_{false};
  std::atomic<bool> leading_{false};
  std::atomic<bool> lost_{false};
  std::atomic<bool> workers_started_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace ruo::runtime
