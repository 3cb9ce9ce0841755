// TEST ONLY. RUO_TEST_SWITCH_STEP_DELAY="<Step>:<ms>" (e.g. "Blocked:3000")
// makes the reconciler pause for <ms> right after switch step <Step>, and
// RUO_TEST_PHASE_DELAY="<Phase>:<ms>" (e.g. "Syncing:3000") right after the
// transition into <Phase> was persisted, so end-to-end tests can kill the
// operator at a known point. Unset in production; a malformed value is ignored
// with a warning.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "engine/switch_record.h"
#include "upgrade/types.h"

namespace ruo::upgrade {

inline constexpr const char* kSwitchStepDelayEnv = "RUO_TEST_SWITCH_STEP_DELAY";

struct SwitchStepDelay {
  std::optional<engine::SwitchStep> step;
  std::chrono::milliseconds delay{0};
};

SwitchStepDelay ParseSwitchStepDelay(std::string_view spec);

inline constexpr const char* kPhaseDelayEnv = "RUO_TEST_PHASE_DELAY";

struct PhaseDelay {
  std::optional<Phase> phase;
  std::chrono::milliseconds delay{0};
};

PhaseDelay ParsePhaseDelay(std::string_view spec);

}  // namespace ruo::upgrade
