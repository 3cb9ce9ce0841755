#include "upgrade/k8s_checks.h"

#include <set>

#include "k8s/config.h"
#include "k8s/resource.h"
#include "redis/capabilities.h"
#include "redis/version.h"
#include "upgrade/switch_window.h"

namespace ruo::upgrade {

using nlohmann::json;

namespace {

engine::Refusal Refuse(std::string reason, std::string message) {
  return engine::Refusal{std::move(reason), std::move(message)};
}

std::string CreatedAt(const json& obj) {
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return {};
  return md->value("creationTimestamp", "");
}

}  // namespace

std::optional<engine::Refusal> CheckTargetVersionSpec(const RedisUpgradeSpec& spec) {
  auto v = redis::Version::Parse(spec.target_version);
  if (!v.ok() || !v->has_minor) {
    return Refuse("InvalidTargetVersion", "targetVersion \"" + spec.target_version +
                                              "\" is not a version of the form MAJOR.MINOR or "
                                              "MAJOR.MINOR.PATCH");
  }
  if (!redis::IsSupportedVersion(*v)) {
    return Refuse("InvalidTargetVersion", "targetVersion " + v->ToString() +
                                              " is not supported; this operator supports Redis " +
                                              redis::SupportedVersionsText());
  }
  return std::nullopt;
}

std::optional<engine::Refusal> CheckUpgradeName(const std::string& name) {
  constexpr size_t kMaxLabelValue = 63;
  if (name.size() <= kMaxLabelValue) return std::nullopt;
  return Refuse("NameTooLong", "the RedisUpgrade's name has " + std::to_string(name.size()) +
                                   " characters; at most 63 fit the label redisupgrade.dev/upgrade "
                                   "that marks the objects it creates");
}

std::optional<engine::Refusal> CheckWindowSpec(const RedisUpgradeSpec& spec) {
  if (spec.mode != "MaintenanceWindow") return std::nullopt;
  if (!spec.window) {
    return Refuse("InvalidMaintenanceWindow",
                  "switchover.mode is MaintenanceWindow but no maintenanceWindow is given");
  }
  auto w =
      ParseMaintenanceWindow(spec.window->start, spec.window->duration, spec.window->time_zone);
  if (!w.ok()) {
    const std::string reason =
        w.status().reason().empty() ? "InvalidMaintenanceWindow" : w.status().reason();
    return Refuse(reason, w.status().message());
  }
  return std::nullopt;
}

std::optional<engine::Refusal> CheckServiceSelector(const json& service) {
  const json spec = service.value("spec", json::object());
  if (spec.value("type", "") == "ExternalName") {
    return Refuse("ServiceHasNoSelector", "Service " + k8s::NameOf(service) +
                                              " is of type ExternalName: it selects no pods");
  }
  const auto selector = StringMap(spec.value("selector", json::object()));
  if (selector.empty()) {
    return Refuse("ServiceHasNoSelector",
                  "Service " + k8s::NameOf(service) +
                      " has no selector: the operator moves the instance by changing it");
  }
  return std::nullopt;
}

std::optional<engine::Refusal> CheckHasReadyPods(const std::string& service,
                                                 const std::vector<ReadyPod>& ready) {
  if (!ready.empty()) return std::nullopt;
  return Refuse("NoReadyMaster", "no ready pod is behind the selector of Service " + service + "");
}

std::optional<engine::Refusal> CheckSingleMaster(const std::string& service,
                                                 const std::vector<PodRole>& roles) {
  std::vector<std::string> masters;
  bool all_answered = true;
  for (const auto& r : roles) {
    if (r.role == "master") masters.push_back(r.pod);
    if (r.role.empty()) all_answered = false;
  }
  if (masters.size() > 1) {
    std::string names;
    for (const auto& m : masters) names += (names.empty() ? "" : ", ") + m;
    return Refuse("MultipleMasters", "more than one ready pod behind Service " + service +
                                         " answers role:master (" + names +
                                         "); the operator upgrades one master");
  }
  if (masters.empty() && all_answered && !roles.empty()) {
    return Refuse("NotAMaster", "Service " + service +
                                    " selects no master: every ready pod behind it answers "
                                    "role:slave; point it at the master");
  }
  return std::nullopt;
}

std::optional<NewPodProblem> CheckNewPodStarts(const json& pod) {
  // Kubelet waiting reasons: the image cannot be had (retried with back-off
  // unless the name itself is invalid), or the container cannot run.
  static const std::set<std::string> kPullRetried = {
      "ErrImagePull", "ImagePullBackOff", "RegistryUnavailable", "SignatureValidationFailed"};
  static const std::set<std::string> kPullPermanent = {"InvalidImageName", "ErrImageNeverPull"};
  static const std::set<std::string> kRunRetried = {"CrashLoopBackOff", "RunContainerError",
                                                    "CreateContainerError",
                                                    "CreateContainerConfigError"};
  const json status = pod.value("status", json::object());
  const std::string name = k8s::NameOf(pod);
  if (status.value("phase", "") == "Failed") {
    return NewPodProblem{Refuse("NewPodFailing", "new pod " + name + " failed (" +
                                                     status.value("reason", "phase Failed") + ")"),
                         true};
  }
  const json statuses = status.value("containerStatuses", json::array());
  if (!statuses.is_array()) return std::nullopt;
  for (const auto& cs : statuses) {
    if (!cs.is_object()) continue;
    const json state = cs.value("state", json::object());
    const json waiting = state.is_object() ? state.value("waiting", json()) : json();
    if (!waiting.is_object()) continue;
    const std::string reason = waiting.value("reason", "");
    std::string detail = "new pod " + name + " container " + cs.value("name", "") + ": " + reason;
    if (const std::string m = waiting.value("message", ""); !m.empty()) detail += ": " + m;
    const std::string image = cs.value("image", "");
    if (kPullRetried.count(reason) || kPullPermanent.count(reason)) {
      return NewPodProblem{
          Refuse("ImagePullFailed",
                 detail + (image.empty() ? "" : " (image " + image + ")") +
                     "; set spec.image to an image of the target version the nodes can pull"),
          kPullPermanent.count(reason) > 0};
    }
    if (kRunRetried.count(reason)) return NewPodProblem{Refuse("NewPodFailing", detail), false};
  }
  return std::nullopt;
}

UpgradeConflict CheckNoOlderUpgrade(const json& self, const std::vector<json>& upgrades) {
  UpgradeConflict out;
  auto me = RedisUpgradeFromJson(self);
  if (!me.ok()) return out;
  const std::string my_created = CreatedAt(self);
  for (const auto& other_json : upgrades) {
    auto other = RedisUpgradeFromJson(other_json);
    if (!other.ok() || other->name == me->name || other->ns != me->ns) continue;
    if (other->spec.service != me->spec.service || IsTerminal(other->status.phase)) continue;
    const std::string created = CreatedAt(other_json);
    // RFC 3339 in UTC with second precision sorts as text.
    const bool older = created < my_created || (created == my_created && other->name < me->name);
    if (!older) continue;
    if (other->being_deleted) {
      out.wait = true;
      continue;
    }
    out.refusal = Refuse("UpgradeInProgress", "RedisUpgrade " + other->name + " (phase " +
                                                  std::string(PhaseName(other->status.phase)) +
                                                  ") already upgrades Service " + me->spec.service +
                                                  "; one upgrade at a time");
    return out;
  }
  return out;
}

StatusOr<std::string> SecretValue(const json& secret, const std::string& key) {
  const json data = secret.value("data", json::object());
  auto it = data.find(key);
  if (it == data.end() || !it->is_string()) {
    return FailedPrecondition("Secret " + k8s::NameOf(secret) + " has no key \"" + key + "\"",
                              "SecretKeyNotFound");
  }
  auto value = k8s::Base64Decode(it->get<std::string>());
  if (!value.ok() || value->empty()) {
    return FailedPrecondition(
        "Secret " + k8s::NameOf(secret) + " key \"" + key + "\" holds no usable password",
        "SecretKeyNotFound");
  }
  return std::move(value).value();
}

}  // namespace ruo::upgrade
