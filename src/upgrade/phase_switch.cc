// Switching: runs the switch protocol (docs/switch-protocol.md) with the
// status as its record and the Service selector as its traffic mover. A record
// left mid-way by a killed operator is resumed: undone before the point of no
// return, finished after it.
#include "upgrade/instance.h"
#include "upgrade/phases.h"
#include "upgrade/source_health.h"
#include "upgrade/switch_driver.h"

namespace ruo::upgrade {

runtime::Result Switch(ReconcileContext& ctx) {
  using engine::SwitchStep;
  if (ctx.phase() != Phase::kSwitching) return runtime::Result::Continue();

  auto stored = StoredSwitchRecord(ctx.doc());
  if (!stored.ok()) return runtime::Result::Error(stored.status());
  engine::SwitchRecord record = std::move(stored).value();
  if (record.step == SwitchStep::kCompleted) return OnSwitchCompleted(ctx, record);
  // An idle record is a new attempt only when WaitingForSwitch counted one
  // after it; otherwise this attempt already ran and was released.
  const bool fresh = record.step == SwitchStep::kIdle && record.attempt < ctx.doc().s.sw.attempts;
  if (record.step == SwitchStep::kIdle && !fresh) return OnSwitchReleased(ctx, record, "");

  SwitchDrive drive = DriveSwitch(ctx, record, fresh);
  if (drive.stop) return *drive.stop;
  if (!drive.outcome.ok()) {
    const Status& error = drive.outcome.status();
    if (record.step == SwitchStep::kIdle && error.reason() == kSourceLost) {
      // The old master restarted before the block (writes released, nothing
      // promoted): like a restart seen by the sync, the upgrade fails.
      return OnSourceTrouble(ctx, error);
    }
    if (record.step == SwitchStep::kIdle) {
      // Nothing is left changed (refused before blocking, or undone): the old
      // master serves as before; wait for the switch condition again.
      if (record.last_error.empty()) record.last_error = error.message();
      return OnSwitchReleased(ctx, record,
                              error.reason().empty() ? "SwitchFailed" : error.reason());
    }
    // Left mid-way: the next reconcile resumes (undo or finish) from the record.
    return runtime::Result::Error(
        error.Annotate("switch left at step " + std::string(engine::SwitchStepName(record.step))));
  }
  if (*drive.outcome == engine::SwitchOutcome::kCompleted) {
    return OnSwitchCompleted(ctx, record, drive.clients);
  }
  return OnSwitchReleased(ctx, record, "");
}

}  // namespace ruo::upgrade
