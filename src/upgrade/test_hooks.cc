#include "upgrade/test_hooks.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <string>

namespace ruo::upgrade {

SwitchStepDelay ParseSwitchStepDelay(std::string_view spec) {
  SwitchStepDelay out;
  if (spec.empty()) return out;
  const size_t colon = spec.rfind(':');
  if (colon != std::string_view::npos) {
    auto step = engine::ParseSwitchStep(spec.substr(0, colon));
    const std::string_view ms = spec.substr(colon + 1);
    long long value = 0;
    auto [ptr, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), value);
    if (step.ok() && ec == std::errc() && ptr == ms.data() + ms.size() && value >= 0) {
      out.step = *step;
      out.delay = std::chrono::milliseconds(value);
      spdlog::warn("TEST HOOK {}: the switch pauses {} ms after step {}", kSwitchStepDelayEnv,
                   value, engine::SwitchStepName(*step));
      return out;
    }
  }
  spdlog::warn("{}=\"{}\" is not <Step>:<ms>; ignored", kSwitchStepDelayEnv, std::string(spec));
  return out;
}

PhaseDelay ParsePhaseDelay(std::string_view spec) {
  PhaseDelay out;
  if (spec.empty()) return out;
  const size_t colon = spec.rfind(':');
  if (colon != std::string_view::npos && colon > 0) {
    auto phase = ParsePhase(spec.substr(0, colon));
    const std::string_view ms = spec.substr(colon + 1);
    long long value = 0;
    auto [ptr, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), value);
    if (phase.ok() && ec == std::errc() && ptr == ms.data() + ms.size() && value >= 0) {
      out.phase = *phase;
      out.delay = std::chrono::milliseconds(value);
      spdlog::warn("TEST HOOK {}: the reconciler pauses {} ms after entering phase {}",
                   kPhaseDelayEnv, value, PhaseName(*phase));
      return out;
    }
  }
  spdlog::warn("{}=\"{}\" is not <Phase>:<ms>; ignored", kPhaseDelayEnv, std::string(spec));
  return out;
}

}  // namespace ruo::upgrade
