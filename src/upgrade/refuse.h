// The Failed path: a refusal or a fatal failure with a named reason.
#pragma once

#include <chrono>
#include <string>

#include "runtime/result.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

// Tears down what the upgrade created (best effort: new StatefulSet and
// headless Service, raised settings restored on the old master), records phase
// Failed with `reason` and `message`, emits a Warning Event and returns
// Terminal. The old instance stays untouched and writable.
runtime::Result Refuse(ReconcileContext& ctx, const std::string& reason,
                       const std::string& message);

// A problem that may clear by itself (a source mid-BGSAVE, a new pod whose
// image pull is retried): named while it lasts — Degraded True and the
// Progressing reason set to `reason`, one Warning Event when it starts — and
// requeued after `poll`; refused with `reason` once it has lasted `grace`.
runtime::Result WaitOrRefuse(ReconcileContext& ctx, const std::string& reason,
                             const std::string& message, std::chrono::seconds grace,
                             std::chrono::milliseconds poll);

}  // namespace ruo::upgrade
