// What the two hiredis users share (redis/hiredis_connection.cc, the admin
// client, and probe/hiredis_subscription.cc, the probe's subscriber): owning
// handles, the reply conversion and the SIGPIPE rule. Include only there.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <chrono>
#include <memory>

#include "common/status.h"
#include "redis/connection.h"
#include "redis/reply.h"

namespace ruo::redis::hiredis {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(void* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<void, ReplyFree>;

timeval ToTimeval(std::chrono::milliseconds ms);

// A connected socket with the command timeout set and TCP keepalive on (it
// detects a peer that vanished without a FIN: pod deleted, node lost). A zero
// timeout means no limit (hiredis would give up at once).
StatusOr<ContextPtr> Open(const Endpoint& ep, const ConnectOptions& opts);

// A hiredis reply as our Reply (RESP2 types; anything else is Nil).
Reply Convert(const redisReply* r);

// hiredis writes with write(2): a peer that closed would raise SIGPIPE and end
// the process. Ignored (once) unless the program chose its own handling.
void IgnoreSigpipeOnce();

}  // namespace ruo::redis::hiredis
