#include "upgrade/test_hooks.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>
#include <string>
#include <utility>

namespace ruo::upgrade {
namespace {

// "<name>:<ms>" → (name, ms); nullopt unless both parts are there and ms ≥ 0.
std::optional<std::pair<std::string_view, std::chrono::milliseconds>> SplitHookSpec(
    std::string_view spec) {
  const size_t colon = spec.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view ms = spec.substr(colon + 1);
  long long value = 0;
  auto [ptr, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), value);
  if (ec != std::errc() || ptr != ms.data() + ms.size() || value < 0) return std::nullopt;
  return std::make_pair(spec.substr(0, colon), std::chrono::milliseconds(value));
}

}  // namespace

SwitchStepDelay ParseSwitchStepDelay(std::string_view spec) {
  SwitchStepDelay out;
  if (spec.empty()) return out;
  if (auto parts = SplitHookSpec(spec)) {
    if (auto step = engine::ParseSwitchStep(parts->first); step.ok()) {
      out.step = *step;
      out.delay = parts->second;
      spdlog::warn("TEST HOOK {}: the switch pauses {} ms after step {}", kSwitchStepDelayEnv,
                   out.delay.count(), engine::SwitchStepName(*step));
      return out;
    }
  }
  spdlog::warn("{}=\"{}\" is not <Step>:<ms>; ignored", kSwitchStepDelayEnv, std::string(spec));
  return out;
}

PhaseDelay ParsePhaseDelay(std::string_view spec) {
  PhaseDelay out;
  if (spec.empty()) return out;
  if (auto parts = SplitHookSpec(spec)) {
    if (auto phase = ParsePhase(parts->first); phase.ok()) {
      out.phase = *phase;
      out.delay = parts->second;
      spdlog::warn("TEST HOOK {}: the reconciler pauses {} ms after entering phase {}",
                   kPhaseDelayEnv, out.delay.count(), PhaseName(*phase));
      return out;
    }
  }
  spdlog::warn("{}=\"{}\" is not <Phase>:<ms>; ignored", kPhaseDelayEnv, std::string(spec));
  return out;
}

}  // namespace ruo::upgrade
