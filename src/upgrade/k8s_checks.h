// Kubernetes-level pre-checks (docs/troubleshooting.md lists each reason) as small pure policies
// over the objects read from the API server. Each returns nothing (pass) or a Refusal with its
// reason; the Redis-level checks are engine::RunPrechecks.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/precheck.h"
#include "upgrade/pods.h"
#include "upgrade/types.h"

namespace ruo::upgrade {

// InvalidTargetVersion: not "MAJOR.MINOR[.PATCH]" or not a known release line.
std::optional<engine::Refusal> CheckTargetVersionSpec(const RedisUpgradeSpec& spec);
// NameTooLong: the RedisUpgrade's name is the value of the label that marks
// what it creates (redisupgrade.dev/upgrade), so it must fit a label value
// (63 characters). The CRD refuses longer names too; this covers a CRD
// installed without that rule.
std::optional<engine::Refusal> CheckUpgradeName(const std::string& name);
// InvalidMaintenanceWindow | UnknownTimeZone (MaintenanceWindow mode only).
std::optional<engine::Refusal> CheckWindowSpec(const RedisUpgradeSpec& spec);
// ServiceHasNoSelector: nothing to tell the master by (or an ExternalName Service).
std::optional<engine::Refusal> CheckServiceSelector(const nlohmann::json& service);
// NoReadyMaster: no ready pod behind the selector.
std::optional<engine::Refusal> CheckHasReadyPods(const std::string& service,
                                                 const std::vector<ReadyPod>& ready);

// What one ready pod answered to INFO replication.
struct PodRole {
  std::string pod;
  std::string role;  // "master" | "slave"; "" when it did not answer
};
// MultipleMasters when more than one pod answers role:master; NotAMaster
// when every pod answered and none is a master (the Service selects replicas).
std::optional<engine::Refusal> CheckSingleMaster(const std::string& service,
                                                 const std::vector<PodRole>& roles);

// A new pod that cannot start: its image cannot be pulled or run
// (ImagePullFailed), or its container keeps failing (NewPodFailing).
struct NewPodProblem {
  engine::Refusal refusal;
  // Nothing will change without a new spec (e.g. InvalidImageName): refuse at
  // once. Otherwise the kubelet retries; refuse when it lasts past a grace period.
  bool permanent = false;
};
std::optional<NewPodProblem> CheckNewPodStarts(const nlohmann::json& pod);

// UpgradeInProgress: another RedisUpgrade in the namespace, not terminal,
// targets the same Service and is older (creationTimestamp, then name).
struct UpgradeConflict {
  std::optional<engine::Refusal> refusal;
  // The older upgrade is being deleted: wait for it rather than refuse.
  bool wait = false;
};
UpgradeConflict CheckNoOlderUpgrade(const nlohmann::json& self,
                                    const std::vector<nlohmann::json>& upgrades);

// The password in a Secret's data (base64) under `key`. FailedPrecondition with
// reason SecretKeyNotFound when absent or empty.
StatusOr<std::string> SecretValue(const nlohmann::json& secret, const std::string& key);

}  // namespace ruo::upgrade
