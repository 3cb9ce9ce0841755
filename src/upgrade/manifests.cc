#include "upgrade/manifests.h"

#include <cctype>
#include <cstdint>
#include <cstdio>

namespace ruo::upgrade {

using nlohmann::json;

namespace {

constexpr const char* kNameLabel = "app.kubernetes.io/name";
constexpr const char* kInstanceLabel = "app.kubernetes.io/instance";
constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
constexpr const char* kManagedBy = "redis-upgrade-operator";

// FNV-1a: a stable short hash for name suffixes (not security relevant).
uint32_t Fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// Lower-case letters, digits and '-'; starts with a letter, ends with an alphanumeric.
std::string Dns1035(const std::string& in) {
  std::string out;
  for (char c : in) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out.push_back(static_cast<char>(std::tolower(u)));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0]))) out = "r-" + out;
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

bool AtLeast(const redis::Version& v, int major, int minor) {
  return v.major > major || (v.major == major && v.minor >= minor);
}

json SecretEnv(const std::string& name, const SecretKeyRef& ref) {
  return {{"name", name},
          {"valueFrom", {{"secretKeyRef", {{"name", ref.name}, {"key", ref.key}}}}}};
}

}  // namespace

std::string StatefulSetNameFor(const std::string& service, const redis::Version& target) {
  const std::string full =
      Dns1035(service + "-" + std::to_string(target.major) + "-" + std::to_string(target.minor));
  if (full.size() <= kMaxStatefulSetName) return full;
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "-%08x", Fnv1a(full));
  std::string head = full.substr(0, kMaxStatefulSetName - std::string(suffix).size());
  while (!head.empty() && head.back() == '-') head.pop_back();
  return head + suffix;
}

std::string HeadlessServiceNameFor(const std::string& statefulset) {
  return statefulset + kHeadlessSuffix;
}

std::string PodNameFor(const std::string& statefulset, int ordinal) {
  return statefulset + "-" + std::to_string(ordinal);
}

bool SelectorSelects(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels) {
  if (selector.empty()) return false;
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

std::map<std::string, std::string> NewInstanceSelector(const NewInstanceParams& p) {
  // Only the label that is never dropped below: the selector must match the template.
  return {{kOwnerLabel, p.upgrade}};
}

std::map<std::string, std::string> NewInstanceLabels(const NewInstanceParams& p) {
  std::map<std::string, std::string> labels = {
      {kNameLabel, "redis"},
      {kInstanceLabel, p.service},
      {kManagedByLabel, kManagedBy},
      {kOwnerLabel, p.upgrade},
  };
  // The original selector must not pick the new pods before the switch: drop
  // the conventional labels it relies on (ours alone still identify them).
  for (const char* key : {kInstanceLabel, kNameLabel, kManagedByLabel}) {
    if (!SelectorSelects(p.original_selector, labels)) break;
    if (p.original_selector.count(key)) labels.erase(key);
  }
  return labels;
}

std::vector<std::string> RedisArgs(const NewInstanceParams& p) {
  // No --bind: in a pod Redis listens on every address of its own network
  // namespace (the local cluster's node agent adds the pod IP itself).
  std::vector<std::string> args = {"--port", std::to_string(p.port)};
  // Clients come from other pods, not loopback (3.2+ knows protected-mode).
  if (AtLeast(p.target, 3, 2)) {
    args.insert(args.end(), {"--protected-mode", "no"});
  }
  args.insert(args.end(), p.carried.begin(), p.carried.end());
  if (p.auth) {
    // Kubernetes expands $(REDIS_PASSWORD) from the env: the pod spec never holds it.
    args.insert(args.end(),
                {"--requirepass", "$(REDIS_PASSWORD)", "--masterauth", "$(REDIS_PASSWORD)"});
  }
  return args;
}

json BuildHeadlessService(const NewInstanceParams& p) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata",
       {{"name", HeadlessServiceNameFor(p.statefulset)},
        {"namespace", p.ns},
        {"labels", NewInstanceLabels(p)}}},
      {"spec",
       {{"clusterIP", "None"},
        {"publishNotReadyAddresses", true},
        {"selector", NewInstanceSelector(p)},
        {"ports",
         json::array({{{"name", p.port_name}, {"port", p.port}, {"targetPort", p.port}}})}}},
  };
}

json BuildReadService(const NewInstanceParams& p, const std::string& name) {
  const int port = p.service_port > 0 ? p.service_port : p.port;
  return {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", {{"name", name}, {"namespace", p.ns}, {"labels", NewInstanceLabels(p)}}},
      {"spec",
       {{"type", "ClusterIP"},
        {"selector", NewInstanceSelector(p)},
        {"ports", json::array({{{"name", p.port_name},
                                {"port", port},
                                {"targetPort", p.port},
                                {"protocol", "TCP"}}})}}},
  };
}

json BuildStatefulSet(const NewInstanceParams& p) {
  const std::string ping = "redis-cli -p " + std::to_string(p.port) +
                           (p.auth && !AtLeast(p.target, 5, 0) ? " -a \"$REDIS_PASSWORD\"" : "") +
                           " ping 2>/dev/null | grep -q PONG";
  json container = {
      {"name", "redis"},
      {"image", p.image},
      {"args", RedisArgs(p)},
      {"ports",
       json::array({{{"name", p.port_name}, {"containerPort", p.port}, {"protocol", "TCP"}}})},
      {"readinessProbe",
       {{"exec", {{"command", json::array({"sh", "-c", ping})}}},
        {"periodSeconds", 2},
        {"timeoutSeconds", 2},
        {"failureThreshold", 3}}},
  };
  if (p.auth) {
    json env = json::array({SecretEnv("REDIS_PASSWORD", *p.auth)});
    // redis-cli (5.0+) reads the password from here, so it is not on a command line.
    if (AtLeast(p.target, 5, 0)) env.push_back(SecretEnv("REDISCLI_AUTH", *p.auth));
    container["env"] = env;
  }
  if (p.resources.is_object() && !p.resources.empty()) container["resources"] = p.resources;

  const auto labels = NewInstanceLabels(p);
  return {
      {"apiVersion", "apps/v1"},
      {"kind", "StatefulSet"},
      {"metadata", {{"name", p.statefulset}, {"namespace", p.ns}, {"labels", labels}}},
      {"spec",
       {{"replicas", p.replicas},
        {"serviceName", HeadlessServiceNameFor(p.statefulset)},
        {"podManagementPolicy", "Parallel"},
        {"selector", {{"matchLabels", NewInstanceSelector(p)}}},
        {"template",
         {{"metadata", {{"labels", labels}}},
          {"spec", {{"containers", json::array({container})}}}}}}},
  };
}

}  // namespace ruo::upgrade
