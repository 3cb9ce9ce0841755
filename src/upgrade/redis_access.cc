#include "upgrade/redis_access.h"

namespace ruo::upgrade {

StatusOr<std::unique_ptr<redis::Admin>> ConnectRedis(ReconcileContext& ctx,
                                                     const redis::Endpoint& ep) {
  RUO_ASSIGN_OR_RETURN(std::optional<std::string> password, ctx.Password());
  redis::ConnectOptions opts;
  opts.connect_timeout = ctx.options().redis_connect_timeout;
  opts.command_timeout = ctx.options().redis_command_timeout;
  opts.password = std::move(password);
  opts.client_name = kRedisClientName;
  return redis::Admin::Connect(ctx.deps().dialer, ep, opts);
}

std::unique_ptr<redis::Admin> UnreachableAdmin(const redis::Endpoint& ep, Status why) {
  if (why.ok() || why.code() != StatusCode::kUnavailable) {
    why = Unavailable("Redis at " + ep.ToString() + " is unreachable: " + why.message());
  }
  return std::make_unique<redis::Admin>(redis::NewUnreachableConnection(ep, why));
}

bool IsUnreachable(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

}  // namespace ruo::upgrade
