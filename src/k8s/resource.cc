#include "k8s/resource.h"

#include "k8s/http.h"

namespace ruo::k8s {
namespace {

const nlohmann::json& Metadata(const nlohmann::json& obj) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find("metadata");
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

std::string StringAt(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string ResourceRef::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceRef::GroupVersionPath() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string ResourceRef::CollectionPath(std::string_view ns) const {
  std::string path = GroupVersionPath();
  if (namespaced && !ns.empty()) path += "/namespaces/" + UrlEncode(ns);
  return path + "/" + resource;
}

std::string ResourceRef::ObjectPath(std::string_view ns, std::string_view name,
                                    std::string_view subresource) const {
  std::string path = CollectionPath(ns) + "/" + UrlEncode(name);
  if (!subresource.empty()) path += "/" + std::string(subresource);
  return path;
}

namespace resources {
ResourceRef Namespaces() {
  return {"", "v1", "namespaces", false};
}
ResourceRef ConfigMaps() {
  return {"", "v1", "configmaps", true};
}
ResourceRef Secrets() {
  return {"", "v1", "secrets", true};
}
ResourceRef Services() {
  return {"", "v1", "services", true};
}
ResourceRef Endpoints() {
  return {"", "v1", "endpoints", true};
}
ResourceRef Pods() {
  return {"", "v1", "pods", true};
}
ResourceRef Events() {
  return {"", "v1", "events", true};
}
ResourceRef ServiceAccounts() {
  return {"", "v1", "serviceaccounts", true};
}
ResourceRef StatefulSets() {
  return {"apps", "v1", "statefulsets", true};
}
ResourceRef EndpointSlices() {
  return {"discovery.k8s.io", "v1", "endpointslices", true};
}
ResourceRef Leases() {
  return {"coordination.k8s.io", "v1", "leases", true};
}
ResourceRef CustomResourceDefinitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
}
ResourceRef RedisUpgrades() {
  return {"redisupgrade.dev", "v1alpha1", "redisupgrades", true};
}
}  // namespace resources

std::string NameOf(const nlohmann::json& obj) {
  return StringAt(Metadata(obj), "name");
}
std::string NamespaceOf(const nlohmann::json& obj) {
  return StringAt(Metadata(obj), "namespace");
}
std::string UidOf(const nlohmann::json& obj) {
  return StringAt(Metadata(obj), "uid");
}
std::string ResourceVersionOf(const nlohmann::json& obj) {
  return StringAt(Metadata(obj), "resourceVersion");
}
std::string KindOf(const nlohmann::json& obj) {
  return StringAt(obj, "kind");
}
std::string ApiVersionOf(const nlohmann::json& obj) {
  return StringAt(obj, "apiVersion");
}

std::map<std::string, std::string> LabelsOf(const nlohmann::json& obj) {
  std::map<std::string, std::string> out;
  const auto& md = Metadata(obj);
  auto it = md.find("labels");
  if (it == md.end() || !it->is_object()) return out;
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

std::string LabelSelectorFromMap(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out += ',';
    out += k + "=" + v;
  }
  return out;
}

StatusOr<std::string> LabelSelectorToString(const nlohmann::json& selector) {
  if (selector.is_null()) return std::string();
  if (!selector.is_object()) return InvalidArgument("label selector is not an object");
  std::map<std::string, std::string> match_labels;
  if (auto it = selector.find("matchLabels"); it != selector.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return InvalidArgument("matchLabels." + k + " is not a string");
      match_labels[k] = v.get<std::string>();
    }
  }
  std::string out = LabelSelectorFromMap(match_labels);
  auto exprs = selector.find("matchExpressions");
  if (exprs == selector.end() || exprs->is_null()) return out;
  if (!exprs->is_array()) return InvalidArgument("matchExpressions is not a list");
  for (const auto& e : *exprs) {
    std::string key = StringAt(e, "key");
    std::string op = StringAt(e, "operator");
    if (key.empty()) return InvalidArgument("matchExpressions entry without key");
    std::string values;
    if (auto v = e.find("values"); v != e.end() && v->is_array()) {
      for (const auto& value : *v) {
        if (!value.is_string()) return InvalidArgument("matchExpressions value is not a string");
        if (!values.empty()) values += ',';
        values += value.get<std::string>();
      }
    }
    std::string term;
    if (op == "In") {
      term = key + " in (" + values + ")";
    } else if (op == "NotIn") {
      term = key + " notin (" + values + ")";
    } else if (op == "Exists") {
      term = key;
    } else if (op == "DoesNotExist") {
      term = "!" + key;
    } else {
      return InvalidArgument("unknown label selector operator \"" + op + "\"");
    }
    if (!out.empty()) out += ',';
    out += term;
  }
  return out;
}

nlohmann::json ControllerOwnerReference(const nlohmann::json& owner) {
  return {{"apiVersion", ApiVersionOf(owner)},
          {"kind", KindOf(owner)},
          {"name", NameOf(owner)},
          {"uid", UidOf(owner)},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

}  // namespace ruo::k8s
