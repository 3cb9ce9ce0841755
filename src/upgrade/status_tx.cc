#include "upgrade/status_tx.h"

#include <algorithm>

#include "upgrade/rfc3339.h"

namespace ruo::upgrade {
namespace {

void Set(StatusDoc& d, const char* type, bool value, const std::string& reason,
         const std::string& message, const std::string& now) {
  Condition c;
  c.type = type;
  c.status = value ? "True" : "False";
  c.reason = reason;
  c.message = message;
  SetCondition(d.s.conditions, std::move(c), now);
}

bool IsProgressingPhase(Phase p) {
  return !IsTerminal(p);
}

}  // namespace

void TxEnterPhase(StatusDoc& d, Phase phase, const std::string& reason, const std::string& message,
                  const std::string& now) {
  const std::string name(PhaseName(phase));
  if (d.s.phase != phase || d.s.phase_times.count(name) == 0) d.s.phase_times[name] = now;
  const bool changed = d.s.phase != phase;
  d.s.phase = phase;
  d.s.reason = reason;
  d.s.message = message;
  if (phase == Phase::kCompleted) {
    Set(d, kReady, true, "Completed", message, now);
  } else {
    Set(d, kReady, false, name, message, now);
  }
  if (IsProgressingPhase(phase)) {
    Set(d, kProgressing, true, name, message, now);
  } else {
    Set(d, kProgressing, false, name, message, now);
  }
  // A phase change starts with a clean slate; a problem that persists sets it again.
  if (changed || FindCondition(d.s.conditions, kDegraded) == nullptr) {
    Set(d, kDegraded, false, kAsExpected, "", now);
  }
}

void TxFail(StatusDoc& d, const std::string& reason, const std::string& message,
            const std::string& now) {
  TxEnterPhase(d, Phase::kFailed, reason, message, now);
  Set(d, kReady, false, reason, message, now);
  Set(d, kProgressing, false, "Failed", message, now);
  TxSetDegraded(d, reason, message, now);
}

void TxSetDegraded(StatusDoc& d, const std::string& reason, const std::string& message,
                   const std::string& now) {
  auto& conds = d.s.conditions;
  auto it = std::find_if(conds.begin(), conds.end(),
                         [](const Condition& c) { return c.type == kDegraded; });
  // Another problem than the one recorded: its clock starts now.
  if (it != conds.end() && it->status == "True" && it->reason != reason) conds.erase(it);
  Set(d, kDegraded, true, reason, message, now);
}

void TxClearDegraded(StatusDoc& d, const std::string& now, const std::string& reason) {
  const Condition* c = FindCondition(d.s.conditions, kDegraded);
  if (c == nullptr || c->status != "True") return;
  if (!reason.empty() && c->reason != reason) return;
  Set(d, kDegraded, false, kAsExpected, "", now);
}

void TxVersionWarnings(StatusDoc& d, const std::vector<std::string>& warnings,
                       const std::string& now) {
  if (warnings.empty()) return;
  std::string message;
  for (const std::string& w : warnings) message += (message.empty() ? "" : "; ") + w;
  Set(d, kVersionsChecked, false, kNewerThanChecked, message, now);
}

std::optional<std::chrono::system_clock::time_point> DegradedSince(const StatusDoc& d,
                                                                   const std::string& reason) {
  const Condition* c = FindCondition(d.s.conditions, kDegraded);
  if (c == nullptr || c->status != "True" || c->reason != reason) return std::nullopt;
  return ParseRfc3339(c->last_transition_time);
}

void TxProgress(StatusDoc& d, const std::string& reason, const std::string& message,
                const std::string& now) {
  d.s.reason = reason;
  d.s.message = message;
  Set(d, kProgressing, true, reason, message, now);
}

void TxRecordSource(StatusDoc& d, const SourceFindings& f) {
  d.s.source_version = f.source_version;
  d.s.target_version = f.target_version;
  d.s.old_master_pod = f.old_master_pod;
  d.s.original_selector = f.original_selector;
  d.source = f.source;
}

void TxNewStatefulSet(StatusDoc& d, const std::string& name) {
  d.s.new_stateful_set = name;
}

void TxReadService(StatusDoc& d, const std::string& name) {
  d.s.read_service = name;
}

void TxNewMaster(StatusDoc& d, const std::string& pod, const std::string& target_version) {
  d.s.new_master_pod = pod;
  if (!target_version.empty()) d.s.target_version = target_version;
}

void TxRecordSync(StatusDoc& d, const engine::SyncStatus& s) {
  d.s.sync.lag_bytes =
      s.lag_bytes >= 0 ? std::optional<int64_t>(s.lag_bytes) : std::optional<int64_t>();
  d.s.sync.master_link_status = s.master_link_status;
  d.s.sync.full_sync_done = s.full_sync_done;
  d.s.sync.sync_left_bytes = s.sync_in_progress && s.sync_left_bytes >= 0
                                 ? std::optional<int64_t>(s.sync_left_bytes)
                                 : std::optional<int64_t>();
}

void TxSavedConfig(StatusDoc& d, const std::map<std::string, std::string>& saved) {
  d.s.sync.saved_config = saved;
}

void TxStartSwitch(StatusDoc& d, const std::string& message, const std::string& now) {
  d.s.sw.attempts += 1;
  d.s.sw.started_at = now;
  d.s.sw.completed_at.clear();
  TxEnterPhase(d, Phase::kSwitching, "SwitchStarted", message, now);
}

void TxSwitchRecord(StatusDoc& d, const engine::SwitchRecord& r) {
  d.s.sw.record = r.ToJson();
  d.s.sw.step = std::string(engine::SwitchStepName(r.step));
  d.s.sw.attempts = std::max(d.s.sw.attempts, r.attempt);
  if (!r.last_error.empty()) d.s.sw.last_error = r.last_error;
}

void TxSwitchCompleted(StatusDoc& d, const engine::SwitchRecord& r, const std::string& now,
                       const std::string& clients_closed) {
  TxSwitchRecord(d, r);
  d.s.sw.completed_at = now;
  if (r.write_blocked_ms >= 0) d.s.sw.write_blocked_millis = r.write_blocked_ms;
  std::string message = "traffic moved to " + d.s.new_master_pod + "; writes were blocked for " +
                        std::to_string(r.write_blocked_ms) + " ms (attempt " +
                        std::to_string(r.attempt) + ")";
  if (!clients_closed.empty()) message += "; old client connections closed " + clients_closed;
  TxEnterPhase(d, Phase::kCompleted, "SwitchCompleted", message, now);
}

void TxSwitchReleased(StatusDoc& d, const engine::SwitchRecord& r, const std::string& reason,
                      const std::string& now) {
  TxSwitchRecord(d, r);
  if (r.write_blocked_ms >= 0) d.s.sw.write_blocked_millis = r.write_blocked_ms;
  const std::string message = "switch attempt " + std::to_string(r.attempt) +
                              " released writes on the old master: " + r.last_error;
  TxEnterPhase(d, Phase::kWaitingForSwitch, reason, message, now);
  TxSetDegraded(d, reason, message, now);
}

std::string ReleaseReason(const engine::SwitchRecord& r) {
  const std::string& e = r.last_error;
  if (e.find("catch-up timed out") != std::string::npos) return "CatchUpTimeout";
  if (e.find("verification failed") != std::string::npos) return "VerificationFailed";
  if (e.find("interrupted") != std::string::npos) return "SwitchInterrupted";
  return "SwitchReleased";
}

}  // namespace ruo::upgrade
