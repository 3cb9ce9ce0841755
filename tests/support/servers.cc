#include "support/servers.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ruo::testing {

std::string ServersDir() {
  if (const char* env = std::getenv("RUO_SERVERS_DIR"); env != nullptr && *env != '\0') return env;
  return RUO_SERVERS_DIR_DEFAULT;
}

std::vector<ServerBinary> InstalledServers() {
  std::vector<ServerBinary> out;
  std::ifstream in(ServersDir() + "/servers.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string engine, version, path;
    if (!std::getline(fields, engine, '\t') || !std::getline(fields, version, '\t') ||
        !std::getline(fields, path)) {
      continue;
    }
    auto v = redis::Version::Parse(version);
    if (!v.ok()) continue;
    out.push_back(ServerBinary{engine, *v, path});
  }
  return out;
}

StatusOr<ServerBinary> FindServer(std::string_view engine, std::string_view version) {
  RUO_ASSIGN_OR_RETURN(redis::Version want, redis::Version::Parse(version));
  const std::vector<ServerBinary> installed = InstalledServers();
  const ServerBinary* best = nullptr;
  for (const ServerBinary& b : installed) {
    if (b.engine != engine || !want.MatchedBy(b.version)) continue;
    if (best == nullptr || best->version < b.version) best = &b;
  }
  if (best == nullptr) {
    return NotFound("no " + std::string(engine) + " " + std::string(version) +
                    " server is installed in " + ServersDir() +
                    " (servers.tsv); run ./hack/setup.sh to install the real servers");
  }
  return *best;
}

RedisServerOptions TestServerOptions(const ServerBinary& b) {
  RedisServerOptions o;
  o.binary = b.path;
  // repl-diskless-sync-delay exists since 2.8.18; enable-debug-command since 7.0.
  o.extra_args = {"--repl-diskless-sync-delay", "0"};
  redis::Version v70;
  v70.major = 7;
  if (b.engine == "valkey" || b.version >= v70) {
    o.extra_args.insert(o.extra_args.end(), {"--enable-debug-command", "yes"});
  }
  return o;
}

}  // namespace ruo::testing
