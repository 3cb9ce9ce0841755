#include "engine/migration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "unit/engine/fake_connection.h"

namespace ruo::engine {
namespace {

using testing::Bulk;
using testing::ConfigValue;
using testing::FakeConnection;
using testing::FakeDialer;
using ::testing::HasSubstr;
using testing::InfoMaster;
using testing::InfoServer;

const redis::Endpoint kSource{"127.0.0.1", 7000};
const redis::Endpoint kTarget{"127.0.0.1", 7001};

MigrationOptions Options() {
  MigrationOptions o;
  o.source = kSource;
  o.target = kTarget;
  return o;
}

TEST(MigrationTest, SourceUnreachable) {
  FakeDialer dialer;
  FakeClock clock;
  std::vector<std::string> lines;
  MigrationReport r =
      RunMigration(Options(), dialer, clock, [&](const std::string& l) { lines.push_back(l); });
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(r.error, "source 127.0.0.1:7000 unreachable: Connection refused");
  EXPECT_EQ(r.error_reason, "SourceUnreachable");
  EXPECT_EQ(dialer.dials(), std::vector<std::string>{"127.0.0.1:7000"});
  EXPECT_FALSE(lines.empty());
}

TEST(MigrationTest, TargetAuthFailedNeverShowsThePassword) {
  FakeDialer dialer;
  auto src = std::make_unique<FakeConnection>("src", kSource);
  src->Expect("INFO server", Bulk(InfoServer("5.0.14")));
  dialer.Add(kSource, std::move(src));
  dialer.Fail(kTarget, Unauthenticated("authentication to 127.0.0.1:7001 failed: wrong password",
                                       "AuthFailed"));
  FakeClock clock;
  MigrationOptions o = Options();
  o.password = "hunter2";
  MigrationReport r = RunMigration(o, dialer, clock, nullptr);
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(r.error_reason, "AuthFailed");
  EXPECT_THAT(r.error, HasSubstr("target"));
  EXPECT_THAT(r.error, HasSubstr("127.0.0.1:7001"));
  EXPECT_EQ(r.error.find("hunter2"), std::string::npos);
  EXPECT_EQ(r.ToJson().dump().find("hunter2"), std::string::npos);
  ASSERT_TRUE(dialer.last_opts().password.has_value());
  EXPECT_EQ(*dialer.last_opts().password, "hunter2");
  EXPECT_EQ(r.source_version, "");
}

TEST(MigrationTest, DowngradeRefusedBeforeTouchingAnything) {
  FakeDialer dialer;
  auto src = std::make_unique<FakeConnection>("src", kSource);
  FakeConnection* s = src.get();
  src->Expect("INFO server", Bulk(InfoServer("7.0.15")));
  src->Expect("INFO", Bulk(InfoServer("7.0.15") + InfoMaster(100, 0)));
  auto tgt = std::make_unique<FakeConnection>("tgt", kTarget);
  FakeConnection* t = tgt.get();
  tgt->Expect("INFO server", Bulk(InfoServer("6.2.14")));
  tgt->Expect("INFO", Bulk(InfoServer("6.2.14") + InfoMaster(0, 0)));
  tgt->Expect("CONFIG GET maxmemory", ConfigValue("maxmemory", "0"));
  dialer.Add(kSource, std::move(src));
  dialer.Add(kTarget, std::move(tgt));
  FakeClock clock;
  MigrationReport r = RunMigration(Options(), dialer, clock, nullptr);
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(r.error_reason, "DowngradeRefused");
  EXPECT_THAT(r.error, HasSubstr("source 7.0.15, target 6.2.14"));
  EXPECT_EQ(r.source_version, "7.0.15");
  EXPECT_EQ(r.target_version, "6.2.14");
  EXPECT_EQ(s->remaining(), 0u);
  EXPECT_EQ(t->remaining(), 0u);
}

std::string WriteStateFile(const std::string& name, SwitchStep step,
                           const std::string& old_master) {
  const std::string path = ::testing::TempDir() + "/" + name;
  SwitchRecord r;
  r.attempt = 2;
  r.step = step;
  r.old_master = old_master;
  r.new_master = kTarget.ToString();
  r.source_version = "5.0.14";
  r.promoted_offset = 4242;
  r.write_blocked_ms = 31;
  nlohmann::json j = {{"sync_saved_config", nlohmann::json::object()}, {"switch", r.ToJson()}};
  std::ofstream(path) << j.dump();
  return path;
}

std::unique_ptr<FakeConnection> Dialed(const std::string& name, const redis::Endpoint& ep,
                                       const std::string& version) {
  auto c = std::make_unique<FakeConnection>(name, ep);
  c->Expect("INFO server", Bulk(InfoServer(version)));
  return c;
}

TEST(MigrationTest, CompletedStateFileReportsCompletedWithoutChanges) {
  FakeDialer dialer;
  auto src = Dialed("src", kSource, "5.0.14");
  auto tgt = Dialed("tgt", kTarget, "7.0.15");
  FakeConnection* t = tgt.get();
  tgt->Expect("DBSIZE", testing::Int(99));
  dialer.Add(kSource, std::move(src));
  dialer.Add(kTarget, std::move(tgt));
  FakeClock clock;
  MigrationOptions o = Options();
  o.state_file = WriteStateFile("done.json", SwitchStep::kCompleted, kSource.ToString());
  MigrationReport r = RunMigration(o, dialer, clock, nullptr);
  EXPECT_EQ(r.result, "completed") << r.error;
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.write_blocked_ms, 31);
  EXPECT_EQ(r.final_offset, 4242);
  EXPECT_EQ(r.target_keys, 99);
  EXPECT_EQ(t->remaining(), 0u);
}

TEST(MigrationTest, StateFileOfAnotherMigrationRefused) {
  FakeDialer dialer;
  dialer.Add(kSource, Dialed("src", kSource, "5.0.14"));
  dialer.Add(kTarget, Dialed("tgt", kTarget, "7.0.15"));
  FakeClock clock;
  MigrationOptions o = Options();
  o.state_file = WriteStateFile("other.json", SwitchStep::kBlocked, "10.9.9.9:6379");
  MigrationReport r = RunMigration(o, dialer, clock, nullptr);
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(r.error_reason, "StateFileMismatch");
  EXPECT_THAT(r.error, HasSubstr("10.9.9.9:6379"));
}

TEST(MigrationTest, ReportJsonKeys) {
  MigrationReport r;
  r.result = "completed";
  r.source_version = "5.0.14";
  r.target_version = "7.0.15";
  r.write_blocked_ms = 12;
  r.attempts = 1;
  r.full_sync_ms = 300;
  r.total_ms = 1500;
  r.final_offset = 4242;
  r.source_keys = 10;
  r.target_keys = 10;
  nlohmann::json j = r.ToJson();
  for (const char* key :
       {"result", "source_version", "target_version", "write_blocked_ms", "attempts",
        "full_sync_ms", "total_ms", "final_offset", "source_keys", "target_keys"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_FALSE(j.contains("error"));
  r.result = "failed";
  r.error = "boom";
  r.error_reason = "SourceLost";
  j = r.ToJson();
  EXPECT_EQ(j["error"], "boom");
  EXPECT_EQ(j["error_reason"], "SourceLost");
}

}  // namespace
}  // namespace ruo::engine
