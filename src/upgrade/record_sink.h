// The switch protocol's RecordSink over the RedisUpgrade's status: each step
// is stored in status.switch.record (optimistic lock, one re-read on conflict)
// before the change it announces; a failed save stops the protocol, and the
// next reconcile resumes from what was stored.
#pragma once

#include "engine/switch_record.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

class StatusRecordSink final : public engine::RecordSink {
 public:
  explicit StatusRecordSink(ReconcileContext& ctx) : ctx_(ctx) {}
  Status Save(const engine::SwitchRecord& record) override;

 private:
  ReconcileContext& ctx_;
};

}  // namespace ruo::upgrade
