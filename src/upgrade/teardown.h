// Undoing what an upgrade created or changed before its switch: the new
// StatefulSet, headless Service and read Service, and the sync limits raised
// on the old master. Used by the Failed path and by the finalizer.
#pragma once

#include "common/status.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

// Deletes the new StatefulSet, headless Service and read Service (propagation
// Background), only when they carry this upgrade's label. Returns true once
// they and their pods are gone, false while deletion is under way.
StatusOr<bool> DeleteNewInstance(ReconcileContext& ctx);

// Puts status.sync.savedConfig back on the old master, then clears it in
// status so it is never applied twice. Ok when there is nothing to restore.
Status RestoreSyncLimits(ReconcileContext& ctx);

}  // namespace ruo::upgrade
