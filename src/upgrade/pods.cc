#include "upgrade/pods.h"

#include <algorithm>

#include "k8s/resource.h"

namespace ruo::upgrade {

using nlohmann::json;

namespace {

const json& Field(const json& obj, const char* key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string Str(const json& obj, const char* key) {
  const json& v = Field(obj, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

}  // namespace

std::map<std::string, std::string> StringMap(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

bool IsPodReady(const json& pod) {
  const json& md = Field(pod, "metadata");
  if (!Field(md, "deletionTimestamp").is_null()) return false;
  const json& st = Field(pod, "status");
  if (Str(st, "phase") != "Running" || Str(st, "podIP").empty()) return false;
  const json& conds = Field(st, "conditions");
  if (!conds.is_array()) return false;
  for (const auto& c : conds) {
    if (Str(c, "type") == "Ready") return Str(c, "status") == "True";
  }
  return false;
}

std::vector<ReadyPod> ReadyPods(const std::vector<json>& pods) {
  std::vector<ReadyPod> out;
  for (const auto& p : pods) {
    if (!IsPodReady(p)) continue;
    out.push_back({k8s::NameOf(p), k8s::UidOf(p), Str(Field(p, "status"), "podIP"), p});
  }
  std::sort(out.begin(), out.end(),
            [](const ReadyPod& a, const ReadyPod& b) { return a.name < b.name; });
  return out;
}

json RedisServicePort(const json& service) {
  const json& ports = Field(Field(service, "spec"), "ports");
  if (!ports.is_array() || ports.empty()) return json::object();
  if (ports.size() == 1) return ports[0];
  for (const auto& p : ports) {
    if (Str(p, "name") == "redis") return p;
  }
  for (const auto& p : ports) {
    if (Field(p, "port").is_number() && Field(p, "port").get<int>() == 6379) return p;
  }
  return ports[0];
}

std::string TargetPortName(const json& service) {
  const json port = RedisServicePort(service);
  const json& tp = Field(port, "targetPort");
  return tp.is_string() ? tp.get<std::string>() : std::string();
}

StatusOr<int> ResolveTargetPort(const json& service, const json& pod) {
  const json sp = RedisServicePort(service);
  const json& port = Field(sp, "port");
  const json& target = Field(sp, "targetPort");
  if (target.is_number_integer()) return target.get<int>();
  if (target.is_string()) {
    const std::string name = target.get<std::string>();
    // A numeric string is a number (the API keeps IntOrString as given).
    if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) {
      return std::stoi(name);
    }
    const json& containers = Field(Field(pod, "spec"), "containers");
    if (containers.is_array()) {
      for (const auto& c : containers) {
        const json& cports = Field(c, "ports");
        if (!cports.is_array()) continue;
        for (const auto& cp : cports) {
          if (Str(cp, "name") == name && Field(cp, "containerPort").is_number()) {
            return Field(cp, "containerPort").get<int>();
          }
        }
      }
    }
    return FailedPrecondition(
        "the Service's targetPort \"" + name + "\" names no port of pod " + k8s::NameOf(pod),
        "ServicePortUnresolved");
  }
  if (port.is_number_integer()) return port.get<int>();
  return 6379;
}

json RedisContainer(const json& pod, int port) {
  const json& containers = Field(Field(pod, "spec"), "containers");
  if (!containers.is_array() || containers.empty()) return json::object();
  for (const auto& c : containers) {
    const json& cports = Field(c, "ports");
    if (!cports.is_array()) continue;
    for (const auto& cp : cports) {
      if (Field(cp, "containerPort").is_number() && Field(cp, "containerPort").get<int>() == port) {
        return c;
      }
    }
  }
  return containers[0];
}

std::string PodWaitingReason(const json& pod) {
  const json& statuses = Field(Field(pod, "status"), "containerStatuses");
  if (!statuses.is_array()) return {};
  for (const auto& cs : statuses) {
    const json& waiting = Field(Field(cs, "state"), "waiting");
    if (waiting.is_object() && !Str(waiting, "reason").empty() &&
        Str(waiting, "reason") != "ContainerCreating") {
      std::string r = Str(waiting, "reason");
      if (!Str(waiting, "message").empty()) r += ": " + Str(waiting, "message");
      return r;
    }
  }
  return {};
}

}  // namespace ruo::upgrade
