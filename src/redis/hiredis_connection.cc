// The hiredis-backed Connection and Dialer (hiredis_util.h: what it shares with the
// probe's subscriber, the one other hiredis user).
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "redis/connection.h"
#include "redis/hiredis_util.h"

namespace ruo::redis {
namespace {

using hiredis::ContextPtr;
using hiredis::Convert;
using hiredis::ReplyPtr;
using hiredis::ToTimeval;

class HiredisConnection : public Connection {
 public:
  HiredisConnection(ContextPtr ctx, Endpoint ep, std::chrono::milliseconds command_timeout)
      : ctx_(std::move(ctx)), ep_(std::move(ep)), command_timeout_(command_timeout) {}

  StatusOr<Reply> Command(const std::vector<std::string>& argv) override {
    RUO_RETURN_IF_ERROR(CheckUsable(argv));
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    Flatten(argv, &ptrs, &lens);
    errno = 0;
    ReplyPtr reply(
        redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data()));
    int saved_errno = errno;
    if (reply == nullptr) return Fail(DescribeCommand(argv), saved_errno);
    return Convert(static_cast<redisReply*>(reply.get()));
  }

  StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) override {
    for (const auto& argv : commands) RUO_RETURN_IF_ERROR(CheckUsable(argv));
    std::string what = PipelineName(commands);
    for (const auto& argv : commands) {
      std::vector<const char*> ptrs;
      std::vector<size_t> lens;
      Flatten(argv, &ptrs, &lens);
      if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), ptrs.data(),
                                 lens.data()) != REDIS_OK) {
        return Fail(what, errno);
      }
    }
    std::vector<Reply> replies;
    replies.reserve(commands.size());
    for (size_t i = 0; i < commands.size(); ++i) {
      void* raw = nullptr;
      errno = 0;
      int rc = redisGetReply(ctx_.get(), &raw);
      int saved_errno = errno;
      ReplyPtr reply(raw);
      if (rc != REDIS_OK || reply == nullptr) return Fail(what, saved_errno);
      replies.push_back(Convert(static_cast<redisReply*>(reply.get())));
    }
    return replies;
  }

  const Endpoint& endpoint() const override { return ep_; }

 private:
  static void Flatten(const std::vector<std::string>& argv, std::vector<const char*>* ptrs,
                      std::vector<size_t>* lens) {
    ptrs->reserve(argv.size());
    lens->reserve(argv.size());
    for (const auto& a : argv) {
      ptrs->push_back(a.data());
      lens->push_back(a.size());
    }
  }

  static std::string PipelineName(const std::vector<std::vector<std::string>>& commands) {
    std::string out = "pipeline [";
    for (size_t i = 0; i < commands.size(); ++i) {
      if (i > 0) out += ", ";
      out += DescribeCommand(commands[i]);
    }
    return out + "]";
  }

  Status CheckUsable(const std::vector<std::string>& argv) const {
    // Once a reply was lost the stream is out of step: fail fast, never reuse.
    if (!broken_.ok()) return broken_;
    if (argv.empty()) return InvalidArgument("empty Redis command");
    return Status::Ok();
  }

  // Records the transport failure, drops the socket and returns the Status.
  Status Fail(const std::string& what, int saved_errno) {
    int err = ctx_->err;
    std::string detail = ctx_->errstr[0] != '\0' ? ctx_->errstr : std::strerror(saved_errno);
    // hiredis 0.14 reports an SO_RCVTIMEO/SO_SNDTIMEO expiry as an I/O error with EAGAIN.
    bool timed_out =
        err == REDIS_ERR_IO &&
        (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT ||
         detail == std::strerror(EAGAIN) || detail == std::strerror(ETIMEDOUT));
    Status s;
    if (timed_out) {
      s = DeadlineExceeded(what + " to " + ep_.ToString() + " got no reply within " +
                               std::to_string(command_timeout_.count()) + " ms",
                           "CommandTimeout");
    } else if (err == REDIS_ERR_EOF) {
      s = Unavailable(what + " to " + ep_.ToString() + ": server closed the connection",
                      "ConnectionLost");
    } else {
      s = Unavailable(what + " to " + ep_.ToString() + ": " + detail, "ConnectionLost");
    }
    // Later calls name the original failure and say what to do: dial again.
    broken_ = Unavailable("connection to " + ep_.ToString() +
                              " is unusable after an earlier failure (dial again): " + s.message(),
                          "ConnectionBroken");
    ctx_.reset();
    return s;
  }

  ContextPtr ctx_;
  Endpoint ep_;
  std::chrono::milliseconds command_timeout_;
  Status broken_;
};

class HiredisDialer : public Dialer {
 public:
  StatusOr<std::unique_ptr<Connection>> Dial(const Endpoint& ep,
                                             const ConnectOptions& opts) override {
    RUO_ASSIGN_OR_RETURN(ContextPtr ctx, hiredis::Open(ep, opts));
    auto conn = std::make_unique<HiredisConnection>(std::move(ctx), ep, opts.command_timeout);
    RUO_RETURN_IF_ERROR(Authenticate(*conn, ep, opts));
    if (!opts.client_name.empty()) {
      RUO_ASSIGN_OR_RETURN(Reply r, conn->Command({"CLIENT", "SETNAME", opts.client_name}));
      // A sealed 2.8–6.0 replica (serve-stale-data off) refuses CLIENT with
      // -MASTERDOWN. The name only labels the connection; refusing the dial
      // would lock the switch out of the very server it must undo or finish.
      if (r.IsError() && !r.str.starts_with("MASTERDOWN")) {
        return StatusFromErrorReply("CLIENT SETNAME on " + ep.ToString(), r.str);
      }
    }
    return std::unique_ptr<Connection>(std::move(conn));
  }

 private:
  static Status Authenticate(Connection& conn, const Endpoint& ep, const ConnectOptions& opts) {
    if (!opts.password.has_value()) {
      // Ask for nothing but find out at once whether a password was needed.
      RUO_ASSIGN_OR_RETURN(Reply r, conn.Command({"PING"}));
      if (r.IsError() && r.str.starts_with("NOAUTH")) {
        return Unauthenticated(ep.ToString() + " requires a password and none was given",
                               "AuthRequired");
      }
      return Status::Ok();  // other errors (e.g. LOADING) surface on real commands
    }
    // One-argument AUTH works on every version (the default user on 6.0+).
    std::vector<std::string> argv = {"AUTH", *opts.password};
    RUO_ASSIGN_OR_RETURN(Reply r, conn.Command(argv));
    if (!r.IsError()) return Status::Ok();
    std::string error = RedactSecrets(r.str, argv);
    if (r.str.starts_with("WRONGPASS") || r.str.find("invalid password") != std::string::npos) {
      return Unauthenticated("authentication to " + ep.ToString() + " failed: wrong password",
                             "AuthFailed");
    }
    // A server without a password refuses AUTH (before 6.0 "no password is set",
    // since "without any password configured"); the connection works anyway.
    if (r.str.find("no password is set") != std::string::npos ||
        r.str.find("without any password configured") != std::string::npos) {
      return Status::Ok();
    }
    return StatusFromErrorReply("AUTH on " + ep.ToString(), error);
  }
};

}  // namespace

std::unique_ptr<Dialer> NewHiredisDialer() {
  hiredis::IgnoreSigpipeOnce();
  return std::make_unique<HiredisDialer>();
}

}  // namespace ruo::redis
