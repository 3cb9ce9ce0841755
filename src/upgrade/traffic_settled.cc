#include "upgrade/traffic_settled.h"

#include "k8s/resource.h"

namespace ruo::upgrade {

bool EndpointsListOnlyNewPods(const std::vector<nlohmann::json>& slices,
                              const std::set<std::string>& new_ips, const std::string& old_ip) {
  bool any_ready = false;
  for (const auto& slice : slices) {
    for (const auto& ep : slice.value("endpoints", nlohmann::json::array())) {
      const bool ready = ep.value("/conditions/ready"_json_pointer, true);
      for (const auto& a : ep.value("addresses", nlohmann::json::array())) {
        if (!a.is_string()) continue;
        const std::string addr = a.get<std::string>();
        // Not ready, it takes no new connection; but the old master listed at
        // all means the controller has not followed the selector yet.
        if (!old_ip.empty() && addr == old_ip) return false;
        if (!ready) continue;
        if (new_ips.count(addr) == 0) return false;
        any_ready = true;
      }
    }
  }
  return any_ready;
}

StatusOr<bool> ServiceEndpointsSettled(k8s::Client& client, const std::string& ns,
                                       const std::string& service,
                                       const std::set<std::string>& new_ips,
                                       const std::string& old_ip) {
  k8s::ListOptions lo;
  lo.label_selector = std::string(kServiceNameLabel) + "=" + service;
  auto slices = client.List(k8s::resources::EndpointSlices(), ns, lo);
  if (!slices.ok()) return slices.status().Annotate("listing the EndpointSlices of " + service);
  return EndpointsListOnlyNewPods(slices->items, new_ips, old_ip);
}

}  // namespace ruo::upgrade
