#include "redis/version.h"

#include <charconv>
#include <tuple>
#include <utility>

namespace ruo::redis {
namespace {

Status BadVersion(std::string_view text) {
  return InvalidArgument(
      "invalid Redis version \"" + std::string(text) + "\" (want MAJOR[.MINOR[.PATCH]])",
      "InvalidVersion");
}

// Parses one non-empty run of digits; bounded so it cannot overflow an int.
bool ParseComponent(std::string_view s, int* out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

StatusOr<Version> Version::Parse(std::string_view text) {
  std::string_view s = text;
  if (!s.empty() && (s.front() == 'v' || s.front() == 'V')) s.remove_prefix(1);
  // A pre-release or build suffix ("-rc1") does not change the release line.
  if (size_t dash = s.find('-'); dash != std::string_view::npos) s = s.substr(0, dash);
  if (s.empty()) return BadVersion(text);

  int parts[3] = {0, 0, 0};
  int count = 0;
  while (true) {
    size_t dot = s.find('.');
    std::string_view piece = s.substr(0, dot);
    if (count == 3 || !ParseComponent(piece, &parts[count])) return BadVersion(text);
    ++count;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }

  Version v;
  v.major = parts[0];
  v.minor = parts[1];
  v.patch = parts[2];
  v.has_minor = count >= 2;
  v.has_patch = count >= 3;
  return v;
}

std::string Version::ToString() const {
  std::string out = std::to_string(major);
  if (!has_minor) return out;
  out += "." + std::to_string(minor);
  if (!has_patch) return out;
  return out + "." + std::to_string(patch);
}

std::strong_ordering operator<=>(const Version& a, const Version& b) {
  auto key = [](const Version& v) {
    return std::make_tuple(v.major, v.has_minor ? v.minor : 0, v.has_patch ? v.patch : 0);
  };
  return key(a) <=> key(b);
}

bool Version::MatchedBy(const Version& actual) const {
  if (major != actual.major) return false;
  if (!has_minor) return true;
  if (minor != actual.minor) return false;
  return !has_patch || patch == actual.patch;
}

}  // namespace ruo::redis
