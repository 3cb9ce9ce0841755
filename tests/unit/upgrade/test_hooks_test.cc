// The chaos suite's test hooks and the old master's run_id in status.source.
#include "upgrade/test_hooks.h"

#include <gtest/gtest.h>

#include "upgrade/status_doc.h"

namespace ruo::upgrade {
namespace {

TEST(TestHooksTest, PhaseDelayParses) {
  PhaseDelay d = ParsePhaseDelay("WaitingForSwitch:2500");
  ASSERT_TRUE(d.phase.has_value());
  EXPECT_EQ(*d.phase, Phase::kWaitingForSwitch);
  EXPECT_EQ(d.delay, std::chrono::milliseconds(2500));
}

TEST(TestHooksTest, MalformedPhaseDelayIsIgnored) {
  for (const char* spec :
       {"", "Syncing", "Syncing:", "Syncing:-5", "Syncing:5x", "NoSuchPhase:100", ":100"}) {
    SCOPED_TRACE(spec);
    PhaseDelay d = ParsePhaseDelay(spec);
    EXPECT_FALSE(d.phase.has_value());
    EXPECT_EQ(d.delay.count(), 0);
  }
}

TEST(TestHooksTest, SwitchStepDelayParses) {
  SwitchStepDelay d = ParseSwitchStepDelay("Sealed:4000");
  ASSERT_TRUE(d.step.has_value());
  EXPECT_EQ(*d.step, engine::SwitchStep::kSealed);
  EXPECT_EQ(d.delay, std::chrono::milliseconds(4000));
}

TEST(TestHooksTest, MalformedSwitchStepDelayIsIgnored) {
  for (const char* spec :
       {"", "Blocked", "Blocked:", "Blocked:-5", "Blocked:5x", "NoSuchStep:100", ":100"}) {
    SCOPED_TRACE(spec);
    SwitchStepDelay d = ParseSwitchStepDelay(spec);
    EXPECT_FALSE(d.step.has_value());
    EXPECT_EQ(d.delay.count(), 0);
  }
}

TEST(StatusDocTest, SourceRunIdRoundTrips) {
  StatusDoc d;
  d.source.pod_uid = "uid-1";
  d.source.run_id = "0123456789abcdef";
  const nlohmann::json j = StatusDocToJson(d, nlohmann::json::object());
  EXPECT_EQ(j["source"]["runID"], "0123456789abcdef");
  auto back = StatusDocFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->source.run_id, "0123456789abcdef");
  EXPECT_EQ(back->source, d.source);
}

}  // namespace
}  // namespace ruo::upgrade
