// Status transactions: the only ways the reconciler changes status. Each is a
// small pure function over the StatusDoc, so a StatusWriter can re-apply it to
// a freshly read status after an optimistic-lock conflict, and tests can check
// each one alone. `now` is RFC 3339.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/switch_record.h"
#include "engine/sync.h"
#include "upgrade/status_doc.h"
#include "upgrade/types.h"

namespace ruo::upgrade {

using StatusTx = std::function<void(StatusDoc&)>;

// Condition types and the reason of a cleared Degraded condition.
inline constexpr const char* kReady = "Ready";
inline constexpr const char* kProgressing = "Progressing";
inline constexpr const char* kDegraded = "Degraded";
inline constexpr const char* kAsExpected = "AsExpected";
// False (reason NewerThanChecked) when the source or target runs a version newer
// than every release line the operator was checked against; absent otherwise.
inline constexpr const char* kVersionsChecked = "VersionsChecked";
inline constexpr const char* kNewerThanChecked = "NewerThanChecked";

// Phase change: phase, reason/message, phaseTimes[phase], and the conditions
// (Ready False with the phase as reason until Completed; Progressing True while
// Pending…Switching; Degraded cleared). Re-entering the current phase only
// refreshes reason and message.
void TxEnterPhase(StatusDoc& d, Phase phase, const std::string& reason, const std::string& message,
                  const std::string& now);
// Phase Failed with a refusal or failure reason: Ready False and Degraded True
// with that reason, Progressing False.
void TxFail(StatusDoc& d, const std::string& reason, const std::string& message,
            const std::string& now);

// Degraded True with `reason`: a transient problem that persists, or a released
// switch. The transition time restarts when the reason changes, so
// DegradedSince measures how long this very problem has lasted.
void TxSetDegraded(StatusDoc& d, const std::string& reason, const std::string& message,
                   const std::string& now);
// Degraded False, when it was set with `reason` (any reason when empty).
void TxClearDegraded(StatusDoc& d, const std::string& now, const std::string& reason = {});
std::optional<std::chrono::system_clock::time_point> DegradedSince(const StatusDoc& d,
                                                                   const std::string& reason);

// VersionsChecked False with the warnings (joined); nothing when there are none.
void TxVersionWarnings(StatusDoc& d, const std::vector<std::string>& warnings,
                       const std::string& now);

// Why the phase is waiting (Progressing condition, status reason/message).
void TxProgress(StatusDoc& d, const std::string& reason, const std::string& message,
                const std::string& now);

// Validating's findings about the old instance.
struct SourceFindings {
  std::string source_version;  // the old master's redis_version
  std::string target_version;  // spec.targetVersion until the new pods report theirs
  std::string old_master_pod;
  std::map<std::string, std::string> original_selector;
  SourceRecord source;
};
void TxRecordSource(StatusDoc& d, const SourceFindings& f);

void TxNewStatefulSet(StatusDoc& d, const std::string& name);
// spec.readService's name ("" = none), recorded before the Service is created.
void TxReadService(StatusDoc& d, const std::string& name);
// The new pods are up: new master pod and the target version they actually run.
void TxNewMaster(StatusDoc& d, const std::string& pod, const std::string& target_version);

void TxRecordSync(StatusDoc& d, const engine::SyncStatus& s);
// Originals of the settings raised on the old master for the sync.
void TxSavedConfig(StatusDoc& d, const std::map<std::string, std::string>& saved);

// The switch condition holds: attempts+1, startedAt, phase Switching.
void TxStartSwitch(StatusDoc& d, const std::string& message, const std::string& now);
// A persisted SwitchRecord: status.switch.record and .step.
void TxSwitchRecord(StatusDoc& d, const engine::SwitchRecord& r);
// Phase Completed. `clients_closed` ("for 400 ms, until ...", empty: not
// known) goes into the message after "old client connections closed".
void TxSwitchCompleted(StatusDoc& d, const engine::SwitchRecord& r, const std::string& now,
                       const std::string& clients_closed = {});
// Writes were released (catch-up timeout, failed verification, interrupted
// attempt): back to WaitingForSwitch with Degraded True and the reason.
void TxSwitchReleased(StatusDoc& d, const engine::SwitchRecord& r, const std::string& reason,
                      const std::string& now);

// The Degraded reason for a released attempt, from the record's last_error.
std::string ReleaseReason(const engine::SwitchRecord& r);

}  // namespace ruo::upgrade
