// `migrate --state-file` resumed from a record past the point of no return on
// real servers (docs/switch-protocol.md, "Resume"): a migrate runs to
// completion, the state file is set back to Verified or TrafficMoved as a
// killed process would have left it, the servers are set up as the case needs,
// and migrate runs again. It finishes only what both servers prove; an attempt
// undone after its Verified write was stored is retried, never promoted, and
// every key the old master took since ends on the final master.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "integration/migrate/migrate_fixture.h"

namespace ruo::testing {
namespace {

using std::chrono::seconds;

struct Pair {
  const char* source;
  const char* target;
};

void PrintTo(const Pair& p, std::ostream* os) {
  *os << p.source << " -> " << p.target;
}

constexpr int kKeys = 2000;

class ResumeTest : public MigrateIntegrationTest, public ::testing::WithParamInterface<Pair> {
 protected:
  void SetUp() override {
    MigrateIntegrationTest::SetUp();
    source_ = StartServer("redis", GetParam().source);
    target_ = StartServer("redis", GetParam().target);
    ASSERT_TRUE(source_ && target_);
    ASSERT_NO_FATAL_FAILURE(Populate(*source_, kKeys));
    state_ = tmp_.File("state.json");
  }

  CmdResult Migrate() {
    std::vector<std::string> args = {"migrate",
                                     "--source",
                                     source_->endpoint().ToString(),
                                     "--target",
                                     target_->endpoint().ToString(),
                                     "--state-file",
                                     state_};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    return Run(args);
  }

  // A completed migrate, its state file then set back to `step`.
  void CompletedThenStoredAt(const std::string& step) {
    CmdResult m = Migrate();
    ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
    ASSERT_EQ(m.json.value("result", ""), "completed") << m.out;
    nlohmann::json state = State();
    ASSERT_EQ(state["switch"].value("step", ""), "Completed") << state.dump(2);
    // The ids a resumed finish proves against, stored with Verified.
    EXPECT_FALSE(state["switch"].value("sourceRunId", "").empty()) << state.dump(2);
    EXPECT_EQ(state["switch"].value("promotedReplid", "").size(), 40u) << state.dump(2);
    state["switch"]["step"] = step;
    WriteFileAtomic(state_, state.dump(2) + "\n");
  }

  nlohmann::json State() const { return nlohmann::json::parse(ReadFile(state_)); }

  static void Must(const RedisServer& s, const std::vector<std::string>& argv) {
    auto reply = s.Command(argv);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    ASSERT_FALSE(reply->IsError()) << argv[0] << ": " << reply->str;
  }

  // What an undo leaves: the old master writable with its own settings (as
  // saved in the record), the new master replicating it again.
  void UndoByHand() {
    const nlohmann::json record = State()["switch"];
    ASSERT_NO_FATAL_FAILURE(Must(*source_, {"SLAVEOF", "NO", "ONE"}));
    ASSERT_FALSE(record["savedConfig"].empty());
    for (const auto& [name, value] : record["savedConfig"].items()) {
      ASSERT_NO_FATAL_FAILURE(Must(*source_, {"CONFIG", "SET", name, value.get<std::string>()}));
    }
    auto upstream = redis::Endpoint::Parse(record.value("replicationSource", ""));
    ASSERT_TRUE(upstream.ok()) << record.dump(2);
    ASSERT_NO_FATAL_FAILURE(
        Must(*target_, {"SLAVEOF", upstream->host, std::to_string(upstream->port)}));
  }

  // The old master loses its seal and fence, as a restart or a person would
  // (the slave-* name works on every version).
  void Unseal() {
    ASSERT_NO_FATAL_FAILURE(Must(*source_, {"SLAVEOF", "NO", "ONE"}));
    ASSERT_NO_FATAL_FAILURE(Must(*source_, {"CONFIG", "SET", "min-slaves-to-write", "0"}));
  }

  void ExpectSealed(const RedisServer& s) {
    const redis::Info info = Info(s);
    EXPECT_EQ(info.replication.role, "slave");
    EXPECT_EQ(info.replication.master_port, 1);
  }

  std::unique_ptr<RedisServer> source_;
  std::unique_ptr<RedisServer> target_;
  std::string state_;
  std::vector<std::string> extra_args_;
};

// Case 1: the new master is the one promoted, the old one sealed: finished.
TEST_P(ResumeTest, FinishesFromVerifiedWhenProven) {
  ASSERT_NO_FATAL_FAILURE(CompletedThenStoredAt("Verified"));
  CmdResult m = Migrate();
  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_EQ(m.json.value("result", ""), "completed") << m.out;
  EXPECT_EQ(m.json.value("attempts", 0), 1) << m.out;
  const nlohmann::json state = State();
  EXPECT_EQ(state["switch"].value("step", ""), "Completed");
  EXPECT_EQ(state["switch"].value("resumeNotice", "x"), "") << state.dump(2);
  EXPECT_EQ(Info(*target_).replication.role, "master");
  ExpectSealed(*source_);
  EXPECT_EQ(DbSize(*target_), kKeys);
}

// Case 3: the attempt was undone after its Verified write was stored, and the
// old master took writes since. The target replicates it through a forwarder
// that is cut while those writes are made and restored 3 s into the rerun, so
// a blind promotion would certainly miss them.
TEST_P(ResumeTest, UndoneAfterVerifiedIsRetriedNotPromoted) {
  const std::string backend = tmp_.File("backend");
  WriteFileAtomic(backend, source_->endpoint().ToString() + "\n");
  const int seen = StartForwarder(backend);
  ASSERT_GT(seen, 0);
  extra_args_ = {"--source-as-seen-by-target", "127.0.0.1:" + std::to_string(seen)};
  ASSERT_NO_FATAL_FAILURE(CompletedThenStoredAt("Verified"));
  WriteFileAtomic(backend, "127.0.0.1:1\n");
  ASSERT_NO_FATAL_FAILURE(UndoByHand());
  constexpr int kAfterUndo = 300;
  for (int i = 0; i < kAfterUndo; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        Must(*source_, {"SET", "after-undo:" + std::to_string(i), "v" + std::to_string(i)}));
  }
  std::thread heal([&] {
    std::this_thread::sleep_for(seconds(3));
    WriteFileAtomic(backend, source_->endpoint().ToString() + "\n");
  });

  CmdResult m = Migrate();
  heal.join();
  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_EQ(m.json.value("result", ""), "completed") << m.out;
  EXPECT_EQ(m.json.value("attempts", 0), 2) << m.out;  // a fresh attempt after the undo
  const nlohmann::json state = State();
  EXPECT_EQ(state["switch"].value("step", ""), "Completed");
  EXPECT_NE(state["switch"].value("lastError", "").find("VerifiedNotFinished"), std::string::npos)
      << state.dump(2);
  EXPECT_NE(m.err.find("VerifiedNotFinished"), std::string::npos) << m.err;

  EXPECT_EQ(Info(*target_).replication.role, "master");
  ExpectSealed(*source_);
  for (int i = 0; i < kAfterUndo; ++i) {
    auto v = target_->Command({"GET", "after-undo:" + std::to_string(i)});
    ASSERT_TRUE(v.ok());
    ASSERT_EQ(v->str, "v" + std::to_string(i)) << "after-undo:" << i << " lost";
  }
  EXPECT_EQ(DbSize(*target_), kKeys + kAfterUndo);
  ASSERT_NO_FATAL_FAILURE(AllowStaleReads(*source_));
  ExpectAllKeysCopied(*source_, *target_);
}

// Case 2 at TrafficMoved: clients were moved, the old master lost its seal and
// took a write. Resealed (its data kept), and the state file names it.
TEST_P(ResumeTest, TrafficMovedWithTheOldMasterUnsealedReseals) {
  ASSERT_NO_FATAL_FAILURE(CompletedThenStoredAt("TrafficMoved"));
  ASSERT_NO_FATAL_FAILURE(Unseal());
  ASSERT_NO_FATAL_FAILURE(Must(*source_, {"SET", "stray", "on-the-old-master"}));

  CmdResult m = Migrate();
  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_EQ(m.json.value("result", ""), "completed") << m.out;
  const nlohmann::json state = State();
  EXPECT_EQ(state["switch"].value("step", ""), "Completed");
  EXPECT_NE(state["switch"].value("resumeNotice", "").find("OldMasterUnsealed"), std::string::npos)
      << state.dump(2);
  ExpectSealed(*source_);
  auto set = source_->Command({"SET", "another", "x"});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->str.rfind("READONLY", 0), 0u) << set->str;
  ASSERT_NO_FATAL_FAILURE(AllowStaleReads(*source_));
  auto stray = source_->Command({"GET", "stray"});
  ASSERT_TRUE(stray.ok());
  EXPECT_EQ(stray->str, "on-the-old-master");  // kept for a person to recover
  EXPECT_EQ(Info(*target_).replication.role, "master");
}

// Case 2 at Verified: clients may still be on the unsealed old master, so
// neither side is provably complete: refused, the old master left writable.
TEST_P(ResumeTest, VerifiedWithTheOldMasterUnsealedFailsAndLeavesItWritable) {
  ASSERT_NO_FATAL_FAILURE(CompletedThenStoredAt("Verified"));
  ASSERT_NO_FATAL_FAILURE(Unseal());

  CmdResult m = Migrate();
  EXPECT_EQ(m.exit_code, 1) << m.out << m.err;
  EXPECT_EQ(m.json.value("result", ""), "failed") << m.out;
  EXPECT_EQ(Reason(m), "OldMasterUnsealed") << m.out;
  EXPECT_EQ(State()["switch"].value("step", ""), "Verified");
  EXPECT_EQ(Info(*source_).replication.role, "master");
  ASSERT_NO_FATAL_FAILURE(Must(*source_, {"SET", "still", "writable"}));
  EXPECT_EQ(Info(*target_).replication.role, "master");
}

INSTANTIATE_TEST_SUITE_P(RealServers, ResumeTest,
                         ::testing::Values(Pair{"6.2.14", "8.2.3"}, Pair{"2.8.19", "7.0.15"}),
                         [](const ::testing::TestParamInfo<Pair>& info) {
                           std::string n = std::string("from_") + info.param.source + "_to_" +
                                           info.param.target;
                           for (char& c : n) {
                             if (c == '.') c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace ruo::testing
