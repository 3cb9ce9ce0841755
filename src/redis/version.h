// Redis versions: parsing, comparison, and target-version matching.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ruo::redis {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;
  // False for "7.0": such a version names a release line and matches any patch.
  bool has_patch = true;
  // False for "7": names a major version and matches any minor and patch.
  bool has_minor = true;

  // Accepts "7", "7.0", "7.0.15" (also a leading 'v' and a trailing "-rc1"-style suffix,
  // which is ignored). Anything else is InvalidArgument with reason "InvalidVersion".
  static StatusOr<Version> Parse(std::string_view text);

  std::string ToString() const;  // "7.0.15", or "7.0" when !has_patch, or "7" when !has_minor

  // Orders by (major, minor, patch); a version without patch compares as patch 0.
  friend std::strong_ordering operator<=>(const Version& a, const Version& b);
  friend bool operator==(const Version& a, const Version& b) { return (a <=> b) == 0; }

  // True when `actual` (a server's full version) satisfies this requested version:
  // same major.minor, and same patch if this one names a patch ("7" matches any 7.x).
  bool MatchedBy(const Version& actual) const;
  // Same MAJOR.MINOR release line.
  bool SameLine(const Version& other) const { return major == other.major && minor == other.minor; }
};

}  // namespace ruo::redis
