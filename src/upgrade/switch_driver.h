// Driving the switch protocol over the upgrade's servers, and recording its
// outcome. Shared by Switching and by the finalizer (which resumes an
// interrupted attempt before cleaning up).
#pragma once

#include <optional>
#include <string>

#include "engine/switch_protocol.h"
#include "runtime/result.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

// The record in status (an Idle one when none is stored).
StatusOr<engine::SwitchRecord> StoredSwitchRecord(const StatusDoc& d);

struct SwitchDrive {
  // Set when the protocol could not be run (servers unreachable...): return it.
  std::optional<runtime::Result> stop;
  StatusOr<engine::SwitchOutcome> outcome = Internal("switch not run");
  // How closing the old master's clients went, when this run got that far.
  std::optional<engine::ClientKillReport> clients;
};

// Connects the old master, the new master and the new replicas and runs a new
// attempt (`fresh`) or resumes `record`. Past the point of no return a dead
// old master does not stop the finish.
SwitchDrive DriveSwitch(ReconcileContext& ctx, engine::SwitchRecord& record, bool fresh);

// Completed: sync limits restored (best effort), figures in status, Event.
// `clients` (from the run that completed, if this one did) is told too, with a
// Warning when the Service's endpoints never settled.
runtime::Result OnSwitchCompleted(ReconcileContext& ctx, const engine::SwitchRecord& record,
                                  const std::optional<engine::ClientKillReport>& clients = {});
// Released: back to WaitingForSwitch with Degraded `reason` (from the record
// when empty), Warning Event, RequeueAfter.
runtime::Result OnSwitchReleased(ReconcileContext& ctx, const engine::SwitchRecord& record,
                                 std::string reason);

}  // namespace ruo::upgrade
