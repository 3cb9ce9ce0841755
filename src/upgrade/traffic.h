// Moving the instance's clients: the Service selector (its virtual IP) is
// pointed at the new master pod. Used as the switch protocol's TrafficMover.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "k8s/client.h"

namespace ruo::upgrade {

inline constexpr const char* kPodNameLabel = "statefulset.kubernetes.io/pod-name";

// The selector that picks exactly `pod` (set on StatefulSet pods by Kubernetes).
std::map<std::string, std::string> SelectorForPod(const std::string& pod);

// The JSON patch replacing the whole selector (a merge patch would keep the
// old keys and select nothing).
nlohmann::json SelectorPatch(const std::map<std::string, std::string>& selector);

// Idempotent: replaces the selector with the same value when called again.
Status MoveServiceSelector(k8s::Client& client, const std::string& ns, const std::string& service,
                           const std::string& pod);

}  // namespace ruo::upgrade
