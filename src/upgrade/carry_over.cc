#include "upgrade/carry_over.h"

#include <sstream>

#include "redis/capabilities.h"

namespace ruo::upgrade {

const std::vector<CarriedSetting>& CarriedSettings() {
  // Memory, persistence and client-facing behaviour users tune and expect to
  // keep. Not carried: anything about files and paths, replication roles,
  // passwords (given through the Secret), and the buffer limits the operator
  // raises on the old master for the sync.
  static const std::vector<CarriedSetting> table = {
      {"maxmemory", 2, 8},
      {"maxmemory-policy", 2, 8},
      {"maxmemory-samples", 2, 8},
      {"appendonly", 2, 8},
      {"appendfsync", 2, 8},
      {"save", 2, 8},
      {"timeout", 2, 8},
      {"tcp-keepalive", 2, 8},
      {"databases", 2, 8},
      {"notify-keyspace-events", 2, 8},
      {"hz", 2, 8},
      {"maxclients", 2, 8},
      {"slowlog-log-slower-than", 2, 8},
      {"slowlog-max-len", 2, 8},
      {"activerehashing", 2, 8},
      {"hash-max-ziplist-entries", 2, 8},
      {"hash-max-ziplist-value", 2, 8},
      {"zset-max-ziplist-entries", 2, 8},
      {"zset-max-ziplist-value", 2, 8},
      {"set-max-intset-entries", 2, 8},
      {"replica-serve-stale-data", 2, 8},
      {"lazyfree-lazy-eviction", 4, 0},
      {"lazyfree-lazy-expire", 4, 0},
      {"lazyfree-lazy-server-del", 4, 0},
  };
  return table;
}

StatusOr<std::map<std::string, std::string>> ReadCarriedConfig(redis::Admin& source) {
  std::map<std::string, std::string> out;
  for (const auto& s : CarriedSettings()) {
    auto value = source.ConfigGet(s.name);
    if (value.ok()) {
      out[s.name] = *value;
      continue;
    }
    if (value.status().code() == StatusCode::kNotFound) continue;  // unknown to this version
    return value.status();
  }
  return out;
}

std::vector<std::string> CarryOverArgs(const std::map<std::string, std::string>& config,
                                       const redis::Version& target) {
  const redis::Capabilities caps = redis::CapabilitiesFor(target);
  std::vector<std::string> args;
  for (const auto& s : CarriedSettings()) {
    auto it = config.find(s.name);
    if (it == config.end()) continue;
    if (target.major < s.since_major ||
        (target.major == s.since_major && target.minor < s.since_minor)) {
      continue;
    }
    args.push_back("--" + redis::ConfigNameFor(caps, s.name));
    if (std::string(s.name) == "save" && !it->second.empty()) {
      std::istringstream in(it->second);
      for (std::string word; in >> word;) args.push_back(word);
    } else {
      args.push_back(it->second);
    }
  }
  return args;
}

}  // namespace ruo::upgrade
