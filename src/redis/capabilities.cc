#include "redis/capabilities.h"

#include <array>
#include <cctype>
#include <string_view>

namespace ruo::redis {
namespace {

bool AtLeast(const Version& v, int major, int minor, int patch = 0) {
  Version floor;
  floor.major = major;
  floor.minor = minor;
  floor.patch = patch;
  return v >= floor;
}

// Config parameters renamed from "slave" to "replica" in 5.0 (the old names
// remain aliases there, but 2.8–4.0 know only the old ones).
constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kRenamedConfigs = {{
    {"min-slaves-to-write", "min-replicas-to-write"},
    {"min-slaves-max-lag", "min-replicas-max-lag"},
    {"slave-read-only", "replica-read-only"},
    {"slave-serve-stale-data", "replica-serve-stale-data"},
    {"slave-priority", "replica-priority"},
    {"slave-lazy-flush", "replica-lazy-flush"},
    {"slave-announce-ip", "replica-announce-ip"},
    {"slave-announce-port", "replica-announce-port"},
    {"slave-ignore-maxmemory", "replica-ignore-maxmemory"},
    {"repl-ping-slave-period", "repl-ping-replica-period"},
}};

}  // namespace

Capabilities CapabilitiesFor(const Version& v) {
  Capabilities c;
  c.version = v;
  c.client_pause = AtLeast(v, 3, 0);
  c.client_pause_write = AtLeast(v, 6, 2);
  c.client_kill_type = AtLeast(v, 2, 8, 12);
  c.fence_blocks_scripts = AtLeast(v, 6, 0);
  // A paused 3.0–6.0 master still runs the rest of the MULTI that paused it.
  c.atomic_multi_pause = c.client_pause && !c.client_pause_write;
  c.offsets_reset_on_slaveof = v.major == 2;
  c.multi_offset_overhead = ((v.major == 4 || v.major == 5) && v.minor == 0) ? 15 : 0;
  c.replica_config_names = AtLeast(v, 5, 0);
  c.acl = AtLeast(v, 6, 0);
  c.psync2 = AtLeast(v, 4, 0);
  return c;
}

std::string MinReplicasToWriteName(const Capabilities& c) {
  return c.replica_config_names ? "min-replicas-to-write" : "min-slaves-to-write";
}

std::string MinReplicasMaxLagName(const Capabilities& c) {
  return c.replica_config_names ? "min-replicas-max-lag" : "min-slaves-max-lag";
}

std::string ConfigNameFor(const Capabilities& c, std::string_view name) {
  // Redis matches config names case-insensitively.
  std::string lower(name);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const auto& [old_name, new_name] : kRenamedConfigs) {
    if (lower == old_name || lower == new_name) {
      return std::string(c.replica_config_names ? new_name : old_name);
    }
  }
  return std::string(name);
}

}  // namespace ruo::redis
