// A work queue of object keys with client-go's guarantees: a key is processed by
// at most one worker at a time; adding a key that is waiting is a no-op; adding a
// key that is being processed marks it dirty so it is processed once more after
// Done. Delayed adds and rate-limited (per-key backoff) adds are built in.
//
// Two lanes: keys from Add() (watch events: something changed) are handed out
// before keys that come back from a delay (periodic polls, error backoff), so
// a change is not queued behind every poll when many objects are polled; a
// key waiting in the delayed lane moves up when an Add() names it. Polls wait
// only while events arrive faster than the workers take them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "runtime/rate_limiter.h"

namespace ruo::runtime {

class WorkQueue {
 public:
  explicit WorkQueue(std::unique_ptr<RateLimiter> limiter = DefaultControllerRateLimiter());
  ~WorkQueue();  // ShutDown()

  void Add(const std::string& key);  // the event lane
  void AddAfter(const std::string& key, std::chrono::milliseconds delay);
  void AddRateLimited(const std::string& key);  // AddAfter(limiter.When(key))
  void Forget(const std::string& key);          // reset the key's backoff
  int NumRequeues(const std::string& key);

  // Blocks until a key is ready or the queue shuts down (nullopt).
  std::optional<std::string> Get();
  // As Get(), from the event lane only: for a worker kept free for changes.
  std::optional<std::string> GetEvent();
  // Marks the key processed; re-queues it when it was added meanwhile.
  void Done(const std::string& key);

  // Stops handing out keys; Get() returns nullopt once the queue is drained of
  // nothing more to hand out. Waiting delayed keys are dropped.
  void ShutDown();
  bool shutting_down() const;

  size_t Len() const;  // keys ready to be handed out
  // Longest time a ready key has been waiting (for the queue-latency metric).
  std::chrono::milliseconds OldestWait() const;
  // Called with the time each key waited in the queue before Get() returned it.
  void SetLatencyObserver(std::function<void(std::chrono::duration<double>)> fn);

 private:
  void AddLocked(const std::string& key, bool event);
  std::optional<std::string> Take(bool events_only);
  void DelayLoop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable delay_cv_;
  std::deque<std::string> queue_;    // event lane: handed out first
  std::deque<std::string> delayed_;  // keys back from a delay
  std::set<std::string> dirty_;
  std::set<std::string> dirty_event_;  // the dirty keys that belong in the event lane
  std::set<std::string> processing_;
  std::map<std::string, std::chrono::steady_clock::time_point> added_at_;
  // Delayed keys: ready time per key (the earliest wins when added twice).
  std::map<std::string, std::chrono::steady_clock::time_point> waiting_;
  std::unique_ptr<RateLimiter> limiter_;
  std::function<void(std::chrono::duration<double>)> latency_observer_;
  bool shutdown_ = false;
  std::thread delay_thread_;
};

}  // namespace ruo::runtime
