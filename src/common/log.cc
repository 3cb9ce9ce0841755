#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace ruo::log {

void Init(std::string_view level, bool json) {
  // stderr: stdout is reserved for the JSON reports of migrate/probe.
  auto logger = spdlog::stderr_color_mt("ruo");
  logger->set_level(spdlog::level::from_str(std::string(level)));
  if (json) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  }
  spdlog::set_default_logger(logger);
}

}  // namespace ruo::log
