// Parsing of the RFC 3339 timestamps Kubernetes writes (metav1.Time) and that
// Rfc3339() (types.h) produces, for "how long has this lasted" decisions.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace ruo::upgrade {

// "2026-01-02T03:04:05Z", with optional fractional seconds and a numeric
// offset ("+02:00"). nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

}  // namespace ruo::upgrade
