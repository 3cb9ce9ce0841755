// One connection to a Redis server. The hiredis implementation is the only
// hiredis user in the project; tests of pure logic use a scripted fake.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "redis/reply.h"

namespace ruo::redis {

struct Endpoint {
  std::string host;
  int port = 6379;

  // "host:port", "[v6]:port"; InvalidArgument (reason "InvalidAddress") otherwise.
  static StatusOr<Endpoint> Parse(std::string_view text);
  std::string ToString() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct ConnectOptions {
  std::chrono::milliseconds connect_timeout{2000};
  // Per command. Must exceed any CLIENT PAUSE this connection may wait behind.
  std::chrono::milliseconds command_timeout{5000};
  // Sent as one-argument AUTH (works on every version). Never logged.
  std::optional<std::string> password;
  std::string client_name;  // CLIENT SETNAME when non-empty (2.6.9+)
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Sends one command and waits for its reply. A Redis error reply is a Reply of
  // type kError, not a failed Status; a failed Status means the transport failed
  // (Unavailable, DeadlineExceeded), after which the connection is unusable.
  virtual StatusOr<Reply> Command(const std::vector<std::string>& argv) = 0;
  // Writes all commands at once, then reads one reply per command, in order.
  // MULTI ... EXEC goes through here so the block reaches the server in one piece.
  virtual StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) = 0;
  virtual const Endpoint& endpoint() const = 0;
};

class Dialer {
 public:
  virtual ~Dialer() = default;
  // Connects, authenticates (wrong password → Unauthenticated, reason "AuthFailed";
  // no password given but required → Unauthenticated, reason "AuthRequired") and
  // sets the client name. Refused/unreachable → Unavailable.
  virtual StatusOr<std::unique_ptr<Connection>> Dial(const Endpoint& ep,
                                                     const ConnectOptions& opts) = 0;
};

std::unique_ptr<Dialer> NewHiredisDialer();

// A connection to a server that cannot be reached: every command fails with
// `why`. Stands in for an old master that is gone when a switch past the point
// of no return is finished, so nothing is attempted twice.
std::unique_ptr<Connection> NewUnreachableConnection(Endpoint ep, Status why);

// A name for a command in messages, without argument values that may be secret:
// "SET", "CONFIG SET min-replicas-to-write", "CLIENT PAUSE", "SLAVEOF 10.0.0.1 6379".
std::string DescribeCommand(const std::vector<std::string>& argv);
// `text` with every secret argument of `argv` (AUTH's password, CONFIG SET
// masterauth/requirepass values, HELLO ... AUTH, ACL SETUSER rules, MIGRATE AUTH)
// replaced by "<redacted>": Redis error messages sometimes echo arguments.
std::string RedactSecrets(std::string_view text, const std::vector<std::string>& argv);

}  // namespace ruo::redis
