// Finding the servers of an upgrade in the cluster: the old master (the pod
// Validating chose, identified by name and uid) and the new pods.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "redis/connection.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

inline constexpr const char* kSourceLost = "SourceLost";

struct OldMaster {
  std::string pod_name;
  redis::Endpoint endpoint;
  nlohmann::json pod;
};

// The old master pod recorded in status, as it is now. FailedPrecondition with
// reason SourceLost when the pod is gone or was replaced by another one of the
// same name (another uid: another server, whatever data it holds).
StatusOr<OldMaster> LocateOldMaster(ReconcileContext& ctx);

// A pod of the new StatefulSet (<sts>-<ordinal>): its IP and the instance port.
// Unavailable while it has no IP yet; NotFound when it does not exist.
StatusOr<redis::Endpoint> NewPodEndpoint(ReconcileContext& ctx, int ordinal);

// How many pods the new StatefulSet asks for (spec.replicas); NotFound when it is gone.
StatusOr<int> NewInstanceSize(ReconcileContext& ctx);

}  // namespace ruo::upgrade
