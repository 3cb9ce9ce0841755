// Leader election over a coordination.k8s.io/v1 Lease, with client-go's rules:
//
// - A candidate takes the lease when it is absent, released (no holder), ours,
//   or expired. Expiry is judged on the candidate's own monotonic clock: a
//   lease whose record has not changed for leaseDurationSeconds since this
//   process last saw it change is expired. No cross-node wall-clock agreement
//   is needed.
// - Every write carries the resourceVersion it was decided on, so of two
//   candidates racing for an expired lease exactly one wins; the other gets a
//   409 Conflict and re-reads.
// - The leader renews every retryPeriod; when no renewal has succeeded for
//   renewDeadline it has lost leadership and must stop acting at once.
// - On a graceful stop the leader releases the lease (holder cleared,
//   leaseDurationSeconds 1) so a standby takes over without waiting.
//
// DecideLease / ReleasedLease are the pure decision logic; LeaderElector runs
// them against the API server.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "k8s/client.h"

namespace ruo::runtime {

struct LeaderElectionConfig {
  std::string lease_namespace = "default";
  std::string lease_name = "redis-upgrade-operator";
  std::string identity;  // unique per process: POD_NAME, or hostname_pid
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool release_on_cancel = true;
};

// client-go's constraints: leaseDuration > renewDeadline > 1.2 × retryPeriod,
// all positive, an identity and a lease name.
Status ValidateLeaderElectionConfig(const LeaderElectionConfig& config);

// POD_NAME when set (the Deployment passes it), else "hostname_pid".
std::string DefaultIdentity();

// The Lease's spec, as the election reads and writes it.
struct LeaseRecord {
  std::string holder_identity;
  int64_t lease_duration_seconds = 0;
  std::string acquire_time;  // metav1.MicroTime: RFC 3339 with microseconds
  std::string renew_time;
  int64_t lease_transitions = 0;
  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};

LeaseRecord LeaseRecordFromJson(const nlohmann::json& lease);
// "2024-05-01T10:00:00.123456Z", the form the API server requires for MicroTime.
std::string FormatMicroTime(std::chrono::system_clock::time_point t);

// What this process remembers of the lease between attempts: the last record
// seen and when (monotonic) it last changed.
struct LeaseObservation {
  bool valid = false;
  LeaseRecord record;
  std::chrono::steady_clock::time_point observed_at{};
};

enum class LeaseAction {
  kCreate,  // no lease yet: create `lease`
  kUpdate,  // acquire or renew: update with `lease` (carries the resourceVersion read)
  kWait,    // someone else holds an unexpired lease
};

struct LeaseDecision {
  LeaseAction action = LeaseAction::kWait;
  nlohmann::json lease;                     // the object to create/update
  std::string holder;                       // the holder as read (kWait) or us (create/update)
  bool acquiring = false;                   // kCreate/kUpdate takes it over (not a renewal)
  std::chrono::milliseconds expires_in{0};  // kWait: when it would expire if not renewed
};

// `current` is the Lease as read (nullopt: absent). Updates `observed`.
// `now` stamps the record; `mono_now` judges expiry.
LeaseDecision DecideLease(const std::optional<nlohmann::json>& current,
                          const LeaderElectionConfig& config, LeaseObservation& observed,
                          std::chrono::system_clock::time_point now,
                          std::chrono::steady_clock::time_point mono_now);

// The lease to write to give it up at once; nullopt when `identity` does not
// hold it (nothing to release).
std::optional<nlohmann::json> ReleasedLease(const nlohmann::json& current,
                                            const std::string& identity,
                                            std::chrono::system_clock::time_point now);

struct LeaderCallbacks {
  std::function<void()> on_started_leading;
  // Renewal failed past renewDeadline, or another holder was seen. Not called
  // by Stop(). The process must stop reconciling right away.
  std::function<void()> on_lost_leadership;
  // The holder seen changed (including to us).
  std::function<void(const std::string& identity)> on_new_leader;
};

class LeaderElector {
 public:
  // `client` must outlive the elector; its request timeout should be well
  // under renewDeadline so a hung request cannot outlast the lease.
  LeaderElector(k8s::Client& client, LeaderElectionConfig config, LeaderCallbacks callbacks,
                Clock& clock = RealClock());
  ~LeaderElector();  // Stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Campaigns, then renews, on a background thread.
  void Start();
  // Stops campaigning; a leader releases the lease (release_on_cancel). Idempotent.
  void Stop();

  bool IsLeader() const { return leading_.load(); }
  bool Lost() const { return lost_.load(); }
  std::string ObservedLeader() const;
  const LeaderElectionConfig& config() const { return config_; }

  // One attempt to acquire or renew (the loop's step; tests call it directly).
  // True when we hold the lease afterwards.
  bool TryAcquireOrRenew();
  // Gives the lease up when we hold it.
  Status Release();

 private:
  void Run();
  void NoteHolder(const std::string& holder);
  std::chrono::milliseconds Jittered(std::chrono::milliseconds d);

  k8s::Client& client_;
  const LeaderElectionConfig config_;
  const LeaderCallbacks callbacks_;
  Clock& clock_;
  const k8s::CancelTokenPtr cancel_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> lost_{false};
  bool held_by_other_ = false;  // the last attempt saw an unexpired foreign holder
  mutable std::mutex mu_;       // guards observed_ and observed_leader_
  LeaseObservation observed_;
  std::string observed_leader_;
  std::thread thread_;
  uint64_t rng_;
};

}  // namespace ruo::runtime
