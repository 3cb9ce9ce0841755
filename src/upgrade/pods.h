// Pure helpers over Pod and Service JSON: readiness, ports, containers.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace ruo::upgrade {

struct ReadyPod {
  std::string name;
  std::string uid;
  std::string ip;
  nlohmann::json pod;
};

// Running, condition Ready=True, a podIP, and not being deleted.
bool IsPodReady(const nlohmann::json& pod);
// The ready pods among `pods`, sorted by name (a stable order for messages).
std::vector<ReadyPod> ReadyPods(const std::vector<nlohmann::json>& pods);

// The Service port clients use for Redis: the only one, else the one named
// "redis", else the one on 6379, else the first.
nlohmann::json RedisServicePort(const nlohmann::json& service);
// The container port the Service forwards to on `pod`: targetPort as a number,
// a named port looked up in the pod's containers, or the Service port itself.
// FailedPrecondition (reason "ServicePortUnresolved") when a name is unknown.
StatusOr<int> ResolveTargetPort(const nlohmann::json& service, const nlohmann::json& pod);
// The name of the Service's targetPort when it is a name, else "".
std::string TargetPortName(const nlohmann::json& service);

// The container serving `port` (the one declaring it, else the first).
nlohmann::json RedisContainer(const nlohmann::json& pod, int port);

// Why a pod is not ready yet, from its container statuses ("ErrImagePull: ...");
// "" when nothing specific is reported.
std::string PodWaitingReason(const nlohmann::json& pod);

std::map<std::string, std::string> StringMap(const nlohmann::json& j);

}  // namespace ruo::upgrade
