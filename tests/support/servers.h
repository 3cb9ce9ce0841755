// The real Redis/Valkey servers hack/setup-servers.sh installs from registry
// packages (2.8.19, 6.2.x, 7.0.15, 8.2.3, Valkey 8.1.8), listed in
// <servers dir>/servers.tsv. A test that needs a version asks for it here; a
// missing one is an error naming the set-up command (tests fail, never skip).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "redis/version.h"
#include "support/redis_server.h"

namespace ruo::testing {

struct ServerBinary {
  std::string engine;  // "redis" | "valkey"
  redis::Version version;
  std::string path;
  std::string Name() const { return engine + " " + version.ToString(); }
};

// $RUO_SERVERS_DIR, else the directory CMake was configured with.
std::string ServersDir();
std::vector<ServerBinary> InstalledServers();
// The newest installed `engine` server that `version` matches ("2.8" → 2.8.19).
StatusOr<ServerBinary> FindServer(std::string_view engine, std::string_view version);

// Options to start `b` for a test: fast diskless full sync (7.0+ waits 5 s by
// default), and DEBUG allowed (7.0+ refuses it by default) where that exists.
RedisServerOptions TestServerOptions(const ServerBinary& b);

}  // namespace ruo::testing
