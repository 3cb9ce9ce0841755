#include "redis/admin.h"

#include <charconv>

namespace ruo::redis {
namespace {

Status Unsupported(const Version& v, std::string_view what, std::string_view since) {
  return FailedPrecondition(
      std::string(what) + " needs Redis " + std::string(since) + "+, server is " + v.ToString(),
      "UnsupportedByVersion");
}

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// "+OK", and SLAVEOF's "+OK Already connected to specified master".
bool IsOkStatus(const Reply& r) {
  return r.type == Reply::Type::kStatus && (r.str == "OK" || r.str.starts_with("OK "));
}

}  // namespace

Admin::Admin(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}

StatusOr<std::unique_ptr<Admin>> Admin::Connect(Dialer& dialer, const Endpoint& ep,
                                                const ConnectOptions& opts) {
  RUO_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, dialer.Dial(ep, opts));
  auto admin = std::make_unique<Admin>(std::move(conn));
  RUO_RETURN_IF_ERROR(admin->DetectVersion().status());
  return admin;
}

Status Admin::ErrorStatus(const std::vector<std::string>& argv, const std::string& error) const {
  return StatusFromErrorReply(DescribeCommand(argv) + " on " + endpoint().ToString(),
                              RedactSecrets(error, argv));
}

StatusOr<Reply> Admin::Run(const std::vector<std::string>& argv) {
  RUO_ASSIGN_OR_RETURN(Reply r, conn_->Command(argv));
  if (r.IsError()) return ErrorStatus(argv, r.str);
  return r;
}

Status Admin::RunOk(const std::vector<std::string>& argv) {
  RUO_ASSIGN_OR_RETURN(Reply r, Run(argv));
  if (!IsOkStatus(r)) {
    return Internal(DescribeCommand(argv) + " on " + endpoint().ToString() + ": unexpected reply " +
                    RedactSecrets(DebugString(r), argv));
  }
  return Status::Ok();
}

Status Admin::EnsureVersion() {
  if (version_known_) return Status::Ok();
  return DetectVersion().status();
}

StatusOr<Info> Admin::GetInfo(std::string_view section) {
  std::vector<std::string> argv = {"INFO"};
  if (!section.empty()) argv.emplace_back(section);
  RUO_ASSIGN_OR_RETURN(Reply r, Run(argv));
  auto info = ParseInfoReply(r);
  if (!info.ok()) return info.status().Annotate("INFO from " + endpoint().ToString());
  if (info->raw.contains("redis_version")) {
    caps_ = CapabilitiesFor(info->server.version);
    version_known_ = true;
  }
  return info;
}

StatusOr<Version> Admin::DetectVersion() {
  RUO_ASSIGN_OR_RETURN(Info info, GetInfo("server"));
  if (!version_known_) {
    return Internal("INFO server from " + endpoint().ToString() + " has no redis_version");
  }
  return info.server.version;
}

Status Admin::Ping() {
  RUO_ASSIGN_OR_RETURN(Reply r, Run({"PING"}));
  if (r.type != Reply::Type::kStatus || r.str != "PONG") {
    return Internal("PING on " + endpoint().ToString() + ": unexpected reply " + DebugString(r));
  }
  return Status::Ok();
}

StatusOr<std::string> Admin::ConfigGet(const std::string& name) {
  RUO_RETURN_IF_ERROR(EnsureVersion());
  std::vector<std::string> argv = {"CONFIG", "GET", ConfigNameFor(caps_, name)};
  RUO_ASSIGN_OR_RETURN(Reply r, Run(argv));
  if (r.type != Reply::Type::kArray || r.elements.size() % 2 != 0) {
    return Internal(DescribeCommand(argv) + " on " + endpoint().ToString() + ": unexpected reply " +
                    DebugString(r));
  }
  if (r.elements.empty()) {
    return NotFound(DescribeCommand(argv) + " on " + endpoint().ToString() +
                        ": no such parameter on Redis " + version().ToString(),
                    "UnknownConfig");
  }
  return r.elements[1].str;
}

Status Admin::ConfigSet(const std::string& name, const std::string& value) {
  RUO_RETURN_IF_ERROR(EnsureVersion());
  return RunOk(ConfigSetArgv(name, value));
}

StatusOr<int64_t> Admin::ConfigGetInt(const std::string& name) {
  RUO_ASSIGN_OR_RETURN(std::string value, ConfigGet(name));
  int64_t n = 0;
  if (!ParseInt64(value, &n)) {
    return Internal("CONFIG GET " + name + " on " + endpoint().ToString() +
                    ": not a number: " + value);
  }
  return n;
}

StatusOr<int64_t> Admin::GetMinReplicasToWrite() {
  RUO_RETURN_IF_ERROR(EnsureVersion());
  return ConfigGetInt(MinReplicasToWriteName(caps_));
}

Status Admin::SetMinReplicasToWrite(int64_t n) {
  RUO_RETURN_IF_ERROR(EnsureVersion());
  return ConfigSet(MinReplicasToWriteName(caps_), std::to_string(n));
}

StatusOr<int64_t> Admin::GetMinReplicasMaxLag() {
  RUO_RETURN_IF_ERROR(EnsureVersion());
  return ConfigGetInt(MinReplicasMaxLagName(caps_));
}

Status Admin::SetMinReplicasMaxLag(int64_t seconds) {
  RUO_RETURN_IF_ERROR(EnsureVersion());
  return ConfigSet(MinReplicasMaxLagName(caps_), std::to_string(seconds));
}

Status Admin::ReplicaOf(const Endpoint& master) {
  return RunOk(ReplicaOfArgv(master));
}

Status Admin::ReplicaOfNoOne() {
  return RunOk({"SLAVEOF", "NO", "ONE"});
}

Status Admin::ClientPause(std::chrono::milliseconds ms, bool write_only) {
  RUO_RETURN_IF_ERROR(EnsureVersion());
  if (ms.count() < 0) return InvalidArgument("CLIENT PAUSE with a negative duration");
  if (!caps_.client_pause) return Unsupported(version(), "CLIENT PAUSE", "3.0");
  if (write_only && !caps_.client_pause_write) {
    return Unsupported(version(), "CLIENT PAUSE WRITE", "6.2");
  }
  std::vector<std::string> argv = {"CLIENT", "PAUSE", std::to_string(ms.count())};
  if (write_only) argv.emplace_back("WRITE");
  return RunOk(argv);
}

Status Admin::ClientUnpause() {
  RUO_RETURN_IF_ERROR(EnsureVersion());
  if (!caps_.client_pause_write) return Unsupported(version(), "CLIENT UNPAUSE", "6.2");
  return RunOk({"CLIENT", "UNPAUSE"});
}

std::vector<std::vector<std::string>> Admin::KillClientsArgv() {
  // The filter form skips the calling connection by default (SKIPME yes).
  return {{"CLIENT", "KILL", "TYPE", "normal"}, {"CLIENT", "KILL", "TYPE", "pubsub"}};
}

StatusOr<int64_t> Admin::KillClients(bool lift_stale_refusal) {
  RUO_RETURN_IF_ERROR(EnsureVersion());
  if (!caps_.client_kill_type) return Unsupported(version(), "CLIENT KILL TYPE", "2.8.12");
  std::vector<std::vector<std::string>> cmds = KillClientsArgv();
  const std::string stale = ConfigNameFor(caps_, "replica-serve-stale-data");
  if (lift_stale_refusal) {
    // One pipeline: the server reads it at once, so no other client's command
    // runs while stale reads are allowed.
    cmds.insert(cmds.begin(), ConfigSetArgv(stale, "yes"));
    cmds.push_back(ConfigSetArgv(stale, "no"));
  }
  RUO_ASSIGN_OR_RETURN(std::vector<Reply> replies, conn_->Pipeline(cmds));
  if (replies.size() != cmds.size()) {
    return Internal("CLIENT KILL on " + endpoint().ToString() + ": " +
                    std::to_string(replies.size()) + " replies for " + std::to_string(cmds.size()) +
                    " commands");
  }
  int64_t killed = 0;
  for (size_t i = 0; i < cmds.size(); ++i) {
    const Reply& r = replies[i];
    if (r.IsError()) return ErrorStatus(cmds[i], r.str);
    if (cmds[i][0] == "CONFIG") {
      if (!IsOkStatus(r)) {
        return Internal(DescribeCommand(cmds[i]) + " on " + endpoint().ToString() +
                        ": unexpected reply " + DebugString(r));
      }
      continue;
    }
    if (r.type != Reply::Type::kInteger) {
      return Internal(DescribeCommand(cmds[i]) + " on " + endpoint().ToString() +
                      ": unexpected reply " + DebugString(r));
    }
    killed += static_cast<int64_t>(r.integer);
  }
  return killed;
}

StatusOr<int64_t> Admin::DbSize() {
  RUO_ASSIGN_OR_RETURN(Reply r, Run({"DBSIZE"}));
  if (r.type != Reply::Type::kInteger) {
    return Internal("DBSIZE on " + endpoint().ToString() + ": unexpected reply " + DebugString(r));
  }
  return static_cast<int64_t>(r.integer);
}

StatusOr<std::vector<Reply>> Admin::Transaction(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<std::vector<std::string>> pipeline;
  pipeline.reserve(commands.size() + 2);
  pipeline.push_back({"MULTI"});
  for (const auto& c : commands) pipeline.push_back(c);
  pipeline.push_back({"EXEC"});

  RUO_ASSIGN_OR_RETURN(std::vector<Reply> replies, conn_->Pipeline(pipeline));
  if (replies.size() != pipeline.size()) {
    return Internal("MULTI on " + endpoint().ToString() + ": " + std::to_string(replies.size()) +
                    " replies for " + std::to_string(pipeline.size()) + " commands");
  }
  if (replies.front().IsError()) return ErrorStatus(pipeline.front(), replies.front().str);
  if (!IsOkStatus(replies.front())) {
    return Internal("MULTI on " + endpoint().ToString() + ": unexpected reply " +
                    DebugString(replies.front()));
  }
  // A command refused at queue time makes EXEC discard the whole block.
  for (size_t i = 0; i < commands.size(); ++i) {
    const Reply& queued = replies[i + 1];
    if (queued.IsError()) {
      return ErrorStatus(commands[i], queued.str).Annotate("in MULTI (transaction discarded)");
    }
    if (queued.type != Reply::Type::kStatus || queued.str != "QUEUED") {
      return Internal("in MULTI: " + DescribeCommand(commands[i]) + " on " + endpoint().ToString() +
                      ": expected QUEUED, got " + RedactSecrets(DebugString(queued), commands[i]));
    }
  }
  const Reply& exec = replies.back();
  if (exec.type == Reply::Type::kNil) {
    return Aborted("EXEC on " + endpoint().ToString() + ": transaction aborted (WATCH)",
                   "TransactionAborted");
  }
  if (exec.IsError()) return ErrorStatus(pipeline.back(), exec.str);
  if (exec.type != Reply::Type::kArray || exec.elements.size() != commands.size()) {
    return Internal("EXEC on " + endpoint().ToString() + ": unexpected reply " + DebugString(exec));
  }
  return exec.elements;
}

std::vector<std::string> Admin::ConfigSetArgv(const std::string& name,
                                              const std::string& value) const {
  return {"CONFIG", "SET", ConfigNameFor(caps_, name), value};
}

std::vector<std::string> Admin::ReplicaOfArgv(const Endpoint& master) const {
  // SLAVEOF works on every version; REPLICAOF only from 5.0.
  return {"SLAVEOF", master.host, std::to_string(master.port)};
}

}  // namespace ruo::redis
