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

// How closing the old master's clients went (SwitchProtocol::KillClients).
struct ClientKillReport {
  int64_t killed = 0;                 // connections closed
  int rounds = 0;                     // CLIENT KILL rounds sent
  std::chrono::milliseconds took{0};  // from the first kill to the last
  // Empty without a traffic_settled predicate; false when client_kill_max ran out.
  std::optional<bool> settled;
  int predicate_errors = 0;
  std::string last_predicate_error;
  std::string kill_error;  // a CLIENT KILL failed (old master gone): the kills stopped
};

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
  // After traffic moves, normal and pub/sub clients on the old master are
  // killed at once and then every client_kill_interval: established
  // connections outlive the traffic move, and new ones still reach the old
  // master until the data path follows it.
  std::chrono::milliseconds client_kill_interval{100};
  // Whether clients can no longer reach the old master (Kubernetes: the
  // Service's EndpointSlices list only new pods). Polled after each kill; once
  // true, one more kill takes the connections made just before. An error
  // counts as "not yet". Empty (migrate, whose hook cannot tell): kills for
  // client_kill_grace instead.
  std::function<StatusOr<bool>()> traffic_settled;
  std::chrono::milliseconds client_kill_grace{2000};  // without traffic_settled
  // With traffic_settled: the last kill comes no sooner than client_kill_min
  // after the first (two kills even when it is true at once), and the kills
  // stop at client_kill_max whatever it says. Stopping then is safe: the old
  // master is sealed, so a client left on it gets no write acknowledged.
  std::chrono::milliseconds client_kill_min{200};
  std::chrono::milliseconds client_kill_max{30000};
  // Told how closing the old clients went, once per completed switch.
  std::function<void(const ClientKillReport&)> on_clients_closed;
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
  // A resumed finish: from what both servers report now, proves the new master
  // is the one verified and the old one takes no writes (docs/switch-protocol.md,
  // "Resume"). true: finish (a moved-traffic old master found writable is
  // resealed first, resume_notice set); false: the attempt had been undone,
  // the undo is completed (record kIdle, VerifiedNotFinished); an error
  // (CannotProveFinish, OldMasterRestarted, OldMasterUnsealed) changed nothing.
  StatusOr<bool> ProveResumedFinish(SwitchRecord& record);
  // The seal without its INFO: replica-read-only yes, replica-serve-stale-data
  // no, SLAVEOF <seal address>, then close every normal and pub/sub client.
  std::vector<std::vector<std::string>> SealCommands() const;
  // The run_id read at the block differs from the expected one: writes
  // released, FailedPrecondition SourceLost.
  Status SourceRestarted(SwitchRecord& record, const std::string& run_id, TimePoint block_start);
  void RepointReplicas();
  // Closes the old master's clients until traffic settled (SwitchOptions);
  // tells on_clients_closed.
  ClientKillReport KillClients();
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
