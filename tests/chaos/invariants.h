// The checks every chaos scenario ends with (issue 6 §1): the upgrade reached
// the expected terminal phase with its reason named in status; no acknowledged
// write lost; no master left blocked or read-only without a completed switch;
// exactly the StatefulSets the design allows; the Service where it belongs.
// Prints one line per scenario with the figures.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2e/e2e_env.h"

namespace ruo::e2e::chaos {

struct Expectation {
  std::string phase = "Completed";  // or "Failed"
  // Failed: status.reason and the reason of a status condition. Completed: a
  // retry reason that must be named in status (conditions or switch.lastError)
  // or in a Warning Event; empty: none expected.
  std::string reason;
  std::optional<int> attempts;  // status.switch.attempts
  // The source itself lost its data (pod replaced / restarted empty): the
  // probe's writes died with it, so `lost` is reported but not asserted.
  bool source_data_lost = false;
};

struct Observation {
  std::string scenario;
  std::string upgrade_name;
  nlohmann::json upgrade;  // the RedisUpgrade at the end
  nlohmann::json probe;    // the probe's report (verified through the VIP)
  std::string old_pod = "orders-redis-0";
  std::string old_addr;  // the old master's address at the start
  // The old master's settings before the upgrade (UpgradeE2ETest::OldConfig).
  std::map<std::string, std::string> old_config;
  int seeded = 0;  // keys loaded before the upgrade
};

// "podIP:6379" of a pod, or "" when it has no IP (or does not exist).
std::string PodAddr(Cluster& cluster, const std::string& ns, const std::string& pod);

// Settings the upgrade changes on the old master (as UpgradeE2ETest::OldConfig).
std::map<std::string, std::string> WriteBlockConfig(const std::string& addr);

// Runs every check with gtest EXPECTs and prints the scenario's line.
void ExpectInvariants(Cluster& cluster, const std::string& ns, const Expectation& want,
                      const Observation& got);

}  // namespace ruo::e2e::chaos
