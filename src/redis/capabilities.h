// What a Redis server of a given version can do: the one table of the Redis
// differences the engine depends on (docs/design/redis-versions.md gives the
// source reference for each column). The switch protocol picks its path from
// this; nothing else in the code compares version numbers.
#pragma once

#include <string>
#include <string_view>

#include "redis/version.h"

namespace ruo::redis {

struct Capabilities {
  Version version;
  // The release line whose rules apply: the newest checked line at or below
  // `version` (8.4 gets 8.2's rules until 8.4 is checked).
  Version line;
  // False when `version` is newer than every line this code was checked
  // against: accepted, with a warning that names the assumed line.
  bool checked = true;

  bool client_pause = false;  // CLIENT PAUSE ms (3.0+); blocks every command of normal clients
  bool client_pause_write = false;  // CLIENT PAUSE ms WRITE and CLIENT UNPAUSE (6.2+)
  bool client_kill_type = false;    // CLIENT KILL TYPE normal|pubsub (2.8.12+)
  // CLIENT runs on a replica whose link is down while replica-serve-stale-data
  // is no (CLIENT flagged ok-stale, 6.2+); before that it gets -MASTERDOWN.
  bool client_ok_stale = false;
  // min-replicas-to-write refuses EVAL scripts too (6.2.7+, 7.0+: redis PR
  // 10160); before that a script's writes pass the fence.
  bool fence_blocks_scripts = false;
  // MULTI/.../EXEC with CLIENT PAUSE inside runs atomically (3.0–6.0 path).
  bool atomic_multi_pause = false;
  // INFO offsets reset to 0 after SLAVEOF (2.8, 3.0): read them inside the sealing MULTI.
  bool offsets_reset_on_slaveof = false;
  // Bytes the seal transaction (MULTI / INFO / SLAVEOF / EXEC) adds to the old
  // master's offset before its INFO runs, which no replica receives: 15 (the
  // propagated "*1\r\n$5\r\nMULTI\r\n") on 3.2–6.0, where INFO is neither
  // read-only nor admin and so triggers MULTI propagation; 0 elsewhere.
  long long multi_offset_overhead = 0;
  // Config names: "replica-*"/"min-replicas-*" (5.0+) or "slave-*"/"min-slaves-*".
  bool replica_config_names = false;
  bool acl = false;     // ACL / two-argument AUTH (6.0+)
  bool psync2 = false;  // partial resync survives promotion (4.0+)
  int rdb_version = 0;  // RDB format version this line writes
};

// The rules for any version of 2.8 or later (see IsSupportedVersion).
Capabilities CapabilitiesFor(const Version& v);

// 2.8 or later, with at least MAJOR.MINOR: older servers lack the replication
// features the switch needs.
bool IsSupportedVersion(const Version& v);
// The oldest supported and the newest checked release lines ("2.8", "8.2").
Version OldestSupportedLine();
Version NewestCheckedLine();
// "2.8 or newer (checked against 2.8 to 8.2)", for messages.
std::string SupportedVersionsText();
// For a version newer than every checked line: the warning a user should see
// (names the version and the line whose rules are assumed); empty otherwise.
std::string UncheckedVersionWarning(const Version& v, std::string_view what);

// Config names that differ between versions.
// min-slaves-to-write | min-replicas-to-write
std::string MinReplicasToWriteName(const Capabilities& c);
// min-slaves-max-lag | min-replicas-max-lag
std::string MinReplicasMaxLagName(const Capabilities& c);
// Any config parameter renamed from "slave-*" to "replica-*" in 5.0, given by either
// name, spelled the way this version knows it; other names are returned unchanged.
std::string ConfigNameFor(const Capabilities& c, std::string_view name);

}  // namespace ruo::redis
