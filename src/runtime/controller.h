// The controller loop: N workers take keys from the work queue and reconcile
// them; the Result decides what happens to the key next. Event workers take
// only keys from the queue's event lane, so a change is picked up at once even
// while every other worker is busy with periodic polls.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/result.h"
#include "runtime/work_queue.h"

namespace ruo::runtime {

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // Level-triggered: `key` ("namespace/name") is all it gets; it reads the rest.
  virtual Result Reconcile(const std::string& key) = 0;
};

struct ControllerHooks {
  // Called after every reconcile with its duration (metrics).
  std::function<void(const std::string& key, const Result& r, std::chrono::duration<double>)>
      on_result;
};

class Controller {
 public:
  Controller(std::string name, Reconciler& reconciler, WorkQueue& queue, int workers,
             ControllerHooks hooks = {}, int event_workers = 0);
  ~Controller();  // Stop()

  void Start();
  // Shuts the queue down and waits for in-flight reconciles to finish.
  void Stop();
  const std::string& name() const { return name_; }

 private:
  void Worker(bool events_only);
  void Handle(const std::string& key);

  std::string name_;
  Reconciler& reconciler_;
  WorkQueue& queue_;
  int workers_;
  ControllerHooks hooks_;
  int event_workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> started_{false};
};

}  // namespace ruo::runtime
