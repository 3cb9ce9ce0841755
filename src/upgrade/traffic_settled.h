// Whether traffic has left the old master: the Service's EndpointSlices list
// only new pods. The switch keeps closing the old master's clients until then
// (engine::SwitchOptions::traffic_settled): the data path (kube-proxy, the node
// proxy) routes by these slices, so until they follow the selector new
// connections can still reach the old master.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "k8s/client.h"

namespace ruo::upgrade {

inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";

// True when at least one endpoint of `slices` is ready, every ready endpoint's
// addresses are in `new_ips`, and no endpoint at all has `old_ip`. A missing
// ready condition means ready (the API's rule).
bool EndpointsListOnlyNewPods(const std::vector<nlohmann::json>& slices,
                              const std::set<std::string>& new_ips, const std::string& old_ip);

// Lists the EndpointSlices of `service` in `ns` (label kubernetes.io/service-name)
// and applies EndpointsListOnlyNewPods. Runs after the point of no return,
// outside the write-blocked window: the API round trip delays no write.
StatusOr<bool> ServiceEndpointsSettled(k8s::Client& client, const std::string& ns,
                                       const std::string& service,
                                       const std::set<std::string>& new_ips,
                                       const std::string& old_ip);

}  // namespace ruo::upgrade
