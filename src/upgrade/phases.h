// The phase functions of the reconciler (docs/architecture.md), one file each.
// Each returns Continue at once when the upgrade is past its phase; when it is
// the current phase it acts and either advances the phase (Continue, so one
// reconcile can move through several) or returns RequeueAfter / Error /
// Terminal. A phase that waits returns RequeueAfter: RUO_PHASE then stops the
// sequence, so later phases cannot run early.
#pragma once

#include "runtime/result.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

runtime::Result Validate(ReconcileContext& ctx);       // Pending, Validating → Provisioning
runtime::Result Provision(ReconcileContext& ctx);      // Provisioning → Syncing
runtime::Result Sync(ReconcileContext& ctx);           // Syncing → WaitingForSwitch
runtime::Result WaitForSwitch(ReconcileContext& ctx);  // WaitingForSwitch → Switching
runtime::Result Switch(ReconcileContext& ctx);         // Switching → Completed | WaitingForSwitch
// Deletion: undo or finish, clean up, remove the finalizer.
runtime::Result Finalize(ReconcileContext& ctx);

}  // namespace ruo::upgrade
