#include <gtest/gtest.h>

#include <string>

#include "metrics/bind_address.h"
#include "metrics/operator_metrics.h"

namespace ruo::metrics {
namespace {

bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(OperatorMetricsTest, ScrapeCarriesEveryMetricAfterUpdates) {
  OperatorMetrics m;
  m.ObserveReconcile(kResultSuccess, 0.02);
  m.ObserveReconcile(kResultError, 0.5);
  m.ObserveReconcile(kResultTerminal, 0.1);
  m.ObserveReconcile(kResultRequeue, 0.01);
  m.SetWorkqueueDepth(3);
  m.ObserveWorkqueueLatency(0.004);
  m.SetPhase("shop", "orders-to-7", "Syncing");
  m.SetLagBytes("shop", "orders-to-7", 1234);
  m.ObserveWriteBlocked(0.0005);
  m.IncSwitchAttempts("shop", "orders-to-7");
  m.IncSwitchAttempts("shop", "orders-to-7");
  m.SetLeader(true);
  std::string t = m.ScrapeText();

  EXPECT_TRUE(Has(t, R"(redisupgrade_reconcile_total{result="success"} 1)")) << t;
  EXPECT_TRUE(Has(t, R"(redisupgrade_reconcile_total{result="error"} 1)"));
  EXPECT_TRUE(Has(t, R"(redisupgrade_reconcile_total{result="requeue"} 1)"));
  EXPECT_TRUE(Has(t, "redisupgrade_reconcile_errors_total 2"));
  EXPECT_TRUE(Has(t, "redisupgrade_reconcile_duration_seconds_count 4"));
  EXPECT_TRUE(Has(t, "redisupgrade_workqueue_depth 3"));
  EXPECT_TRUE(Has(t, "redisupgrade_workqueue_latency_seconds_count 1"));
  EXPECT_TRUE(
      Has(t, R"(redisupgrade_phase{name="orders-to-7",namespace="shop",phase="Syncing"} 1)"));
  EXPECT_TRUE(
      Has(t, R"(redisupgrade_phase{name="orders-to-7",namespace="shop",phase="Pending"} 0)"));
  EXPECT_TRUE(Has(t, R"(redisupgrade_lag_bytes{name="orders-to-7",namespace="shop"} 1234)"));
  EXPECT_TRUE(Has(t, "redisupgrade_write_blocked_seconds_count 1"));
  // Buckets from 1 ms to 60 s; 0.5 ms falls in the first.
  EXPECT_TRUE(Has(t, R"(redisupgrade_write_blocked_seconds_bucket{le="0.001"} 1)"));
  EXPECT_TRUE(Has(t, R"(redisupgrade_write_blocked_seconds_bucket{le="60"} 1)"));
  EXPECT_TRUE(
      Has(t, R"(redisupgrade_switch_attempts_total{name="orders-to-7",namespace="shop"} 2)"));
  EXPECT_TRUE(Has(t, "redisupgrade_leader 1"));
  EXPECT_TRUE(Has(t, "# TYPE redisupgrade_reconcile_duration_seconds histogram"));
}

TEST(OperatorMetricsTest, PhaseMovesAndForgetDropsTheSeries) {
  OperatorMetrics m;
  m.SetPhase("ns", "u", "Syncing");
  m.SetPhase("ns", "u", "Completed");
  m.SetLagBytes("ns", "u", 0);
  m.IncSwitchAttempts("ns", "u");
  m.SetPhase("ns", "keep", "Pending");
  std::string t = m.ScrapeText();
  EXPECT_TRUE(Has(t, R"(redisupgrade_phase{name="u",namespace="ns",phase="Completed"} 1)"));
  EXPECT_TRUE(Has(t, R"(redisupgrade_phase{name="u",namespace="ns",phase="Syncing"} 0)"));

  m.Forget("ns", "u");
  t = m.ScrapeText();
  EXPECT_FALSE(Has(t, R"(name="u")")) << t;
  EXPECT_TRUE(Has(t, R"(redisupgrade_phase{name="keep",namespace="ns",phase="Pending"} 1)"));
  m.Forget("ns", "never-seen");  // harmless
}

TEST(OperatorMetricsTest, ResultSeriesExistBeforeAnyReconcile) {
  OperatorMetrics m;
  std::string t = m.ScrapeText();
  EXPECT_TRUE(Has(t, R"(redisupgrade_reconcile_total{result="success"} 0)"));
  EXPECT_TRUE(Has(t, "redisupgrade_leader 0"));
}

TEST(OperatorMetricsTest, UnknownPhaseIsStillReported) {
  OperatorMetrics m;
  m.SetPhase("ns", "u", "RollingBack");
  EXPECT_TRUE(Has(m.ScrapeText(), R"(phase="RollingBack"} 1)"));
}

TEST(BindAddressTest, ControllerRuntimeForms) {
  auto ok = [](const std::string& in) {
    auto r = ToListeningPorts(in);
    EXPECT_TRUE(r.ok()) << in;
    return r.ok() ? r->value_or("<disabled>") : "<error>";
  };
  EXPECT_EQ(ok(":8080"), "8080");
  EXPECT_EQ(ok("127.0.0.1:8081"), "127.0.0.1:8081");
  EXPECT_EQ(ok("[::1]:9000"), "[::1]:9000");
  EXPECT_EQ(ok("127.0.0.1:0"), "127.0.0.1:0");
  EXPECT_EQ(ok("0"), "<disabled>");
  EXPECT_EQ(ok(""), "<disabled>");
  for (const char* bad : {"8080", "host:", "host:99999", ":http", "[::1:80"}) {
    EXPECT_FALSE(ToListeningPorts(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ruo::metrics
