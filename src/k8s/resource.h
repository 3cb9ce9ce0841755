// Naming API resources and reading common fields of JSON objects.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ruo::k8s {

// Which REST collection an object lives in: group "" is the core API.
struct ResourceRef {
  std::string group;
  std::string version;
  std::string resource;  // plural, lower-case: "statefulsets"
  bool namespaced = true;

  // "v1" or "apps/v1": what an object's apiVersion reads.
  std::string ApiVersion() const;
  // "/api/v1" or "/apis/apps/v1".
  std::string GroupVersionPath() const;
  // The collection path; `ns` is ignored for cluster-scoped resources and, when
  // empty for a namespaced one, addresses all namespaces (list/watch).
  std::string CollectionPath(std::string_view ns) const;
  // CollectionPath + "/name" [+ "/subresource"].
  std::string ObjectPath(std::string_view ns, std::string_view name,
                         std::string_view subresource = {}) const;

  friend bool operator==(const ResourceRef&, const ResourceRef&) = default;
};

namespace resources {
ResourceRef Namespaces();
ResourceRef ConfigMaps();
ResourceRef Secrets();
ResourceRef Services();
ResourceRef Endpoints();
ResourceRef Pods();
ResourceRef Events();
ResourceRef ServiceAccounts();
ResourceRef StatefulSets();
ResourceRef EndpointSlices();
ResourceRef Leases();
ResourceRef CustomResourceDefinitions();
ResourceRef RedisUpgrades();  // redisupgrade.dev/v1alpha1
}  // namespace resources

// Accessors that tolerate missing fields (returning "" or an empty object).
std::string NameOf(const nlohmann::json& obj);
std::string NamespaceOf(const nlohmann::json& obj);
std::string UidOf(const nlohmann::json& obj);
std::string ResourceVersionOf(const nlohmann::json& obj);
std::string KindOf(const nlohmann::json& obj);
std::string ApiVersionOf(const nlohmann::json& obj);
std::map<std::string, std::string> LabelsOf(const nlohmann::json& obj);

// "a=1,b=2" (sorted by key, which std::map gives).
std::string LabelSelectorFromMap(const std::map<std::string, std::string>& labels);

// A metav1.LabelSelector (matchLabels + matchExpressions) in the string form a
// list's labelSelector parameter takes: "app=redis,tier in (a,b),!legacy".
StatusOr<std::string> LabelSelectorToString(const nlohmann::json& selector);

// An ownerReference pointing at `owner` (controller=true, blockOwnerDeletion=true).
nlohmann::json ControllerOwnerReference(const nlohmann::json& owner);

}  // namespace ruo::k8s
