#include "upgrade/record_sink.h"

#include <spdlog/spdlog.h>

namespace ruo::upgrade {

Status StatusRecordSink::Save(const engine::SwitchRecord& record) {
  RUO_RETURN_IF_ERROR(ctx_.Commit([&](StatusDoc& d) { TxSwitchRecord(d, record); }));
  AfterStep(record);
  return Status::Ok();
}

Status StatusRecordSink::Note(const engine::SwitchRecord& record) {
  AfterStep(record);
  return Status::Ok();
}

void StatusRecordSink::AfterStep(const engine::SwitchRecord& record) {
  const SwitchStepDelay& hook = ctx_.deps().step_delay;
  if (hook.step && *hook.step == record.step && hook.delay.count() > 0) {
    spdlog::warn("TEST HOOK {}: pausing {} ms after switch step {}", kSwitchStepDelayEnv,
                 hook.delay.count(), engine::SwitchStepName(record.step));
    ctx_.clock().SleepFor(hook.delay);
  }
}

}  // namespace ruo::upgrade
