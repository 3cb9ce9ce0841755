// List-then-watch with the state machine kube-rs's watcher uses:
//
//   Empty ──list ok──▶ Listed(rv) ──watch accepted──▶ Watching(rv)
//     ▲                   ▲   ▲                            │ event: rv = object's rv
//     │                   │   └── stream ended / dropped ──┤ BOOKMARK: rv advances
//     └──── 410 Gone (HTTP or ERROR event) ◀───────────────┘
//
// A dropped connection or a server-side timeout resumes the watch from the
// last resourceVersion seen (no relist, no missed events); only 410 Gone
// ("too old resource version") forces a fresh list, which the handler gets
// as a complete replacement of its state.
//
// WatchStateMachine is the pure transition logic (no I/O, no clock: unit
// tested by feeding it results); Watcher drives it with a Client.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/backoff.h"
#include "common/status.h"
#include "k8s/client.h"

namespace ruo::k8s {

class WatchStateMachine {
 public:
  enum class State { kEmpty, kListed, kWatching, kStopped };
  enum class Step { kList, kWatch, kStop };
  struct Action {
    Step step = Step::kList;
    std::string resource_version;        // for kWatch: where to resume
    std::chrono::milliseconds delay{0};  // wait this long first (backoff after failures)
  };

  // `start_resource_version` non-empty skips the initial list and watches
  // from there (the state a restarted process may hold).
  explicit WatchStateMachine(Backoff backoff, std::string start_resource_version = {});

  // What to do now. Stable until one of the On*() calls below.
  Action Next() const;

  void OnListed(const std::string& resource_version);
  void OnListFailed(const Status& status);
  void OnWatchStarted();
  void OnWatchFailed(const Status& status);
  // Returns true when the event should be delivered to the handler (i.e. it
  // is ADDED/MODIFIED/DELETED, not a BOOKMARK).
  bool OnEvent(const WatchEvent& event);
  // `status` ok: the server closed the watch (timeoutSeconds); else the error
  // that ended the stream (a dropped connection, an ERROR event, ...).
  void OnStreamEnded(const Status& status);
  void Stop();

  State state() const { return state_; }
  const std::string& resource_version() const { return resource_version_; }

 private:
  void Fail(const Status& status);

  Backoff backoff_;
  State state_ = State::kEmpty;
  std::string resource_version_;
  std::chrono::milliseconds delay_{0};
};

std::string_view WatchStateName(WatchStateMachine::State state);

// Receives a watcher's view of the collection. Called on the watcher's thread.
class WatchHandler {
 public:
  virtual ~WatchHandler() = default;
  // A complete listing (at start and after each relist): replace all state
  // with `items`; objects missing from it were deleted meanwhile.
  virtual void OnSync(const std::vector<nlohmann::json>& items,
                      const std::string& resource_version) = 0;
  // ADDED, MODIFIED or DELETED, in order.
  virtual void OnEvent(const WatchEvent& event) = 0;
  // A failed list/watch; the watcher retries on its own. For logging/metrics.
  virtual void OnError(const Status& /*status*/) {}
};

struct WatcherOptions {
  std::string label_selector;
  std::string field_selector;
  int timeout_seconds = 290;  // per watch request; the client's idle timeout is longer
  int64_t page_size = 500;    // list paging
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  bool jitter = true;
  std::string start_resource_version;  // see WatchStateMachine
};

// Runs list+watch for one collection until Stop().
class Watcher {
 public:
  // `client` and `handler` must outlive the watcher. An empty `ns` watches
  // all namespaces.
  Watcher(Client& client, ResourceRef ref, std::string ns, WatcherOptions options,
          WatchHandler& handler);
  ~Watcher();  // Stop()s
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Runs on a background thread.
  void Start();
  // Runs on the calling thread until Stop() is called from another one.
  void Run();
  // Ends the current request at once and joins the thread; idempotent.
  void Stop();

  // The last resourceVersion seen (for diagnostics and tests).
  std::string resource_version() const;
  WatchStateMachine::State state() const;

 private:
  void ListOnce();
  void WatchOnce(const std::string& resource_version);

  Client& client_;
  const ResourceRef ref_;
  const std::string ns_;
  const WatcherOptions options_;
  WatchHandler& handler_;
  const CancelTokenPtr cancel_;
  mutable std::mutex mu_;  // guards machine_ for the accessors
  WatchStateMachine machine_;
  std::thread thread_;
};

}  // namespace ruo::k8s
