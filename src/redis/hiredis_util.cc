#include "redis/hiredis_util.h"

#include <signal.h>

#include <mutex>
#include <string>
#include <vector>

namespace ruo::redis::hiredis {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

StatusOr<ContextPtr> Open(const Endpoint& ep, const ConnectOptions& opts) {
  ContextPtr ctx(
      opts.connect_timeout.count() > 0
          ? redisConnectWithTimeout(ep.host.c_str(), ep.port, ToTimeval(opts.connect_timeout))
          : redisConnect(ep.host.c_str(), ep.port));
  if (ctx == nullptr) return Unavailable("connect to " + ep.ToString() + ": out of memory");
  if (ctx->err != 0) {
    return Unavailable("connect to " + ep.ToString() + ": " + ctx->errstr, "ConnectFailed");
  }
  if (opts.command_timeout.count() > 0 &&
      redisSetTimeout(ctx.get(), ToTimeval(opts.command_timeout)) != REDIS_OK) {
    return Unavailable("set timeout on " + ep.ToString() + ": " + ctx->errstr, "ConnectFailed");
  }
  if (redisEnableKeepAlive(ctx.get()) != REDIS_OK) {
    return Unavailable("enable keepalive on " + ep.ToString() + ": " + ctx->errstr,
                       "ConnectFailed");
  }
  return ctx;
}

Reply Convert(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STATUS:
      return Reply::Status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return Reply::Error(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return Reply::Integer(r->integer);
    case REDIS_REPLY_STRING:
      return Reply::String(std::string(r->str, r->len));
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) elements.push_back(Convert(r->element[i]));
      return Reply::Array(std::move(elements));
    }
    case REDIS_REPLY_NIL:
    default:
      return Reply::Nil();
  }
}

void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace ruo::redis::hiredis
