#include "redis/capabilities.h"

#include <array>
#include <cctype>
#include <string_view>

namespace ruo::redis {
namespace {

// One row per release line checked against the Redis sources and, where a
// binary exists here, a real server (2.8.19, 6.2.7/6.2.11/6.2.14, 7.0.15,
// 8.2.3). A version takes the newest row at or below it.
struct LineRules {
  int major;
  int minor;
  bool client_pause;
  bool client_pause_write;
  long long multi_offset_overhead;
  bool replica_config_names;
  bool acl;
  bool psync2;
  int rdb_version;
  // First patch release of this line whose min-replicas fence refuses scripts
  // (redis PR 10160: 6.2.7, 7.0.0); -1: none of this line's releases do. A
  // 6.0 backport (6.0.17?) is not confirmed in the sources: assumed absent,
  // the safe side.
  int script_fence_patch;
  // INFO's offsets restart at 0 once the server is a replica (2.8, 3.0).
  bool offsets_reset_on_slaveof;
  // CLIENT is flagged ok-stale: a sealed replica (serve-stale-data no) runs it.
  // Real 2.8.19 answers -MASTERDOWN, real 6.2.14/7.0.15/8.2.3 run it; 3.0-6.0
  // flag it without ok-stale in the sources (assumed refused, the safe side:
  // the switch then lifts the setting around its CLIENT KILL).
  bool client_ok_stale;
};

// clang-format off
constexpr std::array<LineRules, 12> kLines = {{
  //  line    pause  pauseW ovh  replN  acl    psync2 rdb  scriptFence reset  okStale
    {2, 8,    false, false,  0, false, false, false,  6,  -1,         true,  false},
    {3, 0,    true,  false,  0, false, false, false,  6,  -1,         true,  false},
    {3, 2,    true,  false, 15, false, false, false,  7,  -1,         false, false},
    {4, 0,    true,  false, 15, false, false, true,   8,  -1,         false, false},
    {5, 0,    true,  false, 15, true,  false, true,   9,  -1,         false, false},
    {6, 0,    true,  false, 15, true,  true,  true,   9,  -1,         false, false},
    {6, 2,    true,  true,   0, true,  true,  true,   9,   7,         false, true},
    {7, 0,    true,  true,   0, true,  true,  true,  10,   0,         false, true},
    {7, 2,    true,  true,   0, true,  true,  true,  11,   0,         false, true},
    {7, 4,    true,  true,   0, true,  true,  true,  12,   0,         false, true},
    {8, 0,    true,  true,   0, true,  true,  true,  12,   0,         false, true},
    {8, 2,    true,  true,   0, true,  true,  true,  12,   0,         false, true},
}};
// clang-format on

// CLIENT KILL TYPE arrived in a patch release of 2.8.
constexpr int kClientKillTypePatch = 12;

Version LineVersion(const LineRules& r) {
  Version v;
  v.major = r.major;
  v.minor = r.minor;
  v.has_patch = false;
  return v;
}

bool AtLeastLine(const Version& v, const LineRules& r) {
  const int minor = v.has_minor ? v.minor : 0;
  return v.major > r.major || (v.major == r.major && minor >= r.minor);
}

// The newest row at or below v; the oldest row for versions below every row.
const LineRules& RulesFor(const Version& v) {
  const LineRules* best = &kLines.front();
  for (const LineRules& r : kLines) {
    if (AtLeastLine(v, r)) best = &r;
  }
  return *best;
}

bool SameLineAs(const Version& v, const LineRules& r) {
  return v.major == r.major && (v.has_minor ? v.minor : 0) == r.minor;
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
  const LineRules& r = RulesFor(v);
  const bool same_line = SameLineAs(v, r);
  const int patch = v.has_patch ? v.patch : 0;
  Capabilities c;
  c.version = v;
  c.line = LineVersion(r);
  c.checked = same_line || v < LineVersion(kLines.back());
  c.client_pause = r.client_pause;
  c.client_pause_write = r.client_pause_write;
  // 2.8.0–2.8.11 lack it; every later line has it.
  c.client_kill_type = !SameLineAs(v, kLines.front()) || patch >= kClientKillTypePatch;
  // A later line of the same row (8.4 under 8.2's rules) has every patch of it.
  c.fence_blocks_scripts =
      r.script_fence_patch >= 0 && (!same_line || patch >= r.script_fence_patch);
  // A paused 3.0–6.0 master still runs the rest of the MULTI that paused it.
  c.atomic_multi_pause = c.client_pause && !c.client_pause_write;
  c.offsets_reset_on_slaveof = r.offsets_reset_on_slaveof;
  c.client_ok_stale = r.client_ok_stale;
  c.multi_offset_overhead = r.multi_offset_overhead;
  c.replica_config_names = r.replica_config_names;
  c.acl = r.acl;
  c.psync2 = r.psync2;
  c.rdb_version = r.rdb_version;
  return c;
}

bool IsSupportedVersion(const Version& v) {
  return v.has_minor && AtLeastLine(v, kLines.front());
}

Version OldestSupportedLine() {
  return LineVersion(kLines.front());
}

Version NewestCheckedLine() {
  return LineVersion(kLines.back());
}

std::string SupportedVersionsText() {
  return OldestSupportedLine().ToString() + " or newer (checked against " +
         OldestSupportedLine().ToString() + " to " + NewestCheckedLine().ToString() + ")";
}

std::string UncheckedVersionWarning(const Version& v, std::string_view what) {
  const Capabilities c = CapabilitiesFor(v);
  if (c.checked || !IsSupportedVersion(v)) return {};
  return std::string(what) + " " + v.ToString() +
         " is newer than every release line this operator was checked against (the newest is " +
         NewestCheckedLine().ToString() + "); the rules of " + c.line.ToString() + " are assumed";
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
