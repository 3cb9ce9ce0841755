// A real redis-server process for tests: started on a free loopback port in its
// own temp dir, stopped (and the dir removed) when the object goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "redis/connection.h"

namespace ruo::testing {

struct RedisServerOptions {
  std::optional<std::string> password;  // requirepass (and masterauth)
  std::vector<std::string> extra_args;  // e.g. {"--cluster-enabled", "yes"}
  std::string binary;                   // default: $RUO_REDIS_SERVER or redis-server on PATH
  std::string bind = "127.0.0.1";
  // Highest port to use: cluster mode needs port + 10000 to be a valid port too.
  int max_port = 65535;
};

class RedisServer {
 public:
  // Starts the server and waits until it answers PING (or fails the test via
  // the returned Status).
  static StatusOr<std::unique_ptr<RedisServer>> Start(const RedisServerOptions& opts = {});
  ~RedisServer();  // Stop()

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  const redis::Endpoint& endpoint() const { return endpoint_; }
  int port() const { return endpoint_.port; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  bool running() const;

  void Stop();  // SIGTERM, wait; SIGKILL after 5 s
  void Kill();  // SIGKILL now (a crash)

  // Convenience for tests: runs one command on a fresh connection (with the password).
  StatusOr<redis::Reply> Command(const std::vector<std::string>& argv) const;

 private:
  RedisServer() = default;
  redis::Endpoint endpoint_;
  pid_t pid_ = -1;
  std::string dir_;
  std::optional<std::string> password_;
};

// A free TCP port on 127.0.0.1 (bound to port 0 and released).
int FreePort();

}  // namespace ruo::testing
