// The switch protocol (docs/switch-protocol.md): block writes on
// the old master, let the new master catch up, promote it, seal the old master,
// verify no byte was lost, move traffic, close old client connections.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "engine/switch_record.h"
#include "redis/admin.h"

namespace ruo::engine {

struct SwitchOptions {
  std::chrono::milliseconds max_read_only{60000};  // bound on the write-blocked window
  // CLIENT PAUSE length on 3.0–6.0, where a pause cannot be ended early.
  std::chrono::milliseconds legacy_pause{200};
  std::chrono::milliseconds poll_interval{1};  // catch-up polling
  // Where the seal points the old master: an address where nothing listens.
  redis::Endpoint seal_address{"127.0.0.1", 1};
  // The old master's run_id when the sync was checked (status.source.runID,
  // migrate's precheck). Compared at the block: a restarted old master (whose
  // data the new master may have full-synced) is never switched to. Empty: no
  // check.
  std::string expected_source_run_id;
  // After traffic moves: kill normal and pub/sub clients on the old master
  // repeatedly for this long.
  std::chrono::milliseconds client_kill_grace{2000};
  std::chrono::milliseconds client_kill_interval{100};
};

enum class SwitchOutcome {
  kCompleted,  // traffic on the new master; old master sealed
  kReleased,   // catch-up timed out or verification failed: writes released, old
               // master writable, new master replicating it again; retry later
};

// Moves clients to the new master (Service selector patch, or migrate's hook).
// Called exactly once per completed switch, after kVerified is persisted; must be
// idempotent because a restarted process may call it again.
using TrafficMover = std::function<Status()>;

class SwitchProtocol {
 public:
  // `old_master`, `new_master` must have their versions detected. new_replicas are
  // re-pointed at the new master after promotion when their link is down.
  SwitchProtocol(redis::Admin& old_master, redis::Admin& new_master,
                 std::vector<redis::Admin*> new_replicas, SwitchOptions opts, Clock& clock,
                 RecordSink& sink);

  // Runs one attempt from `record` (which must be kIdle or a resumable state; see
  // Resume). Persists the record through the sink before every change.
  StatusOr<SwitchOutcome> Run(SwitchRecord& record, const TrafficMover& move_traffic);

  // For a record left by a killed process: before kVerified → undo the attempt
  // (old master writable with its settings restored, new master replicating it);
  // at/after kVerified → finish forward. Returns the outcome reached.
  StatusOr<SwitchOutcome> Resume(SwitchRecord& record, const TrafficMover& move_traffic);

  // Undo of an attempt that has not reached kVerified. Safe to repeat.
  Status Undo(SwitchRecord& record, const std::string& why);

 private:
  using TimePoint = std::chrono::steady_clock::time_point;

  // The body of Run after kBlocking is saved; errors leave `record` where it got.
  StatusOr<SwitchOutcome> Attempt(SwitchRecord& record, const TrafficMover& move_traffic,
                                  int64_t fence_threshold);
  // Catch-up timed out: writes released (unpause / fence restored), record kIdle.
  Status Release(SwitchRecord& record, const std::string& why, TimePoint block_start);
  // From kVerified on: (re-)ensure roles, move traffic, kill old clients, kCompleted.
  // `block_start` is set on the live path; a resumed finish uses the record's wall time.
  StatusOr<SwitchOutcome> Finish(SwitchRecord& record, const TrafficMover& move_traffic,
                                 std::optional<TimePoint> block_start);
  // The seal without its INFO: replica-read-only yes, replica-serve-stale-data
  // no, SLAVEOF <seal address>, then close every normal and pub/sub client.
  std::vector<std::vector<std::string>> SealCommands() const;
  // The run_id read at the block differs from the expected one: writes
  // released, FailedPrecondition SourceLost.
  Status SourceRestarted(SwitchRecord& record, const std::string& run_id, TimePoint block_start);
  void RepointReplicas();
  int64_t KillClients();
  // A step the last Save covers (RecordSink::Note): taken inside the
  // write-blocked window, where every durable store adds to the pause.
  Status Note(SwitchRecord& record, SwitchStep step);
  Status Save(SwitchRecord& record, SwitchStep step);
  Status Store(SwitchRecord& record, SwitchStep step, bool durable);

  redis::Admin& old_;
  redis::Admin& new_;
  std::vector<redis::Admin*> replicas_;
  SwitchOptions opts_;
  Clock& clock_;
  RecordSink& sink_;
};

}  // namespace ruo::engine
