// End-to-end across real versions: a real old Redis instance (the node agent
// maps redis:2.8 / redis:6.2 to real 2.8.19 / 6.2.14 servers) upgraded by the
// operator to a newer major under live mixed writes through the Service VIP,
// with no allowSameVersion.
#include "e2e/upgrade_fixture.h"

namespace ruo::e2e {
namespace {

struct VersionPair {
  const char* source_image;
  const char* source_version;
  const char* target;
  const char* target_version;
  const char* block_method;
};

void PrintTo(const VersionPair& p, std::ostream* os) {
  *os << p.source_image << " -> " << p.target;
}

class VersionE2ETest : public UpgradeE2ETest, public ::testing::WithParamInterface<VersionPair> {};

TEST_P(VersionE2ETest, UpgradesToANewerMajorUnderLiveWrites) {
  const VersionPair& v = GetParam();
  OldInstance old;
  old.image = v.source_image;
  const std::string old_addr = DeployOld(old);
  ASSERT_FALSE(old_addr.empty());
  ASSERT_TRUE(LoadKeys(old_addr, 20000, "seed").ok());
  const auto vip = cluster_->Vip(ns_, kService);
  ASSERT_TRUE(vip) << "no VIP for the Service";
  StartOperator();
  UpgradeSpec spec;
  spec.ns = ns_;
  spec.name = kUpgrade;
  spec.target_version = v.target;
  spec.allow_same_version = false;
  Apply(UpgradeYaml(spec));

  const std::string new_addr = WaitNewMasterAddr();
  ASSERT_FALSE(new_addr.empty());
  StartProbe(*vip, new_addr, 15, std::nullopt, /*mix=*/true);
  const json u = WaitPhase({"Completed", "Failed"}, seconds(150));
  ASSERT_EQ(u.value("/status/phase"_json_pointer, ""), "Completed") << u.dump(2);
  EXPECT_EQ(u.value("/status/sourceVersion"_json_pointer, ""), v.source_version);
  EXPECT_EQ(u.value("/status/targetVersion"_json_pointer, ""), v.target_version);
  EXPECT_EQ(u.value("/status/switch/record/blockMethod"_json_pointer, ""), v.block_method);
  // Checked versions: no warning condition.
  for (const auto& c : u.value("/status/conditions"_json_pointer, json::array())) {
    EXPECT_NE(c.value("type", ""), "VersionsChecked") << c.dump();
  }
  const json probe = ProbeReport();
  ExpectCompletedSwitch(Upgrade(), old_addr, new_addr, 20000, probe);
  EXPECT_EQ(probe.value("ttl_lost", int64_t{-1}), 0) << probe.dump();
  for (const char* kind : {"set", "eval", "multi", "set_ex"}) {
    EXPECT_GT(probe.value("/mix"_json_pointer / kind / "acked", int64_t{0}), 0)
        << kind << ": " << probe.dump();
  }
  std::cout << "[e2e] " << v.source_version << " -> " << v.target_version
            << " mix=" << probe.value("mix", json()).dump()
            << " pubsub=" << probe.value("pubsub", json()).dump() << std::endl;
}

INSTANTIATE_TEST_SUITE_P(
    RealServers, VersionE2ETest,
    ::testing::Values(VersionPair{"redis:2.8", "2.8.19", "7.0", "7.0.15", "fence"},
                      VersionPair{"redis:2.8", "2.8.19", "8.2", "8.2.3", "fence"},
                      VersionPair{"redis:6.2", "6.2.14", "8.2", "8.2.3", "pause-write"}),
    [](const ::testing::TestParamInfo<VersionPair>& info) {
      std::string n =
          std::string("from_") + info.param.source_version + "_to_" + info.param.target_version;
      for (char& c : n) {
        if (c == '.') c = '_';
      }
      return n;
    });

}  // namespace
}  // namespace ruo::e2e
