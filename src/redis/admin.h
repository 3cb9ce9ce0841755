// Version-aware administrative operations on one Redis server.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "redis/capabilities.h"
#include "redis/connection.h"
#include "redis/info.h"

namespace ruo::redis {

class Admin {
 public:
  // Takes ownership of the connection. Call DetectVersion() (or any Info call)
  // before version-dependent methods; if none was made, the first
  // version-dependent call detects the version itself (one INFO server).
  // Not thread-safe: one Admin per thread.
  explicit Admin(std::unique_ptr<Connection> conn);

  // Dials and detects the version (INFO server) in one step.
  static StatusOr<std::unique_ptr<Admin>> Connect(Dialer& dialer, const Endpoint& ep,
                                                  const ConnectOptions& opts);

  const Endpoint& endpoint() const { return conn_->endpoint(); }
  Connection& connection() { return *conn_; }

  // INFO [section]; "" = default sections. Also refreshes the detected version when
  // the server section is present.
  StatusOr<Info> GetInfo(std::string_view section = "");
  StatusOr<Version> DetectVersion();
  const Capabilities& caps() const { return caps_; }
  const Version& version() const { return caps_.version; }
  bool version_known() const { return version_known_; }

  Status Ping();
  // "slave-*"/"replica-*" names are translated to the server's spelling
  // (ConfigNameFor). An unknown parameter is NotFound ("UnknownConfig").
  StatusOr<std::string> ConfigGet(const std::string& name);
  Status ConfigSet(const std::string& name, const std::string& value);
  // Version-aware names.
  StatusOr<int64_t> GetMinReplicasToWrite();
  Status SetMinReplicasToWrite(int64_t n);
  StatusOr<int64_t> GetMinReplicasMaxLag();
  Status SetMinReplicasMaxLag(int64_t seconds);

  Status ReplicaOf(const Endpoint& master);  // SLAVEOF host port
  Status ReplicaOfNoOne();                   // SLAVEOF NO ONE
  // CLIENT PAUSE ms [WRITE]; write_only requires 6.2+ (FailedPrecondition otherwise).
  Status ClientPause(std::chrono::milliseconds ms, bool write_only);
  Status ClientUnpause();  // 6.2+ only
  // CLIENT KILL TYPE normal and CLIENT KILL TYPE pubsub (subscribers are a type
  // of their own); returns how many were killed (skips this connection). A
  // sealed replica of a line without client_ok_stale refuses CLIENT while its
  // serve-stale-data is no: with `lift_stale_refusal` the kills go in one
  // pipeline between CONFIG SET of it to yes and back to no.
  StatusOr<int64_t> KillClients(bool lift_stale_refusal = false);
  // The argument vectors of KillClients, for the seal transaction.
  static std::vector<std::vector<std::string>> KillClientsArgv();
  StatusOr<int64_t> DbSize();

  // Sends MULTI, the commands, EXEC in one pipeline and returns EXEC's replies
  // (one per command, errors included as kError replies). A command rejected at
  // queue time or an aborted EXEC is a failed Status.
  StatusOr<std::vector<Reply>> Transaction(const std::vector<std::vector<std::string>>& commands);

  // Argument vectors, for building transactions with version-aware names.
  std::vector<std::string> ConfigSetArgv(const std::string& name, const std::string& value) const;
  std::vector<std::string> ReplicaOfArgv(const Endpoint& master) const;

 private:
  // CONFIG GET of an integer setting; Internal when the value is not a number.
  StatusOr<int64_t> ConfigGetInt(const std::string& name);
  StatusOr<Reply> Run(const std::vector<std::string>& argv);
  Status RunOk(const std::vector<std::string>& argv);

  Status EnsureVersion();
  Status ErrorStatus(const std::vector<std::string>& argv, const std::string& error) const;

  std::unique_ptr<Connection> conn_;
  Capabilities caps_;
  bool version_known_ = false;
};

}  // namespace ruo::redis
