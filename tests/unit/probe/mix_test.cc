// Unit tests of the probe's write mix (SET, EVAL, MULTI/EXEC, SET EX), its
// verification (values, expiries, the multi-count) and the pub/sub subscriber.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "probe/probe.h"
#include "probe/subscriber.h"
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
using fakes::FakeSubscriptionDialer;
using redis::Reply;

Reply Ok() {
  return Reply::Status("OK");
}
Reply Queued() {
  return Reply::Status("QUEUED");
}
Reply Err(std::string s) {
  return Reply::Error(std::move(s));
}
Reply Arr(std::vector<Reply> e) {
  return Reply::Array(std::move(e));
}

int K(WriteKind k) {
  return static_cast<int>(k);
}

TEST(WriteKindTest, MixRotatesByFourAndPlainIsAlwaysSet) {
  const WriteKind want[] = {WriteKind::kSet, WriteKind::kEval, WriteKind::kMulti,
                            WriteKind::kSetEx};
  for (int64_t seq = 0; seq < 12; ++seq) {
    EXPECT_EQ(KindFor(seq, true), want[seq % 4]) << seq;
    EXPECT_EQ(KindFor(seq, false), WriteKind::kSet) << seq;
  }
  EXPECT_EQ(WriteKindName(WriteKind::kSet), "set");
  EXPECT_EQ(WriteKindName(WriteKind::kEval), "eval");
  EXPECT_EQ(WriteKindName(WriteKind::kMulti), "multi");
  EXPECT_EQ(WriteKindName(WriteKind::kSetEx), "set_ex");
  EXPECT_EQ(MultiCountKey("p", "r"), "p:r:multi-count");
  EXPECT_EQ(ChannelFor("p", "r"), "p:r:chan");
}

TEST(WriteKindTest, Commands) {
  using Cmds = std::vector<std::vector<std::string>>;
  EXPECT_EQ(WriteCommands(WriteKind::kSet, "k", 4, "mc"), (Cmds{{"SET", "k", "4"}}));
  EXPECT_EQ(WriteCommands(WriteKind::kEval, "k", 5, "mc"),
            (Cmds{{"EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "k", "5"}}));
  EXPECT_EQ(WriteCommands(WriteKind::kMulti, "k", 6, "mc"),
            (Cmds{{"MULTI"}, {"SET", "k", "6"}, {"INCR", "mc"}, {"EXEC"}}));
  EXPECT_EQ(WriteCommands(WriteKind::kSetEx, "k", 7, "mc"),
            (Cmds{{"SET", "k", "7", "EX", "3600"}}));
}

// The literal replies real servers gave on loopback (tests/unit/probe/fake_server.h
// copies these forms), each with the outcome the probe must draw from it.
TEST(RealServerReplies, SingleCommandWrites) {
  // +OK for SET, SET EX and the EVAL script on 2.8.19, 6.2.7, 7.0.15, 8.2.3, Valkey 8.1.8.
  for (WriteKind k : {WriteKind::kSet, WriteKind::kEval, WriteKind::kSetEx}) {
    EXPECT_TRUE(ClassifyWriteReplies(k, {Ok()}).acked);
  }
  struct Case {
    const char* server;
    const char* reply;
    ErrorKind kind;
  };
  const Case cases[] = {
      // SET on a replica.
      {"2.8.19", "READONLY You can't write against a read only slave.", ErrorKind::kReadOnly},
      {"7.0.15", "READONLY You can't write against a read only replica.", ErrorKind::kReadOnly},
      // SET on a master fenced by min-slaves-to-write.
      {"2.8.19", "NOREPLICAS Not enough good slaves to write.", ErrorKind::kNoReplicas},
      {"6.2.7", "NOREPLICAS Not enough good replicas to write.", ErrorKind::kNoReplicas},
      // EVAL on a replica: wrapped up to 6.2 (2.8 pads the message with spaces).
      {"2.8.19",
       "ERR Error running script (call to f_d8f2fad9f8e86a53d2a6ebd960b33c4972cacc37): "
       "@user_script:1: @user_script: 1: -READONLY You can't write against a read only slave.   ",
       ErrorKind::kReadOnly},
      {"6.2.7",
       "ERR Error running script (call to f_d8f2fad9f8e86a53d2a6ebd960b33c4972cacc37): "
       "@user_script:1: @user_script: 1: -READONLY You can't write against a read only replica.",
       ErrorKind::kReadOnly},
      // 7.0.15, 8.2.3 and Valkey 8.1.8 answer the same.
      {"7.0.15",
       "READONLY You can't write against a read only replica. script: "
       "d8f2fad9f8e86a53d2a6ebd960b33c4972cacc37, on @user_script:1.",
       ErrorKind::kReadOnly},
      // EVAL on a fenced master (2.8.19 is not here: it runs the script, +OK).
      {"6.2.7",
       "ERR Error running script (call to f_d8f2fad9f8e86a53d2a6ebd960b33c4972cacc37): "
       "@user_script:1: @user_script: 1: -NOREPLICAS Not enough good replicas to write.",
       ErrorKind::kNoReplicas},
      {"8.2.3",
       "NOREPLICAS Not enough good replicas to write. script: "
       "d8f2fad9f8e86a53d2a6ebd960b33c4972cacc37, on @user_script:1.",
       ErrorKind::kNoReplicas},
      {"any", "ERR Error running script (call to f_x): @user_script:1: WRONGTYPE",
       ErrorKind::kOther},
  };
  for (const Case& c : cases) {
    WriteOutcome o = ClassifyWriteReplies(WriteKind::kEval, {Err(c.reply)});
    EXPECT_FALSE(o.acked) << c.server << ": " << c.reply;
    EXPECT_EQ(o.error, c.kind) << c.server << ": " << c.reply;
    EXPECT_EQ(o.message, c.reply);
  }
  EXPECT_EQ(ClassifyWriteReplies(WriteKind::kSet, {Reply::Nil()}).error, ErrorKind::kOther);
  EXPECT_FALSE(ClassifyWriteReplies(WriteKind::kSet, {Ok(), Ok()}).acked);
}

TEST(RealServerReplies, MultiExec) {
  // Every version: the block ran.
  WriteOutcome ok = ClassifyWriteReplies(
      WriteKind::kMulti, {Ok(), Queued(), Queued(), Arr({Ok(), Reply::Integer(7)})});
  EXPECT_TRUE(ok.acked);

  // 6.2.7, 7.0.15, 8.2.3, Valkey 8.1.8 on a replica: refused while queued, EXECABORT.
  const std::string ro = "READONLY You can't write against a read only replica.";
  WriteOutcome aborted = ClassifyWriteReplies(
      WriteKind::kMulti,
      {Ok(), Err(ro), Err(ro), Err("EXECABORT Transaction discarded because of previous errors.")});
  EXPECT_FALSE(aborted.acked);
  EXPECT_EQ(aborted.error, ErrorKind::kReadOnly);
  EXPECT_NE(aborted.message.find("EXECABORT"), std::string::npos);

  // 2.8.19 on a replica: the refusals do not abort the block; EXEC runs nothing: [].
  const std::string ro28 = "READONLY You can't write against a read only slave.";
  WriteOutcome empty =
      ClassifyWriteReplies(WriteKind::kMulti, {Ok(), Err(ro28), Err(ro28), Arr({})});
  EXPECT_FALSE(empty.acked);
  EXPECT_EQ(empty.error, ErrorKind::kReadOnly);

  // Every version on a fenced master (2.8.19 says "slaves").
  const std::string nr = "NOREPLICAS Not enough good replicas to write.";
  WriteOutcome fenced = ClassifyWriteReplies(
      WriteKind::kMulti,
      {Ok(), Err(nr), Err(nr), Err("EXECABORT Transaction discarded because of previous errors.")});
  EXPECT_FALSE(fenced.acked);
  EXPECT_EQ(fenced.error, ErrorKind::kNoReplicas);

  // 6.2.7+: queued on a master, which was demoted before EXEC. (2.8.19 runs the
  // block on the demoted server and answers [+OK, :n].)
  WriteOutcome demoted = ClassifyWriteReplies(
      WriteKind::kMulti,
      {Ok(), Queued(), Queued(),
       Err("EXECABORT Transaction discarded because of: READONLY You can't write against a read "
           "only replica.")});
  EXPECT_FALSE(demoted.acked);
  EXPECT_EQ(demoted.error, ErrorKind::kReadOnly);

  // Not from the probe's block but possible: a WATCH abort, an element error, a short reply.
  EXPECT_FALSE(
      ClassifyWriteReplies(WriteKind::kMulti, {Ok(), Queued(), Queued(), Reply::Nil()}).acked);
  WriteOutcome elem = ClassifyWriteReplies(
      WriteKind::kMulti,
      {Ok(), Queued(), Queued(),
       Arr({Ok(), Err("WRONGTYPE Operation against a key holding the wrong kind of value")})});
  EXPECT_FALSE(elem.acked);
  EXPECT_EQ(elem.error, ErrorKind::kOther);
  EXPECT_NE(elem.message.find("WRONGTYPE"), std::string::npos);
  EXPECT_FALSE(
      ClassifyWriteReplies(WriteKind::kMulti, {Ok(), Queued(), Queued(), Arr({Ok()})}).acked);
  EXPECT_FALSE(ClassifyWriteReplies(WriteKind::kMulti, {Ok(), Queued()}).acked);
}

// The fake answers as the real servers above did.
TEST(FakeServerTest, MatchesTheRealReplies) {
  FakeClock clock;
  FakeServer server;
  server.clock = &clock;
  server.script = [](const std::vector<std::string>& argv, milliseconds) -> StatusOr<redis::Reply> {
    if (argv[0] == "SET" || argv[0] == "INCR") {
      return Err("READONLY You can't write against a read only replica.");
    }
    return Ok();
  };
  FakeConnection conn(server);
  auto block = WriteCommands(WriteKind::kMulti, "k", 2, "mc");
  auto modern = conn.Pipeline(block);
  ASSERT_TRUE(modern.ok());
  EXPECT_EQ((*modern)[3], Err("EXECABORT Transaction discarded because of previous errors."));
  server.legacy_28 = true;
  auto legacy = conn.Pipeline(block);
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ((*legacy)[3], Arr({}));

  server.script = nullptr;
  auto fine = conn.Pipeline(block);
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(*fine, (std::vector<Reply>{Ok(), Queued(), Queued(), Arr({Ok(), Reply::Integer(1)})}));
  EXPECT_EQ(*conn.Command(WriteCommands(WriteKind::kSetEx, "e", 3, "mc")[0]), Ok());
  EXPECT_EQ(*conn.Command({"PTTL", "e"}), Reply::Integer(3600000));
  EXPECT_EQ(*conn.Command({"PTTL", "k"}), Reply::Integer(-1));
  EXPECT_EQ(*conn.Command({"PTTL", "nokey"}), Reply::Integer(-2));
  EXPECT_EQ(*conn.Command(WriteCommands(WriteKind::kEval, "v", 1, "mc")[0]), Ok());
  EXPECT_EQ(*conn.Command({"PUBLISH", "ch", "10"}), Reply::Integer(0));
}

class MixWriterTest : public ::testing::Test {
 protected:
  MixWriterTest() {
    server_.clock = &clock_;
    server_.start = clock_.Monotonic();
    opts_.addr = {"127.0.0.1", 6379};
    opts_.run_id = "run1";
    opts_.key_prefix = "p";
    opts_.mix = true;
    opts_.rate = 1000;
    opts_.duration = seconds(1);
    opts_.pubsub_drain = milliseconds(100);
    server_.latency = microseconds(10);
  }

  ProbeResult RunProbe(bool with_subscriber = true) {
    FakeDialer dialer(server_);
    FakeSubscriptionDialer subs(server_);
    Writer w(opts_, dialer, clock_, with_subscriber ? &subs : nullptr);
    return w.Run(stop_);
  }

  VerifyResult VerifyOnServer(const ProbeResult& r) {
    FakeConnection conn(server_);
    VerifyOptions vo;
    vo.mix = true;
    auto v = Verify(conn, "p", "run1", r.acked_seqs, vo);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : VerifyResult{};
  }

  // Refuses the writes (not MULTI, EXEC, PUBLISH or reads) in [from, to) with
  // `error`, and EVAL with `eval_error`, as a replica or a fenced master does.
  void RefuseWrites(milliseconds from, milliseconds to, std::string error, std::string eval_error) {
    server_.script = [=](const std::vector<std::string>& argv,
                         milliseconds t) -> StatusOr<redis::Reply> {
      if (t < from || t >= to) return Ok();
      if (argv[0] == "EVAL") return Err(eval_error);
      if (argv[0] == "SET" || argv[0] == "INCR") return Err(error);
      return Ok();
    };
  }

  FakeClock clock_;
  FakeServer server_;
  ProbeOptions opts_;
  std::atomic<bool> stop_{false};
};

TEST_F(MixWriterTest, EveryKindIsWrittenVerifiedAndPublished) {
  ProbeResult r = RunProbe();
  ASSERT_NEAR(static_cast<double>(r.acked_seqs.size()), 1000, 2);
  EXPECT_EQ(r.errors, 0);
  for (int k = 0; k < kWriteKindCount; ++k) {
    EXPECT_NEAR(r.by_write_kind[k].acked, 250, 1) << k;
    EXPECT_EQ(r.by_write_kind[k].acked, r.by_write_kind[k].attempts) << k;
  }
  EXPECT_EQ(server_.data.at("p:run1:3"), "3");
  EXPECT_EQ(server_.ttl_ms.at("p:run1:3"), 3600000);
  EXPECT_FALSE(server_.ttl_ms.contains("p:run1:4"));
  EXPECT_EQ(server_.data.at("p:run1:multi-count"),
            std::to_string(r.by_write_kind[K(WriteKind::kMulti)].acked));

  const PubSubResult& ps = r.pubsub;
  EXPECT_TRUE(ps.subscriber_ran);
  EXPECT_NEAR(ps.published, 100, 1);
  EXPECT_EQ(ps.published, ps.publish_attempts);
  EXPECT_EQ(ps.published_to_none, 0);  // subscribed before the first PUBLISH
  EXPECT_EQ(ps.received, ps.published);
  EXPECT_EQ(ps.missed, 0);
  EXPECT_EQ(ps.subscriber_reconnects, 0);
  EXPECT_EQ(ps.received_after_last_reconnect, ps.received);
  EXPECT_EQ(server_.subscription_dials, 1);

  VerifyResult v = VerifyOnServer(r);
  EXPECT_EQ(v.checked, static_cast<int64_t>(r.acked_seqs.size()));
  EXPECT_EQ(v.lost, 0);
  EXPECT_EQ(v.ttl_lost, 0);
  EXPECT_EQ(v.ttl_checked, r.by_write_kind[K(WriteKind::kSetEx)].acked);
  EXPECT_EQ(v.multi_acked, r.by_write_kind[K(WriteKind::kMulti)].acked);
  EXPECT_EQ(v.multi_count, v.multi_acked);

  nlohmann::json j = ReportJson(opts_, r, v, std::nullopt);
  EXPECT_EQ(j["mix"]["multi"]["acked"], v.multi_acked);
  EXPECT_EQ(j["mix"]["set_ex"]["errors"], 0);
  EXPECT_EQ(j["pubsub"]["received"], ps.received);
  EXPECT_EQ(j["pubsub"]["missed"], 0);
  EXPECT_EQ(j["ttl_lost"], 0);
  EXPECT_EQ(j["multi_count"], v.multi_count);
}

TEST_F(MixWriterTest, RefusedWritesOfEveryKindAreNotAcked) {
  // 300–400 ms: a 7.0+ replica; 400–500 ms: a fenced 6.2 master.
  server_.script = [](const std::vector<std::string>& argv,
                      milliseconds t) -> StatusOr<redis::Reply> {
    const bool write = argv[0] == "SET" || argv[0] == "INCR" || argv[0] == "EVAL";
    if (!write || t < milliseconds(300) || t >= milliseconds(500)) return Ok();
    if (t < milliseconds(400)) {
      return Err(argv[0] == "EVAL"
                     ? "READONLY You can't write against a read only replica. script: x, on "
                       "@user_script:1."
                     : "READONLY You can't write against a read only replica.");
    }
    return Err(argv[0] == "EVAL"
                   ? "ERR Error running script (call to f_x): @user_script:1: @user_script: 1: "
                     "-NOREPLICAS Not enough good replicas to write."
                   : "NOREPLICAS Not enough good replicas to write.");
  };
  ProbeResult r = RunProbe();
  const auto& e = r.errors_by_kind;
  EXPECT_NEAR(e[static_cast<int>(ErrorKind::kReadOnly)], 100, 2);
  EXPECT_NEAR(e[static_cast<int>(ErrorKind::kNoReplicas)], 100, 2);
  EXPECT_EQ(e[static_cast<int>(ErrorKind::kOther)], 0);
  for (int k = 0; k < kWriteKindCount; ++k) {
    EXPECT_NEAR(r.by_write_kind[k].errors, 50, 2) << k;
    EXPECT_EQ(r.by_write_kind[k].acked + r.by_write_kind[k].errors, r.by_write_kind[k].attempts);
  }
  VerifyResult v = VerifyOnServer(r);
  EXPECT_EQ(v.lost, 0);
  EXPECT_EQ(v.multi_count, v.multi_acked);  // refused blocks ran nothing
}

TEST_F(MixWriterTest, Legacy28ReadOnlyMultiIsNotAcked) {
  server_.legacy_28 = true;
  RefuseWrites(milliseconds(200), milliseconds(300),
               "READONLY You can't write against a read only slave.",
               "ERR Error running script (call to f_x): @user_script:1: @user_script: 1: "
               "-READONLY You can't write against a read only slave.   ");
  ProbeResult r = RunProbe();
  EXPECT_NEAR(r.by_write_kind[K(WriteKind::kMulti)].errors, 25, 1);
  EXPECT_EQ(r.errors_by_kind[static_cast<int>(ErrorKind::kReadOnly)], r.errors);
  VerifyResult v = VerifyOnServer(r);
  EXPECT_EQ(v.lost, 0);
  EXPECT_EQ(v.multi_count, v.multi_acked);
}

TEST_F(MixWriterTest, DroppedConnectionMidTransactionIsNotAcked) {
  // 200–210 ms: the connection drops at EXEC before it runs; 600–610 ms: EXEC
  // runs but its reply is lost.
  server_.script = [](const std::vector<std::string>& argv,
                      milliseconds t) -> StatusOr<redis::Reply> {
    if (argv[0] == "EXEC" && t >= milliseconds(200) && t < milliseconds(210)) {
      return Unavailable("server closed the connection");
    }
    return Ok();
  };
  server_.lose_exec_reply = [](milliseconds t) {
    return t >= milliseconds(600) && t < milliseconds(610);
  };
  ProbeResult r = RunProbe(false);
  const KindCounts& m = r.by_write_kind[K(WriteKind::kMulti)];
  EXPECT_NEAR(m.errors, 5, 1);
  EXPECT_EQ(r.errors_by_kind[static_cast<int>(ErrorKind::kConnection)], m.errors);
  EXPECT_EQ(r.errors, m.errors);
  EXPECT_FALSE(r.pubsub.subscriber_ran);
  VerifyResult v = VerifyOnServer(r);
  EXPECT_EQ(v.lost, 0);
  // The blocks whose reply was lost ran: the count exceeds the acknowledged ones.
  EXPECT_GE(v.multi_count - v.multi_acked, 2);
  EXPECT_LE(v.multi_count - v.multi_acked, 3);
}

TEST_F(MixWriterTest, StrandedSubscriberMissesTheTail) {
  // From 500 ms the writes reach a server the subscriber is not on.
  server_.subscribers_reachable = [](milliseconds t) { return t < milliseconds(500); };
  ProbeResult r = RunProbe();
  const PubSubResult& ps = r.pubsub;
  EXPECT_NEAR(ps.published, 100, 1);
  EXPECT_NEAR(ps.received, 50, 1);
  EXPECT_EQ(ps.received + ps.missed, ps.published);
  EXPECT_EQ(ps.missed_tail, ps.missed);
  EXPECT_EQ(ps.longest_missed_run, ps.missed);
  EXPECT_EQ(ps.published_to_none, ps.missed);
  EXPECT_EQ(ps.subscriber_reconnects, 0);
  EXPECT_EQ(ps.received_after_last_reconnect, ps.received);
  EXPECT_EQ(r.errors, 0);  // missed messages are not write errors
}

TEST_F(MixWriterTest, PlainRunHasNoMixOrPubSub) {
  opts_.mix = false;
  ProbeResult r = RunProbe();
  EXPECT_EQ(r.by_write_kind[K(WriteKind::kSet)].acked, static_cast<int64_t>(r.acked_seqs.size()));
  EXPECT_EQ(r.pubsub.publish_attempts, 0);
  EXPECT_FALSE(r.pubsub.subscriber_ran);
  EXPECT_EQ(server_.subscription_dials, 0);
  EXPECT_TRUE(server_.ttl_ms.empty());
  nlohmann::json j = ReportJson(opts_, r, VerifyResult{}, std::nullopt);
  EXPECT_FALSE(j.contains("mix"));
  EXPECT_FALSE(j.contains("pubsub"));
  EXPECT_FALSE(j.contains("ttl_lost"));
  EXPECT_TRUE(j.contains("lost"));
}

class MixVerifyTest : public ::testing::Test {
 protected:
  MixVerifyTest() { server_.clock = &clock_; }
  void Put(int64_t seq, bool with_ttl) {
    const std::string key = KeyFor("p", "r", seq);
    server_.data[key] = std::to_string(seq);
    if (with_ttl) server_.ttl_ms[key] = 3599000;
  }
  FakeClock clock_;
  FakeServer server_;
};

TEST_F(MixVerifyTest, CountsLostValuesAndLostExpiriesApart) {
  std::vector<int64_t> acked;
  for (int64_t i = 0; i < 40; ++i) {
    acked.push_back(i);
    Put(i, KindFor(i, true) == WriteKind::kSetEx);
  }
  server_.ttl_ms.erase(KeyFor("p", "r", 7));   // present, no expiry: ttl_lost
  server_.ttl_ms.erase(KeyFor("p", "r", 31));  // likewise
  server_.data.erase(KeyFor("p", "r", 11));    // a kSetEx key gone: lost, not ttl_lost
  server_.data.erase(KeyFor("p", "r", 2));     // a kMulti key gone
  server_.data[KeyFor("p", "r", 15)] = "x";    // wrong value: lost
  server_.data[MultiCountKey("p", "r")] = "11";
  FakeConnection conn(server_);
  VerifyOptions vo;
  vo.mix = true;
  vo.batch = 3;  // PTTLs fall on both sides of batch boundaries
  auto v = Verify(conn, "p", "r", acked, vo);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->checked, 40);
  EXPECT_EQ(v->lost, 3);
  EXPECT_EQ(v->lost_sample, (std::vector<std::string>{"p:r:2", "p:r:11", "p:r:15"}));
  EXPECT_EQ(v->ttl_checked, 10 - 2);
  EXPECT_EQ(v->ttl_lost, 2);
  EXPECT_EQ(v->ttl_lost_sample, (std::vector<std::string>{"p:r:7", "p:r:31"}));
  EXPECT_EQ(v->multi_acked, 10);
  EXPECT_EQ(v->multi_count, 11);  // one more than acked: reported, not a failure
  EXPECT_EQ(server_.pipelines, 14);

  ProbeOptions opts;
  opts.mix = true;
  nlohmann::json j = ReportJson(opts, ProbeResult{}, *v, std::nullopt);
  EXPECT_EQ(j["lost"], 3);
  EXPECT_EQ(j["ttl_lost"], 2);
  EXPECT_EQ(j["ttl_lost_sample"][0], "p:r:7");
  EXPECT_EQ(j["multi_acked"], 10);
  EXPECT_EQ(j["multi_count"], 11);
  EXPECT_EQ(j["mix"].size(), 4u);
  for (const char* field :
       {"publish_attempts", "published", "publish_errors", "published_to_none", "received",
        "missed", "missed_tail", "longest_missed_run", "received_unacked", "subscriber_dials",
        "subscriber_reconnects", "subscriber_errors", "received_after_last_reconnect",
        "subscriber_last_error"}) {
    EXPECT_TRUE(j["pubsub"].contains(field)) << field;
  }
}

TEST_F(MixVerifyTest, MissingMultiCountIsZeroAndPlainVerifyAsksNoPttl) {
  Put(3, false);  // a kSetEx key without expiry, but the mix is off: not checked
  FakeConnection conn(server_);
  auto plain = Verify(conn, "p", "r", {3});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->ttl_checked, 0);
  EXPECT_EQ(plain->ttl_lost, 0);
  EXPECT_FALSE(plain->mix);
  VerifyOptions vo;
  vo.mix = true;
  auto mixed = Verify(conn, "p", "r", {3}, vo);
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->ttl_lost, 1);
  EXPECT_EQ(mixed->multi_count, 0);
  server_.data[MultiCountKey("p", "r")] = "many";
  EXPECT_FALSE(Verify(conn, "p", "r", {3}, vo).ok());
}

TEST(TallyPubSubTest, MissedRunsAndTail) {
  PubSubResult ps;
  // Published 0..90 by tens; 30, 40 missed in the middle, 80, 90 at the end; 95
  // received though its PUBLISH was not acknowledged.
  TallyPubSub({0, 10, 20, 30, 40, 50, 60, 70, 80, 90}, {0, 10, 20, 50, 60, 95, 70}, &ps);
  EXPECT_EQ(ps.missed, 4);
  EXPECT_EQ(ps.longest_missed_run, 2);
  EXPECT_EQ(ps.missed_tail, 0);  // 95 arrived after 80 and 90 were published
  EXPECT_EQ(ps.received_unacked, 1);
  TallyPubSub({0, 10, 20, 30}, {0, 10}, &ps);
  EXPECT_EQ(ps.missed, 2);
  EXPECT_EQ(ps.missed_tail, 2);
  TallyPubSub({0, 10}, {}, &ps);
  EXPECT_EQ(ps.missed_tail, 2);
  EXPECT_EQ(ps.received_unacked, 0);
}

// Subscriptions that replay scripts of Receive results; `stop` is set when the
// last step of the last connection is handed out.
struct ScriptedSubscriptions : SubscriptionDialer {
  using Step = StatusOr<std::optional<Reply>>;
  std::deque<std::optional<std::deque<Step>>> connections;  // nullopt: the dial fails
  std::atomic<bool>* stop = nullptr;
  std::vector<std::vector<std::string>> sent;

  struct Sub : Subscription {
    ScriptedSubscriptions* owner;
    std::deque<Step> steps;
    Status Send(const std::vector<std::string>& argv) override {
      owner->sent.push_back(argv);
      return Status::Ok();
    }
    StatusOr<std::optional<Reply>> Receive(milliseconds) override {
      if (steps.empty()) return std::optional<Reply>();
      Step s = steps.front();
      steps.pop_front();
      if (steps.empty() && owner->connections.empty()) owner->stop->store(true);
      return s;
    }
  };

  StatusOr<std::unique_ptr<Subscription>> Dial(const redis::Endpoint&,
                                               const redis::ConnectOptions&) override {
    if (connections.empty()) {
      stop->store(true);
      return Unavailable("no more connections");
    }
    auto c = std::move(connections.front());
    connections.pop_front();
    if (!c.has_value()) return Unavailable("connection refused");
    auto sub = std::make_unique<Sub>();
    sub->owner = this;
    sub->steps = std::move(*c);
    return std::unique_ptr<Subscription>(std::move(sub));
  }
};

std::optional<Reply> Subscribed(const std::string& ch) {
  return Arr({Reply::String("subscribe"), Reply::String(ch), Reply::Integer(1)});
}
std::optional<Reply> Message(const std::string& ch, const std::string& payload) {
  return Arr({Reply::String("message"), Reply::String(ch), Reply::String(payload)});
}

TEST(SubscriberTest, ResubscribesAfterADropAndCountsPerConnection) {
  std::atomic<bool> stop{false};
  ScriptedSubscriptions d;
  d.stop = &stop;
  using Steps = std::deque<ScriptedSubscriptions::Step>;
  d.connections.push_back(Steps{std::optional<Reply>(), Subscribed("c"), Message("c", "0"),
                                Message("other", "5"), Message("c", "10"),
                                Unavailable("server closed the connection")});
  d.connections.push_back(std::nullopt);  // refused once
  d.connections.push_back(
      Steps{Subscribed("c"), Message("c", "30"),
            std::optional<Reply>(Arr({Reply::String("pong"), Reply::String("")})),
            Message("c", "not-a-seq"), Message("c", "40")});
  FakeClock clock;
  const auto t0 = clock.Monotonic();
  Subscriber sub({"127.0.0.1", 6379}, redis::ConnectOptions{}, "c", d, clock, milliseconds(5));
  sub.Run(stop);
  SubscriberStats st = sub.Stats();
  EXPECT_EQ(st.dials, 3);
  EXPECT_EQ(st.subscriptions, 2);
  EXPECT_EQ(st.errors, 2);
  EXPECT_EQ(st.received, 4);
  EXPECT_EQ(st.received_on_last_connection, 2);
  EXPECT_EQ(st.received_seqs, (std::vector<int64_t>{0, 10, 30, 40}));
  EXPECT_NE(st.last_error.find("connection refused"), std::string::npos);
  // Only the failed dial waited; the dropped connection was re-dialled at once.
  EXPECT_EQ(clock.Monotonic() - t0, milliseconds(5));
  ASSERT_EQ(d.sent.size(), 2u);
  EXPECT_EQ(d.sent[0], (std::vector<std::string>{"SUBSCRIBE", "c"}));
  EXPECT_TRUE(sub.WaitReceived(40, milliseconds(0)));
  EXPECT_FALSE(sub.WaitReceived(41, milliseconds(0)));
}

TEST(SubscriberTest, RefusedSubscribeIsAnError) {
  std::atomic<bool> stop{false};
  ScriptedSubscriptions d;
  d.stop = &stop;
  d.connections.push_back(std::deque<ScriptedSubscriptions::Step>{
      std::optional<Reply>(Err("NOPERM this user has no permissions to access the 'c' channel"))});
  FakeClock clock;
  Subscriber sub({"127.0.0.1", 6379}, redis::ConnectOptions{}, "c", d, clock, milliseconds(5));
  sub.Run(stop);
  SubscriberStats st = sub.Stats();
  EXPECT_EQ(st.subscriptions, 0);
  EXPECT_GE(st.errors, 1);
  EXPECT_NE(st.last_error.find("NOPERM"), std::string::npos);
  EXPECT_FALSE(sub.WaitSubscribed(milliseconds(0)));
}

}  // namespace
}  // namespace ruo::probe
