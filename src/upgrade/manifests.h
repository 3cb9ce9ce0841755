// The new instance's objects: a StatefulSet <sts> and a headless Service
// <sts>-hl, where <sts> = <service>-<major>-<minor> (e.g. orders-redis-7-0).
// Pure builders, so names, labels and arguments are unit-tested.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "redis/version.h"
#include "upgrade/types.h"

namespace ruo::upgrade {

// StatefulSet names stay ≤ 52 characters so pod names (<sts>-<ordinal>) and
// the controller-revision-hash label stay ≤ 63.
inline constexpr size_t kMaxStatefulSetName = 52;
inline constexpr const char* kHeadlessSuffix = "-hl";

// "<service>-<major>-<minor>", a DNS-1035 label; too long → cut, with a short
// hash of the full name appended so distinct services keep distinct names.
std::string StatefulSetNameFor(const std::string& service, const redis::Version& target);
std::string HeadlessServiceNameFor(const std::string& statefulset);
// Pod <sts>-<ordinal>.
std::string PodNameFor(const std::string& statefulset, int ordinal);

struct NewInstanceParams {
  std::string ns;
  std::string upgrade;  // RedisUpgrade name
  std::string service;  // the instance's Service
  std::string statefulset;
  std::string image;
  int replicas = 1;                  // pods in total (new master + new replicas)
  int port = 6379;                   // the old master's port; the Service's targetPort
  int service_port = 0;              // the user's Service port; 0 = `port`
  std::string port_name = "redis";   // named targetPort of the Service, if any
  std::vector<std::string> carried;  // CarryOverArgs
  std::optional<SecretKeyRef> auth;  // password Secret
  nlohmann::json resources;          // copied from the old master container; null = none
  redis::Version target;             // for version-dependent arguments
  // The Service's current selector: the new pods must not match it, or they
  // would receive traffic before the switch.
  std::map<std::string, std::string> original_selector;
};

// Labels on the StatefulSet, the headless Service and the pods.
std::map<std::string, std::string> NewInstanceLabels(const NewInstanceParams& p);
// The StatefulSet's selector (a subset of the labels that identifies this upgrade).
std::map<std::string, std::string> NewInstanceSelector(const NewInstanceParams& p);
// redis-server arguments of the new pods.
std::vector<std::string> RedisArgs(const NewInstanceParams& p);

nlohmann::json BuildHeadlessService(const NewInstanceParams& p);
nlohmann::json BuildStatefulSet(const NewInstanceParams& p);
// spec.readService: a ClusterIP Service `name` over every new pod (master and
// replicas), on the user's Service port.
nlohmann::json BuildReadService(const NewInstanceParams& p, const std::string& name);

// True when `labels` carry every key=value of `selector` (an empty selector
// matches nothing here: a Service without one selects no pods).
bool SelectorSelects(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels);

}  // namespace ruo::upgrade
