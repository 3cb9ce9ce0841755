#include "runtime/controller.h"

#include <chrono>
#include <exception>

#include "common/log.h"

namespace ruo::runtime {

std::string Result::ToString() const {
  switch (kind_) {
    case Kind::kContinue:
      return "continue";
    case Kind::kDone:
      return "done";
    case Kind::kRequeueAfter:
      return "requeue after " + std::to_string(delay_.count()) + "ms" +
             (why_.empty() ? "" : " (" + why_ + ")");
    case Kind::kError:
      return "error: " + status_.ToString();
    case Kind::kTerminal:
      return "terminal: " + status_.ToString();
  }
  return "?";
}

Controller::Controller(std::string name, Reconciler& reconciler, WorkQueue& queue, int workers,
                       ControllerHooks hooks, int event_workers)
    : name_(std::move(name)),
      reconciler_(reconciler),
      queue_(queue),
      workers_(workers),
      hooks_(std::move(hooks)),
      event_workers_(event_workers) {}

Controller::~Controller() {
  Stop();
}

void Controller::Start() {
  if (started_.exchange(true)) return;
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { Worker(false); });
  for (int i = 0; i < event_workers_; ++i) threads_.emplace_back([this] { Worker(true); });
}

void Controller::Stop() {
  queue_.ShutDown();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Controller::Worker(bool events_only) {
  while (auto key = events_only ? queue_.GetEvent() : queue_.Get()) {
    Handle(*key);
    queue_.Done(*key);
  }
}

void Controller::Handle(const std::string& key) {
  auto start = std::chrono::steady_clock::now();
  if (spdlog::should_log(spdlog::level::debug)) {
    // Wall clock in µs (the log stamp has ms): bench/reconcile_latency.py times
    // a client's write to the reconcile it causes with it.
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    spdlog::debug("reconcile start key={} unix_us={}", key, us);
  }
  Result r = Result::Done();
  try {
    r = reconciler_.Reconcile(key);
  } catch (const std::exception& e) {
    // A bug, not a condition: keep the process alive and retry with backoff.
    r = Result::Error(Internal(std::string("reconcile threw: ") + e.what()));
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  if (hooks_.on_result) hooks_.on_result(key, r, elapsed);
  switch (r.kind()) {
    case Result::Kind::kContinue:
    case Result::Kind::kDone:
    case Result::Kind::kTerminal:
      queue_.Forget(key);
      if (r.kind() == Result::Kind::kTerminal) {
        spdlog::warn("reconcile terminal controller={} key={} error=\"{}\"", name_, key,
                     r.status().ToString());
      }
      break;
    case Result::Kind::kRequeueAfter:
      queue_.Forget(key);
      queue_.AddAfter(key, r.delay());
      break;
    case Result::Kind::kError:
      spdlog::warn("reconcile error controller={} key={} retries={} error=\"{}\"", name_, key,
                   queue_.NumRequeues(key), r.status().ToString());
      queue_.AddRateLimited(key);
      break;
  }
}

}  // namespace ruo::runtime
