// Connections to the Redis servers of pods (the operator talks to pod IPs, not
// to the Service, so it always knows which server it is talking to).
#pragma once

#include <memory>

#include "common/status.h"
#include "redis/admin.h"
#include "redis/connection.h"
#include "upgrade/context.h"

namespace ruo::upgrade {

inline constexpr const char* kRedisClientName = "redis-upgrade-operator";

// Dials `ep` with the upgrade's password and detects the server's version.
// Errors as redis::Dialer (AuthFailed / AuthRequired, Unavailable...), and the
// Secret's errors from ReconcileContext::Password.
StatusOr<std::unique_ptr<redis::Admin>> ConnectRedis(ReconcileContext& ctx,
                                                     const redis::Endpoint& ep);

// An Admin whose every command fails with Unavailable: stands in for an old
// master that is down while a switch past its point of no return is finished
// (the protocol tolerates it there; it must not wait for a dead server).
std::unique_ptr<redis::Admin> UnreachableAdmin(const redis::Endpoint& ep, Status why);

// Transport failures (connection refused, timeout): the server may come back.
bool IsUnreachable(const Status& s);

}  // namespace ruo::upgrade
