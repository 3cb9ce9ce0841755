#include "redis/reply.h"

#include <algorithm>
#include <cstdio>

namespace ruo::redis {
namespace {

constexpr size_t kMaxBulkShown = 120;

void AppendQuoted(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t shown = std::min(s.size(), kMaxBulkShown);
  for (size_t i = 0; i < shown; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          *out += buf;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
  if (shown < s.size()) *out += "...(" + std::to_string(s.size()) + " bytes)";
}

void Append(const Reply& r, std::string* out) {
  switch (r.type) {
    case Reply::Type::kStatus:
      *out += "+" + r.str;
      break;
    case Reply::Type::kError:
      *out += "-" + r.str;
      break;
    case Reply::Type::kInteger:
      *out += ":" + std::to_string(r.integer);
      break;
    case Reply::Type::kString:
      AppendQuoted(r.str, out);
      break;
    case Reply::Type::kNil:
      *out += "(nil)";
      break;
    case Reply::Type::kArray:
      out->push_back('[');
      for (size_t i = 0; i < r.elements.size(); ++i) {
        if (i > 0) *out += ", ";
        Append(r.elements[i], out);
      }
      out->push_back(']');
      break;
  }
}

}  // namespace

std::string DebugString(const Reply& r) {
  std::string out;
  Append(r, &out);
  return out;
}

Status StatusFromErrorReply(std::string_view what, std::string_view error) {
  std::string_view code = error.substr(0, error.find(' '));
  std::string message = std::string(what) + ": " + std::string(error);
  if (code == "NOAUTH") return Unauthenticated(std::move(message), "AuthRequired");
  if (code == "WRONGPASS") return Unauthenticated(std::move(message), "AuthFailed");
  if (code == "NOPERM") return PermissionDenied(std::move(message), "NoPermission");
  if (code == "READONLY") return Unavailable(std::move(message), "ReadOnly");
  if (code == "NOREPLICAS") return Unavailable(std::move(message), "NoReplicas");
  if (code == "LOADING") return Unavailable(std::move(message), "Loading");
  if (code == "BUSY") return Unavailable(std::move(message), "Busy");
  if (code == "MASTERDOWN") return Unavailable(std::move(message), "MasterDown");
  return FailedPrecondition(std::move(message), "RedisError");
}

}  // namespace ruo::redis
