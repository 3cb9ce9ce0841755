// A Redis protocol reply as plain data (no hiredis types leak out of src/redis).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ruo::redis {

struct Reply {
  enum class Type { kStatus, kError, kInteger, kString, kNil, kArray };
  Type type = Type::kNil;
  std::string str;  // kStatus, kError, kString
  long long integer = 0;
  std::vector<Reply> elements;  // kArray

  bool IsError() const { return type == Type::kError; }
  bool IsOk() const { return type == Type::kStatus && str == "OK"; }

  static Reply Status(std::string s) { return {Type::kStatus, std::move(s), 0, {}}; }
  static Reply Error(std::string s) { return {Type::kError, std::move(s), 0, {}}; }
  static Reply Integer(long long i) { return {Type::kInteger, {}, i, {}}; }
  static Reply String(std::string s) { return {Type::kString, std::move(s), 0, {}}; }
  static Reply Nil() { return {}; }
  static Reply Array(std::vector<Reply> e) { return {Type::kArray, {}, 0, std::move(e)}; }

  friend bool operator==(const Reply&, const Reply&) = default;
};

// One line for logs and messages: +OK, -ERR ..., :5, "bulk", (nil), [a, b].
// Long bulk strings are cut (INFO replies run to kilobytes).
std::string DebugString(const Reply& r);

// Maps a Redis error reply ("NOAUTH ...", without the leading '-') to a Status whose
// message is "<what>: <error>". NOAUTH → Unauthenticated ("AuthRequired"),
// WRONGPASS → Unauthenticated ("AuthFailed"), NOPERM → PermissionDenied,
// READONLY / NOREPLICAS / LOADING / BUSY / MASTERDOWN → Unavailable (transient),
// anything else → FailedPrecondition ("RedisError"). `what` must not hold secrets.
Status StatusFromErrorReply(std::string_view what, std::string_view error);

}  // namespace ruo::redis
