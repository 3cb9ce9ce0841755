// What to do when the old master cannot be used after Validating: gone or
// replaced → Failed SourceLost at once; not answering → retried, and Failed
// SourceLost once that has lasted ReconcilerOptions::source_lost_grace.
#pragma once

#include "common/status.h"
#include "runtime/result.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

inline constexpr const char* kSourceUnreachable = "SourceUnreachable";

// `cause` is the failed Status of locating or talking to the old master.
runtime::Result OnSourceTrouble(ReconcileContext& ctx, const Status& cause);

// The old master answered: clears a SourceUnreachable Degraded condition.
Status SourceAnswered(ReconcileContext& ctx);

}  // namespace ruo::upgrade
