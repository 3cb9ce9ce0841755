#include "redis/connection.h"

#include <gtest/gtest.h>

namespace ruo::redis {
namespace {

TEST(EndpointTest, ParsesHostPort) {
  auto ep = Endpoint::Parse("127.0.0.1:6379");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 6379);
  EXPECT_EQ(ep->ToString(), "127.0.0.1:6379");

  ep = Endpoint::Parse("redis-old-0.redis-old.default.svc:16379");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "redis-old-0.redis-old.default.svc");
  EXPECT_EQ(ep->port, 16379);
}

TEST(EndpointTest, ParsesBracketedIpv6) {
  auto ep = Endpoint::Parse("[::1]:7000");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->port, 7000);
  EXPECT_EQ(ep->ToString(), "[::1]:7000");
  EXPECT_EQ((Endpoint{"fe80::1", 1}).ToString(), "[fe80::1]:1");
}

TEST(EndpointTest, PortBounds) {
  EXPECT_TRUE(Endpoint::Parse("h:1").ok());
  EXPECT_TRUE(Endpoint::Parse("h:65535").ok());
  EXPECT_FALSE(Endpoint::Parse("h:0").ok());
  EXPECT_FALSE(Endpoint::Parse("h:65536").ok());
  EXPECT_FALSE(Endpoint::Parse("h:99999999999").ok());
}

TEST(EndpointTest, RejectsMalformed) {
  for (std::string_view bad :
       {"", "localhost", ":6379", "host:", "host:abc", "host:-1", "host:+80", "::1:6379", "[::1]",
        "[::1]6379", "[::1:6379", "[]:6379", "a b:6379", "host:6379 "}) {
    auto ep = Endpoint::Parse(bad);
    ASSERT_FALSE(ep.ok()) << "accepted \"" << bad << "\"";
    EXPECT_EQ(ep.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(ep.status().reason(), "InvalidAddress");
  }
}

TEST(EndpointTest, Equality) {
  EXPECT_EQ((Endpoint{"a", 1}), (Endpoint{"a", 1}));
  EXPECT_NE((Endpoint{"a", 1}), (Endpoint{"a", 2}));
}

TEST(DescribeCommandTest, NamesWithoutSecretValues) {
  EXPECT_EQ(DescribeCommand({"set", "k", "v"}), "SET");
  EXPECT_EQ(DescribeCommand({"AUTH", "hunter2"}), "AUTH");
  EXPECT_EQ(DescribeCommand({"config", "set", "masterauth", "hunter2"}), "CONFIG SET masterauth");
  EXPECT_EQ(DescribeCommand({"CONFIG", "GET", "min-replicas-to-write"}),
            "CONFIG GET min-replicas-to-write");
  EXPECT_EQ(DescribeCommand({"client", "pause", "100", "WRITE"}), "CLIENT PAUSE");
  EXPECT_EQ(DescribeCommand({"SLAVEOF", "127.0.0.1", "1"}), "SLAVEOF 127.0.0.1 1");
  EXPECT_EQ(DescribeCommand({"SLAVEOF", "NO", "ONE"}), "SLAVEOF NO ONE");
  EXPECT_EQ(DescribeCommand({}), "(empty command)");
}

TEST(RedactSecretsTest, RedactsOnlySecretArguments) {
  EXPECT_EQ(RedactSecrets("ERR bad 'hunter2'", {"AUTH", "hunter2"}), "ERR bad '<redacted>'");
  EXPECT_EQ(RedactSecrets("ERR user bob pw hunter2", {"AUTH", "bob", "hunter2"}),
            "ERR user <redacted> pw <redacted>");
  EXPECT_EQ(RedactSecrets("ERR 'hunter2' 'hunter2'", {"CONFIG", "SET", "requirepass", "hunter2"}),
            "ERR '<redacted>' '<redacted>'");
  EXPECT_EQ(RedactSecrets("ERR hunter2 maxmemory",
                          {"CONFIG", "SET", "maxmemory", "1", "masterauth", "hunter2"}),
            "ERR <redacted> maxmemory");
  EXPECT_EQ(RedactSecrets("ERR s3cr3t", {"HELLO", "3", "AUTH", "default", "s3cr3t"}),
            "ERR <redacted>");
  EXPECT_EQ(RedactSecrets("ERR p4ss", {"MIGRATE", "h", "1", "", "0", "5", "AUTH", "p4ss"}),
            "ERR <redacted>");
  EXPECT_EQ(RedactSecrets("ERR >pw", {"ACL", "SETUSER", "bob", ">pw"}), "ERR <redacted>");
  // Values of other commands are not secrets and stay readable.
  EXPECT_EQ(RedactSecrets("ERR value 5", {"CONFIG", "SET", "maxmemory", "5"}), "ERR value 5");
  // A secret that is a substring of the marker does not loop.
  EXPECT_EQ(RedactSecrets("x r x", {"AUTH", "r"}), "x <redacted> x");
}

}  // namespace
}  // namespace ruo::redis
