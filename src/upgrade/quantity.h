// Kubernetes resource quantities ("256Mi", "1G", "1.5Gi", "128974848", "1e9")
// as bytes, for the memory pre-checks.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace ruo::upgrade {

// Bytes, rounded up. InvalidArgument (reason "InvalidQuantity") when malformed.
StatusOr<int64_t> ParseQuantityBytes(std::string_view text);

// resources.limits.memory of a container in bytes; 0 when absent or unreadable.
int64_t MemoryLimitBytes(const nlohmann::json& container);

}  // namespace ruo::upgrade
