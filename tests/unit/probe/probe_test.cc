// Unit tests of the probe writer: pacing, gap accounting, error kinds and
// verification, with a fake clock and a scripted fake connection (the write
// mix and pub/sub are in mix_test.cc).
#include "probe/probe.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "unit/probe/fake_server.h"

namespace ruo::probe {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

using fakes::FakeConnection;
using fakes::FakeDialer;
using fakes::FakeServer;

class ProbeWriterTest : public ::testing::Test {
 protected:
  ProbeWriterTest() {
    server_.clock = &clock_;
    server_.start = clock_.Monotonic();
    opts_.addr = {"127.0.0.1", 6379};
    opts_.run_id = "run1";
    opts_.key_prefix = "p";
  }

  ProbeResult RunProbe() {
    FakeDialer dialer(server_);
    Writer w(opts_, dialer, clock_);
    return w.Run(stop_);
  }

  FakeClock clock_;
  FakeServer server_;
  ProbeOptions opts_;
  std::atomic<bool> stop_{false};
};

TEST(ErrorKindTest, ClassifiesReplies) {
  EXPECT_EQ(ClassifyErrorReply("READONLY You can't write against a read only replica."),
            ErrorKind::kReadOnly);
  EXPECT_EQ(ClassifyErrorReply("NOREPLICAS Not enough good replicas to write."),
            ErrorKind::kNoReplicas);
  EXPECT_EQ(ClassifyErrorReply("ERR something"), ErrorKind::kOther);
  EXPECT_EQ(ClassifyErrorReply("LOADING Redis is loading"), ErrorKind::kOther);
}

TEST(ErrorKindTest, ClassifiesTransportFailures) {
  EXPECT_EQ(ClassifyTransportError(DeadlineExceeded("read timed out")), ErrorKind::kTimeout);
  EXPECT_EQ(ClassifyTransportError(Unavailable("connection refused")), ErrorKind::kConnection);
  EXPECT_EQ(ClassifyTransportError(Unauthenticated("bad password", "AuthFailed")),
            ErrorKind::kOther);
  EXPECT_EQ(ErrorKindName(ErrorKind::kReadOnly), "READONLY");
  EXPECT_EQ(ErrorKindName(ErrorKind::kTimeout), "timeout");
}

TEST(GapTrackerTest, CountsFromStartAndBetweenSuccesses) {
  const std::chrono::steady_clock::time_point t0{};
  GapTracker g(t0);
  g.Success(t0 + milliseconds(30));   // start → first success: 30
  g.Success(t0 + milliseconds(40));   // 10
  g.Success(t0 + milliseconds(120));  // 80
  g.Success(t0 + milliseconds(121));
  EXPECT_EQ(g.MaxGap(t0 + seconds(10)), milliseconds(80));  // the tail does not count
}

TEST(GapTrackerTest, NoSuccessIsOneGapOverTheWholeRun) {
  const std::chrono::steady_clock::time_point t0{};
  GapTracker g(t0);
  EXPECT_FALSE(g.any_success());
  EXPECT_EQ(g.MaxGap(t0 + milliseconds(500)), milliseconds(500));
}

TEST(PacerTest, SlotsAreEvenlySpaced) {
  const std::chrono::steady_clock::time_point t0{};
  Pacer p(1000, t0, milliseconds(200));
  EXPECT_EQ(p.Next(t0), t0);
  EXPECT_EQ(p.Next(t0), t0 + milliseconds(1));
  EXPECT_EQ(p.Next(t0), t0 + milliseconds(2));
  // Slightly behind: the backlog is kept (the writer catches up).
  EXPECT_EQ(p.Next(t0 + milliseconds(50)), t0 + milliseconds(3));
  EXPECT_EQ(p.skipped(), 0);
}

TEST(PacerTest, ForgivesBacklogBeyondTheLimit) {
  const std::chrono::steady_clock::time_point t0{};
  Pacer p(1000, t0, milliseconds(200));
  p.Next(t0);
  // One second late: only 200 ms of backlog remain.
  const auto due = p.Next(t0 + seconds(1));
  EXPECT_GE(due, t0 + milliseconds(799));
  EXPECT_LE(due, t0 + milliseconds(801));
  EXPECT_GT(p.skipped(), 790);
}

TEST_F(ProbeWriterTest, WritesAtTheTargetRate) {
  opts_.rate = 1000;
  opts_.duration = seconds(2);
  server_.latency = microseconds(50);
  ProbeResult r = RunProbe();
  EXPECT_NEAR(static_cast<double>(r.acked_seqs.size()), 2000, 2);
  EXPECT_EQ(r.errors, 0);
  EXPECT_EQ(r.dials, 1);
  EXPECT_FALSE(r.interrupted);
  // Successes come every millisecond; the first after 50 µs.
  EXPECT_LE(r.max_gap, microseconds(1001));
  EXPECT_GE(r.max_gap, microseconds(999));
  // Every acked seq is stored under its key with its value.
  EXPECT_EQ(server_.data.at("p:run1:0"), "0");
  EXPECT_EQ(server_.data.at("p:run1:1999"), "1999");
  nlohmann::json j = ReportJson(opts_, r, std::nullopt, std::nullopt);
  EXPECT_NEAR(j["rate_achieved"].get<double>(), 1000, 5);
  EXPECT_NEAR(j["duration_s"].get<double>(), 2.0, 0.01);
  EXPECT_FALSE(j.contains("lost"));
}

TEST_F(ProbeWriterTest, SlowServerLowersTheAchievedRate) {
  opts_.rate = 1000;
  opts_.duration = seconds(1);
  server_.latency = milliseconds(2);  // at most 500 writes/s on one connection
  ProbeResult r = RunProbe();
  EXPECT_NEAR(static_cast<double>(r.acked_seqs.size()), 500, 2);
  EXPECT_EQ(r.max_gap, milliseconds(2));
}

TEST_F(ProbeWriterTest, ErrorRepliesCountByKindReconnectAndWidenTheGap) {
  opts_.rate = 1000;
  opts_.duration = seconds(1);
  server_.latency = microseconds(10);
  // 300–450 ms: the old master answers READONLY; 450–500 ms: NOREPLICAS.
  server_.script = [](const std::vector<std::string>&, milliseconds t) -> StatusOr<redis::Reply> {
    if (t >= milliseconds(300) && t < milliseconds(450)) {
      return redis::Reply::Error("READONLY You can't write against a read only replica.");
    }
    if (t >= milliseconds(450) && t < milliseconds(500)) {
      return redis::Reply::Error("NOREPLICAS Not enough good replicas to write.");
    }
    return redis::Reply::Status("OK");
  };
  ProbeResult r = RunProbe();
  const auto& k = r.errors_by_kind;
  EXPECT_NEAR(k[static_cast<int>(ErrorKind::kReadOnly)], 150, 2);
  EXPECT_NEAR(k[static_cast<int>(ErrorKind::kNoReplicas)], 50, 2);
  EXPECT_EQ(r.errors, k[0] + k[1]);
  EXPECT_EQ(r.dials, r.errors + 1);  // each error reply drops the connection
  EXPECT_GE(r.max_gap, milliseconds(200));
  EXPECT_LE(r.max_gap, milliseconds(202));
  EXPECT_NE(r.first_error.find("READONLY"), std::string::npos);
  EXPECT_NE(r.last_error.find("NOREPLICAS"), std::string::npos);
  nlohmann::json j = ReportJson(opts_, r, std::nullopt, std::nullopt);
  EXPECT_NEAR(j["max_gap_ms"].get<double>(), 200, 2);
  EXPECT_EQ(j["errors_by_kind"]["READONLY"], k[0]);
  EXPECT_EQ(j["errors_by_kind"]["connection"], 0);
}

TEST_F(ProbeWriterTest, TransportFailuresAndRefusedDialsAreRetried) {
  opts_.rate = 1000;
  opts_.duration = seconds(1);
  opts_.reconnect_delay = milliseconds(5);
  server_.latency = microseconds(10);
  // 200–210 ms: writes time out; 210–300 ms: the server is down (dials refused).
  server_.script = [](const std::vector<std::string>&, milliseconds t) -> StatusOr<redis::Reply> {
    if (t >= milliseconds(200) && t < milliseconds(300)) return DeadlineExceeded("timed out");
    return redis::Reply::Status("OK");
  };
  server_.dial_script = [](milliseconds t) -> Status {
    if (t >= milliseconds(200) && t < milliseconds(300)) return Unavailable("connection refused");
    return Status::Ok();
  };
  ProbeResult r = RunProbe();
  EXPECT_EQ(r.errors_by_kind[static_cast<int>(ErrorKind::kTimeout)], 1);
  // One refused dial every 5 ms over ~100 ms.
  EXPECT_NEAR(r.errors_by_kind[static_cast<int>(ErrorKind::kConnection)], 20, 2);
  EXPECT_GE(r.max_gap, milliseconds(99));
  EXPECT_LE(r.max_gap, milliseconds(106));
  // No burst after the outage: at most the forgiven backlog is caught up.
  EXPECT_LE(r.acked_seqs.size(), 1000u);
  EXPECT_GE(r.acked_seqs.size(), 890u);
}

TEST_F(ProbeWriterTest, StopFlagEndsTheRunEarly) {
  opts_.rate = 1000;
  opts_.duration = seconds(100);
  server_.script = [this](const std::vector<std::string>&,
                          milliseconds t) -> StatusOr<redis::Reply> {
    if (t >= milliseconds(100)) stop_.store(true);
    return redis::Reply::Status("OK");
  };
  ProbeResult r = RunProbe();
  EXPECT_TRUE(r.interrupted);
  EXPECT_NEAR(static_cast<double>(r.acked_seqs.size()), 101, 2);
  EXPECT_LT(r.elapsed, milliseconds(110));
}

TEST_F(ProbeWriterTest, NothingAcknowledgedMeansTheWholeRunIsAGap) {
  opts_.rate = 100;
  opts_.duration = milliseconds(500);
  server_.dial_script = [](milliseconds) -> Status { return Unavailable("refused"); };
  ProbeResult r = RunProbe();
  EXPECT_TRUE(r.acked_seqs.empty());
  EXPECT_EQ(r.attempts, 0);
  EXPECT_GE(r.max_gap, milliseconds(500));
  EXPECT_GT(r.errors, 0);
}

TEST_F(ProbeWriterTest, RunIdIsGeneratedWhenEmpty) {
  opts_.run_id.clear();
  opts_.duration = milliseconds(10);
  ProbeResult r = RunProbe();
  EXPECT_EQ(r.run_id.size(), 8u);
  EXPECT_NE(NewRunId(), NewRunId());
}

TEST(KeyForTest, Format) {
  EXPECT_EQ(KeyFor("probe", "ab12", 42), "probe:ab12:42");
}

class VerifyTest : public ::testing::Test {
 protected:
  VerifyTest() { server_.clock = &clock_; }
  FakeClock clock_;
  FakeServer server_;
};

TEST_F(VerifyTest, FindsMissingAndWrongValuesInBatches) {
  std::vector<int64_t> acked;
  for (int64_t i = 0; i < 2500; ++i) {
    acked.push_back(i);
    server_.data[KeyFor("p", "r", i)] = std::to_string(i);
  }
  for (int64_t gone : {5, 17, 1200, 2499}) server_.data.erase(KeyFor("p", "r", gone));
  server_.data[KeyFor("p", "r", 9)] = "not-9";
  FakeConnection conn(server_);
  auto v = Verify(conn, "p", "r", acked);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->checked, 2500);
  EXPECT_EQ(v->lost, 5);
  EXPECT_EQ(v->lost_sample,
            (std::vector<std::string>{"p:r:5", "p:r:9", "p:r:17", "p:r:1200", "p:r:2499"}));
  EXPECT_EQ(server_.pipelines, 3);  // 1000 + 1000 + 500
}

TEST_F(VerifyTest, SampleKeepsTheFirstTen) {
  std::vector<int64_t> acked;
  for (int64_t i = 0; i < 50; ++i) acked.push_back(i);
  FakeConnection conn(server_);
  auto v = Verify(conn, "p", "r", acked, 7);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->lost, 50);
  ASSERT_EQ(v->lost_sample.size(), 10u);
  EXPECT_EQ(v->lost_sample.front(), "p:r:0");
  EXPECT_EQ(v->lost_sample.back(), "p:r:9");
  EXPECT_EQ(server_.pipelines, 8);
}

TEST_F(VerifyTest, TransportFailureIsAnError) {
  server_.script = [](const std::vector<std::string>&, milliseconds) -> StatusOr<redis::Reply> {
    return Unavailable("connection reset");
  };
  FakeConnection conn(server_);
  auto v = Verify(conn, "p", "r", {1, 2, 3});
  EXPECT_FALSE(v.ok());
}

TEST(ReportJsonTest, CarriesLostOnlyWithVerify) {
  ProbeOptions opts;
  opts.addr = {"127.0.0.1", 7000};
  opts.rate = 5000;
  ProbeResult r;
  r.acked_seqs = {0, 1, 2};
  r.elapsed = seconds(1);
  r.max_gap = microseconds(1500);
  VerifyResult v;
  v.checked = 3;
  v.lost = 1;
  v.lost_sample = {"p:r:1"};
  nlohmann::json j = ReportJson(opts, r, v, std::nullopt);
  for (const char* field :
       {"acked", "errors", "errors_by_kind", "max_gap_ms", "lost", "lost_sample", "rate_target",
        "rate_achieved", "duration_s", "first_error", "last_error"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  EXPECT_EQ(j["acked"], 3);
  EXPECT_EQ(j["lost"], 1);
  EXPECT_DOUBLE_EQ(j["max_gap_ms"].get<double>(), 1.5);
  EXPECT_TRUE(j["first_error"].is_null());
  EXPECT_EQ(j["errors_by_kind"].size(), 5u);
}

}  // namespace
}  // namespace ruo::probe
