// A Redis protocol reply as plain data (no hiredis types leak out of src/redis).
#pragma once

#include <string>
#include <vector>

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

std::string DebugString(const Reply& r);

}  // namespace ruo::redis
