// The Failed path: a refusal or a fatal failure with a named reason.
#pragma once

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

}  // namespace ruo::upgrade
