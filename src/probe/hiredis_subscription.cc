// The hiredis-backed Subscription. src/redis keeps hiredis behind a
// one-reply-per-command Connection; a subscribed connection needs to wait for
// replies nobody asked for, so the probe reads its own socket here.
#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "probe/subscriber.h"
#include "redis/hiredis_util.h"

namespace ruo::probe {
namespace {

using redis::hiredis::ContextPtr;
using redis::hiredis::Convert;
using redis::hiredis::ReplyPtr;
using redis::hiredis::ToTimeval;

class HiredisSubscription : public Subscription {
 public:
  HiredisSubscription(ContextPtr ctx, redis::Endpoint ep) : ctx_(std::move(ctx)), ep_(ep) {}

  Status Send(const std::vector<std::string>& argv) override {
    if (ctx_ == nullptr) return Gone();
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), ptrs.data(),
                               lens.data()) != REDIS_OK) {
      return Fail(errno);
    }
    // The socket is blocking (with the command timeout as SO_SNDTIMEO).
    int done = 0;
    while (done == 0) {
      errno = 0;
      if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) return Fail(errno);
    }
    return Status::Ok();
  }

  StatusOr<std::optional<redis::Reply>> Receive(std::chrono::milliseconds timeout) override {
    if (ctx_ == nullptr) return Gone();
    // A read may have brought several replies: hand out the buffered ones first.
    RUO_ASSIGN_OR_RETURN(std::optional<redis::Reply> buffered, FromReader());
    if (buffered.has_value()) return buffered;
    pollfd p{};
    p.fd = ctx_->fd;
    p.events = POLLIN;
    const int n = poll(&p, 1, static_cast<int>(timeout.count()));
    if (n < 0 && errno == EINTR) return std::optional<redis::Reply>();
    if (n < 0) return Fail(errno);
    if (n == 0) return std::optional<redis::Reply>();
    errno = 0;
    if (redisBufferRead(ctx_.get()) != REDIS_OK) return Fail(errno);
    return FromReader();
  }

 private:
  StatusOr<std::optional<redis::Reply>> FromReader() {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx_.get(), &raw) != REDIS_OK) return Fail(errno);
    if (raw == nullptr) return std::optional<redis::Reply>();
    ReplyPtr reply(raw);
    return std::optional<redis::Reply>(Convert(static_cast<redisReply*>(reply.get())));
  }

  Status Gone() const {
    return Unavailable("subscription to " + ep_.ToString() + " is closed after an earlier failure",
                       "ConnectionBroken");
  }

  Status Fail(int saved_errno) {
    const int err = ctx_->err;
    std::string detail = ctx_->errstr[0] != '\0' ? ctx_->errstr : std::strerror(saved_errno);
    ctx_.reset();
    if (err == REDIS_ERR_EOF) {
      return Unavailable("subscription to " + ep_.ToString() + ": server closed the connection",
                         "ConnectionLost");
    }
    return Unavailable("subscription to " + ep_.ToString() + ": " + detail, "ConnectionLost");
  }

  ContextPtr ctx_;
  redis::Endpoint ep_;
};

// A blocking command during the dial (AUTH, CLIENT SETNAME, PING).
StatusOr<redis::Reply> Call(redisContext* ctx, const redis::Endpoint& ep,
                            const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  ReplyPtr reply(redisCommandArgv(ctx, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  if (reply == nullptr) {
    return Unavailable(redis::DescribeCommand(argv) + " to " + ep.ToString() + ": " + ctx->errstr,
                       "ConnectFailed");
  }
  return Convert(static_cast<redisReply*>(reply.get()));
}

class HiredisSubscriptionDialer : public SubscriptionDialer {
 public:
  StatusOr<std::unique_ptr<Subscription>> Dial(const redis::Endpoint& ep,
                                               const redis::ConnectOptions& opts) override {
    // A subscriber mostly waits: the keepalive finds a peer that vanished without a FIN.
    RUO_ASSIGN_OR_RETURN(ContextPtr ctx, redis::hiredis::Open(ep, opts));
    if (opts.password.has_value()) {
      std::vector<std::string> argv = {"AUTH", *opts.password};
      RUO_ASSIGN_OR_RETURN(redis::Reply r, Call(ctx.get(), ep, argv));
      // As redis::Dialer: a server without a password refuses AUTH but works.
      if (r.IsError() && r.str.find("no password is set") == std::string::npos &&
          r.str.find("without any password configured") == std::string::npos) {
        return redis::StatusFromErrorReply("AUTH on " + ep.ToString(),
                                           redis::RedactSecrets(r.str, argv));
      }
    } else {
      RUO_ASSIGN_OR_RETURN(redis::Reply r, Call(ctx.get(), ep, {"PING"}));
      if (r.IsError() && r.str.starts_with("NOAUTH")) {
        return Unauthenticated(ep.ToString() + " requires a password and none was given",
                               "AuthRequired");
      }
    }
    if (!opts.client_name.empty()) {
      RUO_ASSIGN_OR_RETURN(redis::Reply r,
                           Call(ctx.get(), ep, {"CLIENT", "SETNAME", opts.client_name}));
      // As in the admin dialer: a sealed replica's -MASTERDOWN to CLIENT only
      // costs the connection its name.
      if (r.IsError() && !r.str.starts_with("MASTERDOWN")) {
        return redis::StatusFromErrorReply("CLIENT SETNAME on " + ep.ToString(), r.str);
      }
    }
    return std::unique_ptr<Subscription>(std::make_unique<HiredisSubscription>(std::move(ctx), ep));
  }
};

}  // namespace

std::unique_ptr<SubscriptionDialer> NewHiredisSubscriptionDialer() {
  redis::hiredis::IgnoreSigpipeOnce();
  return std::make_unique<HiredisSubscriptionDialer>();
}

}  // namespace ruo::probe
