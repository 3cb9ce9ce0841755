#include "runtime/work_queue.h"

#include <algorithm>

namespace ruo::runtime {

using Steady = std::chrono::steady_clock;

WorkQueue::WorkQueue(std::unique_ptr<RateLimiter> limiter) : limiter_(std::move(limiter)) {
  delay_thread_ = std::thread([this] { DelayLoop(); });
}

WorkQueue::~WorkQueue() {
  ShutDown();
  if (delay_thread_.joinable()) delay_thread_.join();
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(key, /*event=*/true);
}

void WorkQueue::AddLocked(const std::string& key, bool event) {
  if (shutdown_) return;
  if (dirty_.count(key)) {
    if (!event || dirty_event_.count(key)) return;
    // Already waiting in the delayed lane (or to be re-queued after Done):
    // an event moves it up.
    dirty_event_.insert(key);
    auto it = std::find(delayed_.begin(), delayed_.end(), key);
    if (it != delayed_.end()) {
      delayed_.erase(it);
      queue_.push_back(key);
      cv_.notify_all();  // now a GetEvent() waiter may take it
    }
    return;
  }
  dirty_.insert(key);
  if (event) dirty_event_.insert(key);
  added_at_.emplace(key, Steady::now());
  if (processing_.count(key)) return;  // re-queued by Done()
  (event ? queue_ : delayed_).push_back(key);
  // All: a GetEvent() waiter woken for a delayed key would go back to sleep
  // and leave the key to nobody.
  cv_.notify_all();
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return;
  if (delay.count() <= 0) {
    AddLocked(key, /*event=*/false);
    return;
  }
  auto ready = Steady::now() + delay;
  auto it = waiting_.find(key);
  if (it == waiting_.end() || ready < it->second) waiting_[key] = ready;
  delay_cv_.notify_one();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  AddAfter(key, limiter_->When(key));
}

void WorkQueue::Forget(const std::string& key) {
  limiter_->Forget(key);
}

int WorkQueue::NumRequeues(const std::string& key) {
  return limiter_->NumRequeues(key);
}

std::optional<std::string> WorkQueue::Get() {
  return Take(/*events_only=*/false);
}

std::optional<std::string> WorkQueue::GetEvent() {
  return Take(/*events_only=*/true);
}

std::optional<std::string> WorkQueue::Take(bool events_only) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock,
           [&] { return !queue_.empty() || (!events_only && !delayed_.empty()) || shutdown_; });
  std::deque<std::string>& lane = !queue_.empty() || events_only ? queue_ : delayed_;
  if (lane.empty()) return std::nullopt;
  std::string key = std::move(lane.front());
  lane.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  dirty_event_.erase(key);
  auto it = added_at_.find(key);
  if (it != added_at_.end()) {
    if (latency_observer_) latency_observer_(Steady::now() - it->second);
    added_at_.erase(it);
  }
  return key;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) && !shutdown_) {
    (dirty_event_.count(key) ? queue_ : delayed_).push_back(key);
    cv_.notify_all();  // see AddLocked()
  }
}

void WorkQueue::ShutDown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    waiting_.clear();
  }
  cv_.notify_all();
  delay_cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shutdown_;
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + delayed_.size();
}

std::chrono::milliseconds WorkQueue::OldestWait() const {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Steady::now();
  std::chrono::milliseconds oldest{0};
  for (const auto* lane : {&queue_, &delayed_}) {
    for (const auto& key : *lane) {
      auto it = added_at_.find(key);
      if (it == added_at_.end()) continue;
      oldest =
          std::max(oldest, std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second));
    }
  }
  return oldest;
}

void WorkQueue::SetLatencyObserver(std::function<void(std::chrono::duration<double>)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  latency_observer_ = std::move(fn);
}

void WorkQueue::DelayLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutdown_) {
    auto now = Steady::now();
    auto next = Steady::time_point::max();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second <= now) {
        std::string key = it->first;
        it = waiting_.erase(it);
        AddLocked(key, /*event=*/false);
      } else {
        next = std::min(next, it->second);
        ++it;
      }
    }
    if (next == Steady::time_point::max()) {
      delay_cv_.wait(lock);
    } else {
      delay_cv_.wait_until(lock, next);
    }
  }
}

}  // namespace ruo::runtime
