#include "runtime/manager.h"

#include <set>
#include <thread>

#include "common/log.h"

namespace ruo::runtime {

Manager::Manager(ManagerOptions options, Reconciler& reconciler, ManagerHooks hooks, Clock& clock,
                 std::unique_ptr<RateLimiter> limiter)
    : options_(std::move(options)),
      hooks_(std::move(hooks)),
      clock_(clock),
      tracker_(reconciler, clock),
      queue_(std::make_unique<WorkQueue>(std::move(limiter))) {
  if (hooks_.on_queue_latency) queue_->SetLatencyObserver(hooks_.on_queue_latency);
  ControllerHooks controller_hooks;
  controller_hooks.on_result = hooks_.on_result;
  controller_ = std::make_unique<Controller>(options_.name, tracker_, *queue_, options_.workers,
                                             std::move(controller_hooks), options_.event_workers);
}

Manager::~Manager() {
  if (elector_) elector_->Stop();
  StopInformers();
  controller_->Stop();
}

Informer& Manager::AddInformer(std::unique_ptr<Informer> informer) {
  informers_.push_back(std::move(informer));
  return *informers_.back();
}

void Manager::Watch(Informer& informer,
                    std::function<std::vector<std::string>(const nlohmann::json& obj)> map) {
  auto enqueue = [this, map](const nlohmann::json& obj) {
    for (const auto& key : map(obj)) queue_->Add(key);
  };
  ResourceEventHandler handler;
  handler.on_add = enqueue;
  // Both sides of an update: a label or selector change may move an object
  // from one upgrade to another, and the old one must hear of it too.
  handler.on_update = [this, map](const nlohmann::json& old_obj, const nlohmann::json& new_obj) {
    std::set<std::string> keys;
    for (auto& k : map(old_obj)) keys.insert(std::move(k));
    for (auto& k : map(new_obj)) keys.insert(std::move(k));
    for (const auto& key : keys) queue_->Add(key);
  };
  handler.on_delete = enqueue;
  informer.AddEventHandler(std::move(handler));
}

Status Manager::EnableLeaderElection(k8s::Client& client, LeaderElectionConfig config) {
  RUO_RETURN_IF_ERROR(ValidateLeaderElectionConfig(config));
  // After a lost lease nobody else can hold it before our last renewal plus
  // leaseDuration; we notice the loss after renewDeadline (plus one attempt),
  // so what is left is how long running reconciles may go on safely.
  lost_drain_ = std::max(std::chrono::milliseconds(0),
                         config.lease_duration - config.renew_deadline - config.retry_period);
  LeaderCallbacks callbacks;
  callbacks.on_started_leading = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    leading_ = true;
    cv_.notify_all();
  };
  callbacks.on_lost_leadership = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    leading_ = false;
    lost_ = true;
    cv_.notify_all();
  };
  elector_ =
      std::make_unique<LeaderElector>(client, std::move(config), std::move(callbacks), clock_);
  return Status::Ok();
}

RunOutcome Manager::Run(const k8s::CancelTokenPtr& stop) {
  uint64_t stop_id = stop->OnCancel([this] {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  });
  struct Unregister {
    const k8s::CancelTokenPtr& stop;
    uint64_t id;
    ~Unregister() { stop->Unregister(id); }
  } unregister{stop, stop_id};

  for (auto& informer : informers_) informer->Start();
  std::vector<const Informer*> all;
  for (const auto& informer : informers_) all.push_back(informer.get());
  if (!WaitForCacheSync(all, options_.cache_sync_timeout, stop)) {
    stopping_ = true;
    StopInformers();
    if (stop->cancelled()) return {Status::Ok(), true};
    std::string pending;
    for (const auto* informer : all) {
      if (!informer->HasSynced()) pending += (pending.empty() ? "" : ", ") + informer->Describe();
    }
    return {DeadlineExceeded("caches did not sync: " + pending, "CacheSyncTimeout"), true};
  }
  synced_ = true;
  spdlog::info("caches synced informers={}", all.size());

  if (elector_) {
    elector_->Start();
  } else {
    leading_ = true;
  }

  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return leading_ || lost_ || stop->cancelled(); });
  }
  if (leading_ && !stop->cancelled()) {
    spdlog::info("starting workers controller={} workers={}", options_.name, options_.workers);
    if (hooks_.on_leader) hooks_.on_leader(true);
    controller_->Start();
    workers_started_ = true;
  }

  // Sample the queue depth until told to stop.
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (!lost_ && !stop->cancelled()) {
      if (hooks_.on_queue_depth) hooks_.on_queue_depth(queue_->Len());
      if (hooks_.on_tick) hooks_.on_tick();
      cv_.wait_for(lock, options_.sample_period);
    }
  }

  // Shut down: stop taking keys, let running reconciles finish.
  stopping_ = true;
  const bool lost = lost_.load();
  spdlog::info("shutting down controller={} reason={} in_flight={}", options_.name,
               lost ? "leadership lost" : "stop requested", tracker_.InFlightCount());
  tracker_.StopAccepting();
  auto bound = lost ? lost_drain_ : options_.graceful_shutdown_timeout;
  if (!StopController(bound)) {
    auto longest = tracker_.Longest();
    return {DeadlineExceeded("reconciles still running after " + std::to_string(bound.count()) +
                                 "ms" + (longest ? ": " + longest->key : std::string()),
                             "ShutdownTimeout"),
            false};
  }
  if (elector_) elector_->Stop();  // releases the lease when still ours
  leading_ = false;
  if (hooks_.on_leader) hooks_.on_leader(false);
  StopInformers();
  if (lost) return {Aborted("leader election lost", "LeaderElectionLost"), true};
  return {Status::Ok(), true};
}

bool Manager::StopController(std::chrono::milliseconds bound) {
  if (!workers_started_) {
    queue_->ShutDown();
    return true;
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto mu = std::make_shared<std::mutex>();
  auto cv = std::make_shared<std::condition_variable>();
  std::thread stopper([this, done, mu, cv] {
    controller_->Stop();
    std::lock_guard<std::mutex> lock(*mu);
    *done = true;
    cv->notify_all();
  });
  std::unique_lock<std::mutex> lock(*mu);
  if (cv->wait_for(lock, bound, [&] { return done->load(); })) {
    lock.unlock();
    stopper.join();
    return true;
  }
  // The process is about to end with std::_Exit; the thread must not be joined.
  stopper.detach();
  return false;
}

void Manager::StopInformers() {
  for (auto& informer : informers_) informer->Stop();
}

Status Manager::Healthz() const {
  if (auto longest = tracker_.Longest(); longest && longest->running > options_.stall_timeout) {
    return Unavailable("reconcile of " + longest->key + " running for " +
                           std::to_string(longest->running.count() / 1000) + "s",
                       "ReconcileStalled");
  }
  if (workers_started_ && !stopping_ && queue_->Len() > 0 &&
      queue_->OldestWait() > options_.stall_timeout) {
    return Unavailable("work queue not drained: a key has waited " +
                           std::to_string(queue_->OldestWait().count() / 1000) + "s",
                       "QueueStalled");
  }
  return Status::Ok();
}

Status Manager::Readyz() const {
  if (stopping_) return Unavailable("shutting down", "ShuttingDown");
  if (!synced_) {
    std::string pending;
    for (const auto& informer : informers_) {
      if (!informer->HasSynced()) pending += (pending.empty() ? "" : ", ") + informer->Describe();
    }
    return Unavailable("caches not synced: " + pending, "NotSynced");
  }
  return Status::Ok();
}

}  // namespace ruo::runtime
