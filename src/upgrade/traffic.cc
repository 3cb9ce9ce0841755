#include "upgrade/traffic.h"

#include <spdlog/spdlog.h>

#include "k8s/resource.h"

namespace ruo::upgrade {

std::map<std::string, std::string> SelectorForPod(const std::string& pod) {
  return {{kPodNameLabel, pod}};
}

nlohmann::json SelectorPatch(const std::map<std::string, std::string>& selector) {
  return nlohmann::json::array(
      {{{"op", "replace"}, {"path", "/spec/selector"}, {"value", selector}}});
}

Status MoveServiceSelector(k8s::Client& client, const std::string& ns, const std::string& service,
                           const std::string& pod) {
  // One request, no read first: this runs while writes are blocked, and
  // replacing the selector with the value it already has changes nothing.
  auto patched =
      client.JsonPatch(k8s::resources::Services(), ns, service, SelectorPatch(SelectorForPod(pod)));
  if (!patched.ok()) return patched.status();
  spdlog::info("Service {}/{} selects pod {}", ns, service, pod);
  return Status::Ok();
}

}  // namespace ruo::upgrade
