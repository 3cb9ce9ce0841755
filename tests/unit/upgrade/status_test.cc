#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "k8s/resource.h"
#include "unit/upgrade/fake_k8s_client.h"
#include "upgrade/status_throttle.h"
#include "upgrade/status_tx.h"
#include "upgrade/status_writer.h"

namespace ruo::upgrade {
namespace {

using nlohmann::json;
using testing::FakeK8sClient;

const Condition& Cond(const StatusDoc& d, const char* type) {
  const Condition* c = FindCondition(d.s.conditions, type);
  EXPECT_NE(c, nullptr) << type;
  static const Condition kNone;
  return c ? *c : kNone;
}

TEST(StatusTxTest, EnterPhaseSetsTimesAndConditions) {
  StatusDoc d;
  TxEnterPhase(d, Phase::kSyncing, "Provisioned", "pods ready", "2026-01-01T00:00:00Z");
  EXPECT_EQ(d.s.phase, Phase::kSyncing);
  EXPECT_EQ(d.s.phase_times.at("Syncing"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(Cond(d, kReady).status, "False");
  EXPECT_EQ(Cond(d, kReady).reason, "Syncing");
  EXPECT_EQ(Cond(d, kProgressing).status, "True");
  EXPECT_EQ(Cond(d, kDegraded).status, "False");

  // Same phase again: the entry time stays.
  TxEnterPhase(d, Phase::kSyncing, "Provisioned", "pods ready", "2026-01-01T00:05:00Z");
  EXPECT_EQ(d.s.phase_times.at("Syncing"), "2026-01-01T00:00:00Z");

  TxEnterPhase(d, Phase::kCompleted, "SwitchCompleted", "done", "2026-01-01T00:10:00Z");
  EXPECT_EQ(Cond(d, kReady).status, "True");
  EXPECT_EQ(Cond(d, kReady).last_transition_time, "2026-01-01T00:10:00Z");
  EXPECT_EQ(Cond(d, kProgressing).status, "False");
}

TEST(StatusTxTest, FailCarriesTheReason) {
  StatusDoc d;
  TxEnterPhase(d, Phase::kValidating, "Validating", "", "2026-01-01T00:00:00Z");
  TxFail(d, "DowngradeRefused", "no way back", "2026-01-01T00:00:01Z");
  EXPECT_EQ(d.s.phase, Phase::kFailed);
  EXPECT_EQ(d.s.reason, "DowngradeRefused");
  EXPECT_EQ(d.s.message, "no way back");
  EXPECT_EQ(Cond(d, kReady).reason, "DowngradeRefused");
  EXPECT_EQ(Cond(d, kDegraded).status, "True");
  EXPECT_EQ(Cond(d, kDegraded).reason, "DowngradeRefused");
  EXPECT_EQ(Cond(d, kProgressing).status, "False");
}

TEST(StatusTxTest, DegradedClockRestartsWithANewReason) {
  StatusDoc d;
  TxSetDegraded(d, "SourceUnreachable", "m", "2026-01-01T00:00:00Z");
  TxSetDegraded(d, "SourceUnreachable", "m2", "2026-01-01T00:00:30Z");
  EXPECT_EQ(Rfc3339(*DegradedSince(d, "SourceUnreachable")), "2026-01-01T00:00:00Z");
  TxSetDegraded(d, "CatchUpTimeout", "m", "2026-01-01T00:01:00Z");
  EXPECT_FALSE(DegradedSince(d, "SourceUnreachable"));
  EXPECT_EQ(Rfc3339(*DegradedSince(d, "CatchUpTimeout")), "2026-01-01T00:01:00Z");
  TxClearDegraded(d, "2026-01-01T00:02:00Z", "SourceUnreachable");  // another reason: kept
  EXPECT_TRUE(DegradedSince(d, "CatchUpTimeout"));
  TxClearDegraded(d, "2026-01-01T00:02:00Z");
  EXPECT_FALSE(DegradedSince(d, "CatchUpTimeout"));
}

TEST(StatusTxTest, SwitchRecordAndRelease) {
  StatusDoc d;
  TxStartSwitch(d, "lag 0", "2026-01-01T00:00:00Z");
  EXPECT_EQ(d.s.sw.attempts, 1);
  EXPECT_EQ(d.s.phase, Phase::kSwitching);
  engine::SwitchRecord r;
  r.attempt = 1;
  r.step = engine::SwitchStep::kIdle;
  r.last_error = "catch-up timed out after 60000 ms";
  r.write_blocked_ms = 60000;
  EXPECT_EQ(ReleaseReason(r), "CatchUpTimeout");
  TxSwitchReleased(d, r, ReleaseReason(r), "2026-01-01T00:01:00Z");
  EXPECT_EQ(d.s.phase, Phase::kWaitingForSwitch);
  EXPECT_EQ(d.s.sw.step, "Idle");
  EXPECT_EQ(Cond(d, kDegraded).reason, "CatchUpTimeout");
  EXPECT_EQ(d.s.sw.record["attempt"], 1);
  r.step = engine::SwitchStep::kCompleted;
  r.write_blocked_ms = 3;
  TxSwitchCompleted(d, r, "2026-01-01T00:02:00Z");
  EXPECT_EQ(d.s.phase, Phase::kCompleted);
  EXPECT_EQ(d.s.sw.write_blocked_millis, 3);
  EXPECT_EQ(d.s.sw.completed_at, "2026-01-01T00:02:00Z");
  EXPECT_EQ(Cond(d, kDegraded).status, "False");
}

TEST(StatusDocTest, RoundTripKeepsUnknownFields) {
  StatusDoc d;
  d.s.phase = Phase::kSyncing;
  d.source = SourceRecord{"uid-1", "10.0.0.1", 6379, 2};
  const json previous = {{"phase", "Provisioning"}, {"futureField", 42}, {"reason", "old"}};
  const json out = StatusDocToJson(d, previous);
  EXPECT_EQ(out["futureField"], 42);
  EXPECT_FALSE(out.contains("reason"));  // an owned field now empty is dropped
  EXPECT_EQ(out["source"]["podIP"], "10.0.0.1");
  EXPECT_EQ(*StatusDocFromJson(out), d);
}

class StatusWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_.Put(k8s::resources::RedisUpgrades(),
                {{"apiVersion", "redisupgrade.dev/v1alpha1"},
                 {"kind", "RedisUpgrade"},
                 {"metadata", {{"name", "u"}, {"namespace", "ns"}, {"generation", 2}}},
                 {"spec", {{"instance", {{"service", "s"}}}, {"targetVersion", "7.0"}}}});
    auto w =
        StatusWriter::FromObject(client_, client_.At(k8s::resources::RedisUpgrades(), "ns", "u"));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    writer_ = std::move(w).value();
  }
  FakeK8sClient client_;
  std::unique_ptr<StatusWriter> writer_;
};

TEST_F(StatusWriterTest, WritesWithResourceVersionAndSkipsNoOps) {
  const StatusTx enter = [](StatusDoc& d) {
    TxEnterPhase(d, Phase::kValidating, "Validating", "m", "2026-01-01T00:00:00Z");
  };
  ASSERT_TRUE(writer_->Commit(enter).ok());
  EXPECT_EQ(client_.Count("UpdateStatus"), 1);
  const json stored = client_.At(k8s::resources::RedisUpgrades(), "ns", "u");
  EXPECT_EQ(stored["status"]["phase"], "Validating");
  EXPECT_EQ(stored["status"]["observedGeneration"], 2);
  EXPECT_EQ(writer_->upgrade().resource_version, stored["metadata"]["resourceVersion"]);
  // The same transaction again changes nothing: no PUT.
  ASSERT_TRUE(writer_->Commit(enter).ok());
  EXPECT_EQ(client_.Count("UpdateStatus"), 1);
}

TEST_F(StatusWriterTest, ConflictRereadsAndReappliesOnce) {
  // Someone else writes the object (an annotation): our resourceVersion is stale.
  json& stored = client_.At(k8s::resources::RedisUpgrades(), "ns", "u");
  stored["metadata"]["annotations"] = {{"redisupgrade.dev/switch-now", "true"}};
  stored["metadata"]["resourceVersion"] = "999";
  ASSERT_TRUE(writer_->Commit([](StatusDoc& d) { d.s.sw.attempts = 5; }).ok());
  EXPECT_EQ(client_.Count("UpdateStatus"), 2);  // 409, then the retry
  EXPECT_EQ(client_.Count("Get"), 1);           // the re-read
  EXPECT_TRUE(writer_->upgrade().SwitchNowRequested());
  EXPECT_EQ(client_.At(k8s::resources::RedisUpgrades(), "ns", "u")["status"]["switch"]["attempts"],
            5);
}

TEST_F(StatusWriterTest, PersistentConflictIsAnError) {
  client_.fault = [](const std::string& verb, const std::string&, const std::string&) {
    return verb == "UpdateStatus" ? Status(StatusCode::kAborted, "conflict", "Conflict")
                                  : Status::Ok();
  };
  Status s = writer_->Commit([](StatusDoc& d) { d.s.sw.attempts = 1; });
  EXPECT_EQ(s.reason(), "Conflict");
  EXPECT_EQ(client_.Count("UpdateStatus"), 2);
  EXPECT_EQ(writer_->doc().s.sw.attempts, 0);  // what is stored
}

}  // namespace
}  // namespace ruo::upgrade

namespace ruo::upgrade {
namespace {

TEST(StatusThrottleTest, ProgressFiguresAreRateLimited) {
  StatusThrottle throttle(std::chrono::seconds(5));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  StatusDoc stored;
  stored.s.phase = Phase::kWaitingForSwitch;
  stored.s.sync.lag_bytes = 10;
  StatusDoc next = stored;
  next.s.sync.lag_bytes = 20;
  next.s.message = "lag 20";
  EXPECT_TRUE(OnlyProgressDiffers(stored, next));
  EXPECT_TRUE(throttle.Due("k", stored, next, t0));  // never written yet
  throttle.Wrote("k", t0);
  EXPECT_FALSE(throttle.Due("k", stored, next, t0 + std::chrono::seconds(1)));
  EXPECT_TRUE(throttle.Due("k", stored, next, t0 + std::chrono::seconds(5)));
  EXPECT_FALSE(throttle.Due("k", stored, stored, t0 + std::chrono::seconds(9)));
  // Anything else is written at once.
  StatusDoc other = next;
  other.s.sync.master_link_status = "down";
  EXPECT_TRUE(throttle.Due("k", stored, other, t0 + std::chrono::seconds(1)));
  StatusDoc reason = next;
  reason.s.reason = "LagTooHigh";
  EXPECT_TRUE(throttle.Due("k", stored, reason, t0 + std::chrono::seconds(1)));
  StatusDoc vanished = stored;
  vanished.s.sync.lag_bytes.reset();
  EXPECT_TRUE(throttle.Due("k", stored, vanished, t0 + std::chrono::seconds(1)));
  // Another upgrade has a clock of its own.
  EXPECT_TRUE(throttle.Due("other", stored, next, t0 + std::chrono::seconds(1)));
}

}  // namespace
}  // namespace ruo::upgrade
