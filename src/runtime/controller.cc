#include "runtime/controller.h"

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
                       ControllerHooks hooks)
    : name_(std::move(name)),
      reconciler_(reconciler),
      queue_(queue),
      workers_(workers),
      hooks_(std::move(hooks)) {}

Controller::~Controller() {
  Stop();
}

void Controller::Start() {
  if (started_.exchange(true)) return;
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { Worker(); });
}

void Controller::Stop() {
  queue_.ShutDown();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Controller::Worker() {
  while (auto key = queue_.Get()) {
    Handle(*key);
    queue_.Done(*key);
  }
}

void Controller::Handle(const std::string& key) {
  auto start = std::chrono::steady_clock::now();
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
