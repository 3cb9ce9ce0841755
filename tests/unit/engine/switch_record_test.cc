#include "engine/switch_record.h"

#include <gtest/gtest.h>

namespace ruo::engine {
namespace {

TEST(SwitchRecordTest, StepNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(SwitchStep::kUndoing); ++i) {
    auto step = static_cast<SwitchStep>(i);
    auto parsed = ParseSwitchStep(SwitchStepName(step));
    ASSERT_TRUE(parsed.ok()) << SwitchStepName(step);
    EXPECT_EQ(*parsed, step);
  }
  EXPECT_EQ(SwitchStepName(SwitchStep::kTrafficMoved), "TrafficMoved");
  auto bad = ParseSwitchStep("Flying");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "InvalidSwitchRecord");
}

TEST(SwitchRecordTest, JsonRoundTripKeepsEveryField) {
  SwitchRecord r;
  r.attempt = 3;
  r.step = SwitchStep::kSealed;
  r.old_master = "10.0.0.1:6379";
  r.new_master = "10.0.0.2:6379";
  r.source_version = "4.0.14";
  r.saved_config = {{"min-slaves-to-write", "0"}, {"min-slaves-max-lag", "0"}};
  r.block_method = "multi-fence-pause";
  r.fence_offset = 1234;
  r.promoted_offset = 1219;
  r.sealed_offset = 1249;
  r.block_started_unix_ms = 1700000000123;
  r.write_blocked_ms = 42;
  r.clients_killed = 7;
  r.last_error = "catch-up timed out";
  r.replication_source = "10.0.0.1:6379";

  nlohmann::json j = r.ToJson();
  EXPECT_EQ(j["step"], "Sealed");
  auto back = SwitchRecord::FromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->attempt, r.attempt);
  EXPECT_EQ(back->step, r.step);
  EXPECT_EQ(back->old_master, r.old_master);
  EXPECT_EQ(back->new_master, r.new_master);
  EXPECT_EQ(back->source_version, r.source_version);
  EXPECT_EQ(back->saved_config, r.saved_config);
  EXPECT_EQ(back->block_method, r.block_method);
  EXPECT_EQ(back->fence_offset, r.fence_offset);
  EXPECT_EQ(back->promoted_offset, r.promoted_offset);
  EXPECT_EQ(back->sealed_offset, r.sealed_offset);
  EXPECT_EQ(back->block_started_unix_ms, r.block_started_unix_ms);
  EXPECT_EQ(back->write_blocked_ms, r.write_blocked_ms);
  EXPECT_EQ(back->clients_killed, r.clients_killed);
  EXPECT_EQ(back->last_error, r.last_error);
  EXPECT_EQ(back->replication_source, r.replication_source);
  EXPECT_EQ(back->ToJson(), j);
}

TEST(SwitchRecordTest, DefaultsForMissingFields) {
  auto r = SwitchRecord::FromJson(nlohmann::json::object());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->step, SwitchStep::kIdle);
  EXPECT_EQ(r->fence_offset, -1);
  EXPECT_EQ(r->write_blocked_ms, -1);
  EXPECT_TRUE(r->saved_config.empty());
}

TEST(SwitchRecordTest, BadJsonRefused) {
  EXPECT_FALSE(SwitchRecord::FromJson(nlohmann::json::array()).ok());
  auto r = SwitchRecord::FromJson(nlohmann::json{{"attempt", "three"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "InvalidSwitchRecord");
  EXPECT_FALSE(SwitchRecord::FromJson(nlohmann::json{{"step", "Nowhere"}}).ok());
}

}  // namespace
}  // namespace ruo::engine
