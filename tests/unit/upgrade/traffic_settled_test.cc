#include "upgrade/traffic_settled.h"

#include <gtest/gtest.h>

namespace ruo::upgrade {
namespace {

using nlohmann::json;

json Endpoint(const std::string& ip, std::optional<bool> ready) {
  json ep = {{"addresses", json::array({ip})}};
  if (ready) ep["conditions"] = {{"ready", *ready}};
  return ep;
}

json Slice(std::vector<json> endpoints) {
  return {{"addressType", "IPv4"}, {"endpoints", endpoints}};
}

const std::set<std::string> kNew = {"10.0.1.1", "10.0.1.2"};
constexpr const char* kOldIp = "10.0.0.1";

TEST(EndpointsListOnlyNewPodsTest, NewPodsOnly) {
  EXPECT_TRUE(EndpointsListOnlyNewPods({Slice({Endpoint("10.0.1.1", true)})}, kNew, kOldIp));
  // No ready condition means ready; a second slice counts too.
  EXPECT_TRUE(EndpointsListOnlyNewPods(
      {Slice({Endpoint("10.0.1.1", std::nullopt)}), Slice({Endpoint("10.0.1.2", true)})}, kNew,
      kOldIp));
}

TEST(EndpointsListOnlyNewPodsTest, OldMasterOrStrangerListedIsNotSettled) {
  EXPECT_FALSE(EndpointsListOnlyNewPods({Slice({Endpoint(kOldIp, true)})}, kNew, kOldIp));
  EXPECT_FALSE(EndpointsListOnlyNewPods(
      {Slice({Endpoint("10.0.1.1", true)}), Slice({Endpoint(kOldIp, false)})}, kNew, kOldIp));
  EXPECT_FALSE(EndpointsListOnlyNewPods(
      {Slice({Endpoint("10.0.1.1", true), Endpoint("10.0.9.9", true)})}, kNew, kOldIp));
}

TEST(EndpointsListOnlyNewPodsTest, NeedsOneReadyNewPod) {
  EXPECT_FALSE(EndpointsListOnlyNewPods({}, kNew, kOldIp));
  EXPECT_FALSE(EndpointsListOnlyNewPods({Slice({})}, kNew, kOldIp));
  EXPECT_FALSE(EndpointsListOnlyNewPods({Slice({Endpoint("10.0.1.1", false)})}, kNew, kOldIp));
  // A pod that is not ready takes no new connection: it does not block settling.
  EXPECT_TRUE(EndpointsListOnlyNewPods(
      {Slice({Endpoint("10.0.1.1", true), Endpoint("10.0.9.9", false)})}, kNew, kOldIp));
}

}  // namespace
}  // namespace ruo::upgrade
