// Which RedisUpgrades ("namespace/name" keys) must be reconciled when a watched
// object changes. Pure functions: the caller passes the current RedisUpgrade
// and Service objects from its informer caches.
//
//   RedisUpgrade                    → itself
//   StatefulSet/Pod/Service labelled redisupgrade.dev/upgrade=<name> → ns/<name>
//   Service                         → upgrades in its namespace whose
//                                     spec.instance.service is its name
//   Pod without our label           → upgrades in its namespace whose
//                                     status.oldMasterPod is its name, or whose
//                                     instance Service's selector matches it
//
// The fan-out to upgrades that do not own the object skips those already
// Completed or Failed: nothing about the old instance changes their outcome,
// and a busy namespace would otherwise re-queue every finished upgrade on
// each pod update. Their own events still reach them (deletion, finalizer).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ruo::upgrade {

// Every function returns sorted, distinct keys.
std::vector<std::string> KeysForRedisUpgrade(const nlohmann::json& upgrade);
std::vector<std::string> KeysForStatefulSet(const nlohmann::json& sts);
// `upgrades`: the RedisUpgrades of the Service's namespace (others are ignored).
std::vector<std::string> KeysForService(const nlohmann::json& service,
                                        const std::vector<nlohmann::json>& upgrades);
// `upgrades`, `services`: those of the Pod's namespace (others are ignored).
std::vector<std::string> KeysForPod(const nlohmann::json& pod,
                                    const std::vector<nlohmann::json>& upgrades,
                                    const std::vector<nlohmann::json>& services);

// Whether a Service's spec.selector selects an object with `labels`. An empty
// or absent selector selects nothing (Kubernetes manages no endpoints for it).
bool SelectorMatches(const nlohmann::json& service,
                     const std::map<std::string, std::string>& labels);

}  // namespace ruo::upgrade
