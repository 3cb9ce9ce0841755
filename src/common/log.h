// Logging: spdlog behind a thin setup function. Log lines are "key=value" pairs
// after the message so they stay greppable; never log secrets.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace ruo::log {

// level: trace|debug|info|warn|error. json: one JSON object per line.
void Init(std::string_view level, bool json = false);

}  // namespace ruo::log
