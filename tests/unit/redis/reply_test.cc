#include "redis/reply.h"

#include <gtest/gtest.h>

namespace ruo::redis {
namespace {

TEST(ReplyTest, DebugStringOfEachType) {
  EXPECT_EQ(DebugString(Reply::Status("OK")), "+OK");
  EXPECT_EQ(DebugString(Reply::Error("ERR unknown command")), "-ERR unknown command");
  EXPECT_EQ(DebugString(Reply::Integer(-42)), ":-42");
  EXPECT_EQ(DebugString(Reply::String("a\"b\\c\r\n\x01")), "\"a\\\"b\\\\c\\r\\n\\x01\"");
  EXPECT_EQ(DebugString(Reply::Nil()), "(nil)");
  EXPECT_EQ(DebugString(Reply::Array({})), "[]");
  EXPECT_EQ(DebugString(Reply::Array({Reply::Status("OK"), Reply::Integer(1),
                                      Reply::Array({Reply::String("x"), Reply::Nil()})})),
            "[+OK, :1, [\"x\", (nil)]]");
}

TEST(ReplyTest, DebugStringCutsLongBulk) {
  std::string s = DebugString(Reply::String(std::string(5000, 'a')));
  EXPECT_LT(s.size(), 200u);
  EXPECT_NE(s.find("(5000 bytes)"), std::string::npos);
}

TEST(ReplyTest, Predicates) {
  EXPECT_TRUE(Reply::Status("OK").IsOk());
  EXPECT_FALSE(Reply::String("OK").IsOk());
  EXPECT_TRUE(Reply::Error("ERR").IsError());
  EXPECT_EQ(Reply::Integer(3), Reply::Integer(3));
  EXPECT_NE(Reply::Integer(3), Reply::String("3"));
}

TEST(ReplyTest, StatusFromErrorReply) {
  struct Case {
    std::string_view error;
    StatusCode code;
    std::string_view reason;
  };
  for (const Case& c : {
           Case{"NOAUTH Authentication required.", StatusCode::kUnauthenticated, "AuthRequired"},
           Case{"WRONGPASS invalid username-password pair", StatusCode::kUnauthenticated,
                "AuthFailed"},
           Case{"NOPERM this user has no permissions", StatusCode::kPermissionDenied,
                "NoPermission"},
           Case{"READONLY You can't write against a read only replica.", StatusCode::kUnavailable,
                "ReadOnly"},
           Case{"NOREPLICAS Not enough good replicas to write.", StatusCode::kUnavailable,
                "NoReplicas"},
           Case{"LOADING Redis is loading the dataset in memory", StatusCode::kUnavailable,
                "Loading"},
           Case{"BUSY Redis is busy running a script.", StatusCode::kUnavailable, "Busy"},
           Case{"ERR syntax error", StatusCode::kFailedPrecondition, "RedisError"},
           Case{"EXECABORT Transaction discarded", StatusCode::kFailedPrecondition, "RedisError"},
       }) {
    Status s = StatusFromErrorReply("SET on 127.0.0.1:6379", c.error);
    EXPECT_EQ(s.code(), c.code) << c.error;
    EXPECT_EQ(s.reason(), c.reason) << c.error;
    EXPECT_EQ(s.message(), "SET on 127.0.0.1:6379: " + std::string(c.error));
  }
}

}  // namespace
}  // namespace ruo::redis
