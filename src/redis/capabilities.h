// What a Redis server of a given version can do, as verified against real
// servers (design brief §4). The switch protocol picks its path from this.
#pragma once

#include <string>
#include <string_view>

#include "redis/version.h"

namespace ruo::redis {

struct Capabilities {
  Version version;
  bool client_pause = false;  // CLIENT PAUSE ms (3.0+); blocks every command of normal clients
  bool client_pause_write = false;  // CLIENT PAUSE ms WRITE and CLIENT UNPAUSE (6.2+)
  bool client_kill_type = false;    // CLIENT KILL TYPE normal (2.8.12+)
  // min-slaves-to-write refuses EVAL scripts too (6.0+); on 2.8–5.0 scripts still write.
  bool fence_blocks_scripts = false;
  // MULTI/.../EXEC with CLIENT PAUSE inside runs atomically (3.0–6.0 path).
  bool atomic_multi_pause = false;
  // INFO offsets reset to 0 after SLAVEOF (2.8): read them inside the sealing MULTI.
  bool offsets_reset_on_slaveof = false;
  // Bytes a MULTI adds to master_repl_offset that a replica never counts (4.0, 5.0: 15).
  long long multi_offset_overhead = 0;
  // Config names: "replica-*"/"min-replicas-*" (5.0+) or "slave-*"/"min-slaves-*".
  bool replica_config_names = false;
  // INFO replication says "replica" / "slave" in role lines (5.0+ still says role:slave).
  bool acl = false;     // ACL / two-argument AUTH (6.0+)
  bool psync2 = false;  // partial resync survives promotion (4.0+)
};

Capabilities CapabilitiesFor(const Version& v);

// Config names that differ between versions.
// min-slaves-to-write | min-replicas-to-write
std::string MinReplicasToWriteName(const Capabilities& c);
// min-slaves-max-lag | min-replicas-max-lag
std::string MinReplicasMaxLagName(const Capabilities& c);
// Any config parameter renamed from "slave-*" to "replica-*" in 5.0, given by either
// name, spelled the way this version knows it; other names are returned unchanged.
std::string ConfigNameFor(const Capabilities& c, std::string_view name);

}  // namespace ruo::redis
