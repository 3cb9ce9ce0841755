// The controller-runtime style bind-address flags (":8080", "127.0.0.1:8081",
// "0" to disable) turned into civetweb's `listening_ports` option.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"

namespace ruo::metrics {

// std::nullopt: "0" or "", the endpoint is disabled. ":8080" → "8080" (every
// IPv4 interface), "HOST:PORT" and "[V6]:PORT" pass through. Port 0 asks the
// kernel for a free port (tests). InvalidArgument for anything else.
StatusOr<std::optional<std::string>> ToListeningPorts(const std::string& bind_address);

}  // namespace ruo::metrics
