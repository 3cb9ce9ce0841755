// Starts the real /metrics exposer and the health server on free loopback
// ports and reads them over HTTP with a plain socket.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "metrics/health_server.h"
#include "metrics/metrics_server.h"
#include "metrics/operator_metrics.h"

namespace ruo::metrics {
namespace {

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET http://127.0.0.1:port/path, HTTP/1.0 so the server closes after replying.
HttpReply Get(int port, const std::string& path) {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return reply;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return reply;
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return reply;
  }
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  if (raw.rfind("HTTP/1.", 0) == 0 && raw.size() > 12) reply.status = std::stoi(raw.substr(9, 3));
  auto sep = raw.find("\r\n\r\n");
  if (sep != std::string::npos) reply.body = raw.substr(sep + 4);
  return reply;
}

TEST(MetricsHttpTest, ServesMetricsHealthzAndReadyz) {
  OperatorMetrics metrics;
  metrics.SetPhase("shop", "u1", "WaitingForSwitch");
  metrics.SetLeader(true);
  auto ms = MetricsServer::Start("127.0.0.1:0", metrics);
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  ASSERT_GT((*ms)->port(), 0);

  std::atomic<bool> ready{false};
  HealthChecks checks;
  checks.healthz = [] { return Status::Ok(); };
  checks.readyz = [&] {
    return ready ? Status::Ok() : Unavailable("caches not synced: pods", "NotSynced");
  };
  auto hs = HealthServer::Start("127.0.0.1:0", checks);
  ASSERT_TRUE(hs.ok()) << hs.status().ToString();
  ASSERT_GT((*hs)->port(), 0);

  HttpReply m = Get((*ms)->port(), "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(
      m.body.find(R"(redisupgrade_phase{name="u1",namespace="shop",phase="WaitingForSwitch"} 1)"),
      std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("redisupgrade_leader 1"), std::string::npos);

  HttpReply h = Get((*hs)->port(), "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok\n");
  HttpReply r = Get((*hs)->port(), "/readyz");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("caches not synced"), std::string::npos);
  ready = true;
  r = Get((*hs)->port(), "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Get((*hs)->port(), "/nope").status, 404);
}

TEST(MetricsHttpTest, BindFailureIsAStatus) {
  OperatorMetrics metrics;
  auto first = HealthServer::Start("127.0.0.1:0", {});
  ASSERT_TRUE(first.ok());
  std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = HealthServer::Start(taken, {});
  EXPECT_FALSE(second.ok());
  EXPECT_EQ(second.status().reason(), "BindFailed");
  auto ms = MetricsServer::Start(taken, metrics);
  EXPECT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().reason(), "BindFailed");
  EXPECT_FALSE(MetricsServer::Start("nonsense", metrics).ok());
}

}  // namespace
}  // namespace ruo::metrics
