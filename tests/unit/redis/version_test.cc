#include "redis/version.h"

#include <gtest/gtest.h>

namespace ruo::redis {
namespace {

Version V(std::string_view s) {
  auto v = Version::Parse(s);
  EXPECT_TRUE(v.ok()) << s << ": " << v.status().ToString();
  return v.ok() ? *v : Version{};
}

TEST(VersionTest, ParsesFullVersion) {
  Version v = V("7.0.15");
  EXPECT_EQ(v.major, 7);
  EXPECT_EQ(v.minor, 0);
  EXPECT_EQ(v.patch, 15);
  EXPECT_TRUE(v.has_patch);
  EXPECT_TRUE(v.has_minor);
  EXPECT_EQ(v.ToString(), "7.0.15");
}

TEST(VersionTest, ParsesReleaseLineAndMajor) {
  Version line = V("6.2");
  EXPECT_EQ(line.major, 6);
  EXPECT_EQ(line.minor, 2);
  EXPECT_FALSE(line.has_patch);
  EXPECT_EQ(line.ToString(), "6.2");

  Version major = V("7");
  EXPECT_EQ(major.major, 7);
  EXPECT_FALSE(major.has_minor);
  EXPECT_FALSE(major.has_patch);
  EXPECT_EQ(major.ToString(), "7");
}

TEST(VersionTest, AcceptsLeadingVAndIgnoresSuffix) {
  EXPECT_EQ(V("v5.0.14").ToString(), "5.0.14");
  EXPECT_EQ(V("7.2.0-rc1").ToString(), "7.2.0");
  EXPECT_EQ(V("2.8-rc2").ToString(), "2.8");
  EXPECT_EQ(V("255.255.255").ToString(), "255.255.255");  // unstable builds
}

TEST(VersionTest, RejectsGarbage) {
  for (std::string_view bad : {"", "v", "x", "7.", ".7", "7..1", "7.0.15.1", "7.0.a", "-1",
                               "7.0.15a", " 7.0", "7.0 ", "1234567890.0", "7,0", "-rc1"}) {
    auto v = Version::Parse(bad);
    ASSERT_FALSE(v.ok()) << "accepted \"" << bad << "\"";
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(v.status().reason(), "InvalidVersion");
  }
}

TEST(VersionTest, Orders) {
  EXPECT_LT(V("2.8.24"), V("3.0.0"));
  EXPECT_LT(V("3.2.12"), V("4.0.0"));
  EXPECT_LT(V("6.0.20"), V("6.2.0"));
  EXPECT_LT(V("7.0.9"), V("7.0.15"));  // numeric, not lexical
  EXPECT_GT(V("7.2.4"), V("7.0.15"));
  EXPECT_EQ(V("7.0"), V("7.0.0"));  // no patch compares as patch 0
  EXPECT_LT(V("7.0"), V("7.0.1"));
  EXPECT_EQ(V("7"), V("7.0.0"));
  EXPECT_NE(V("7.0.1"), V("7.0.2"));
}

TEST(VersionTest, MatchedBy) {
  EXPECT_TRUE(V("7.0").MatchedBy(V("7.0.15")));
  EXPECT_TRUE(V("7.0").MatchedBy(V("7.0.0")));
  EXPECT_FALSE(V("7.0").MatchedBy(V("7.2.4")));
  EXPECT_FALSE(V("7.0").MatchedBy(V("6.0.15")));
  EXPECT_TRUE(V("7.0.15").MatchedBy(V("7.0.15")));
  EXPECT_FALSE(V("7.0.15").MatchedBy(V("7.0.14")));
  EXPECT_TRUE(V("7").MatchedBy(V("7.2.4")));
  EXPECT_FALSE(V("7").MatchedBy(V("6.2.14")));
}

TEST(VersionTest, SameLine) {
  EXPECT_TRUE(V("6.2.1").SameLine(V("6.2.14")));
  EXPECT_FALSE(V("6.0.1").SameLine(V("6.2.1")));
}

}  // namespace
}  // namespace ruo::redis
