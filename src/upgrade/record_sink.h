// The switch protocol's RecordSink over the RedisUpgrade's status: each saved
// step is stored in status.switch.record (optimistic lock, one re-read on
// conflict) before the change it announces; a failed save stops the protocol,
// and the next reconcile resumes from what was stored. Noted steps (inside the
// write-blocked window, covered by undo from kBlocking) are not written: each
// API write there would lengthen the pause clients see.
#pragma once

#include "engine/switch_record.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

class StatusRecordSink final : public engine::RecordSink {
 public:
  explicit StatusRecordSink(ReconcileContext& ctx) : ctx_(ctx) {}
  Status Save(const engine::SwitchRecord& record) override;
  Status Note(const engine::SwitchRecord& record) override;

 private:
  // The test-only step delay (test_hooks.h), after every step, saved or noted.
  void AfterStep(const engine::SwitchRecord& record);

  ReconcileContext& ctx_;
};

}  // namespace ruo::upgrade
