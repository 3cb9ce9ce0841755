#include "upgrade/watch_mapping.h"

#include <map>
#include <set>

#include "upgrade/types.h"

namespace ruo::upgrade {
namespace {

using nlohmann::json;

const json& Child(const json& obj, const char* key) {
  static const json kEmpty = json::object();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

std::string StringAt(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string InstanceService(const json& upgrade) {
  return StringAt(Child(Child(upgrade, "spec"), "instance"), "service");
}

std::string OldMasterPod(const json& upgrade) {
  return StringAt(Child(upgrade, "status"), "oldMasterPod");
}

bool Finished(const json& upgrade) {
  auto phase = ParsePhase(StringAt(Child(upgrade, "status"), "phase"));
  return phase.ok() && IsTerminal(*phase);
}

// Local accessors rather than k8s/resource.h: the mapping needs nothing else
// of the Kubernetes client, and ruo_upgrade's own tests need not link it.
std::string NameOf(const json& obj) {
  return StringAt(Child(obj, "metadata"), "name");
}
std::string NamespaceOf(const json& obj) {
  return StringAt(Child(obj, "metadata"), "namespace");
}
std::map<std::string, std::string> LabelsOf(const json& obj) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : Child(Child(obj, "metadata"), "labels").items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

std::string Key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

// The owner named by our label, if any.
void AddOwner(const json& obj, std::set<std::string>& keys) {
  auto labels = LabelsOf(obj);
  auto it = labels.find(kOwnerLabel);
  if (it != labels.end() && !it->second.empty()) keys.insert(Key(NamespaceOf(obj), it->second));
}

std::vector<std::string> Sorted(const std::set<std::string>& keys) {
  return {keys.begin(), keys.end()};
}

}  // namespace

bool SelectorMatches(const json& service, const std::map<std::string, std::string>& labels) {
  const json& selector = Child(Child(service, "spec"), "selector");
  if (selector.empty()) return false;
  for (const auto& [k, v] : selector.items()) {
    auto it = labels.find(k);
    if (it == labels.end() || !v.is_string() || it->second != v.get<std::string>()) return false;
  }
  return true;
}

std::vector<std::string> KeysForRedisUpgrade(const json& upgrade) {
  std::string name = NameOf(upgrade);
  if (name.empty()) return {};
  return {Key(NamespaceOf(upgrade), name)};
}

std::vector<std::string> KeysForStatefulSet(const json& sts) {
  std::set<std::string> keys;
  AddOwner(sts, keys);
  return Sorted(keys);
}

std::vector<std::string> KeysForService(const json& service, const std::vector<json>& upgrades) {
  std::set<std::string> keys;
  AddOwner(service, keys);
  const std::string ns = NamespaceOf(service);
  const std::string name = NameOf(service);
  for (const auto& u : upgrades) {
    if (NamespaceOf(u) != ns || Finished(u)) continue;
    if (InstanceService(u) == name) keys.insert(Key(ns, NameOf(u)));
  }
  return Sorted(keys);
}

std::vector<std::string> KeysForPod(const json& pod, const std::vector<json>& upgrades,
                                    const std::vector<json>& services) {
  std::set<std::string> keys;
  auto labels = LabelsOf(pod);
  if (labels.count(kOwnerLabel)) {
    AddOwner(pod, keys);
    return Sorted(keys);
  }
  const std::string ns = NamespaceOf(pod);
  const std::string name = NameOf(pod);
  // Services of the namespace whose selector picks this pod, by name.
  std::set<std::string> selecting;
  for (const auto& s : services) {
    if (NamespaceOf(s) == ns && SelectorMatches(s, labels)) selecting.insert(NameOf(s));
  }
  for (const auto& u : upgrades) {
    if (NamespaceOf(u) != ns || Finished(u)) continue;
    if (OldMasterPod(u) == name || selecting.count(InstanceService(u))) {
      keys.insert(Key(ns, NameOf(u)));
    }
  }
  return Sorted(keys);
}

}  // namespace ruo::upgrade
