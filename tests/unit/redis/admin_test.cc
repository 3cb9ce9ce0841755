// Admin over a scripted fake Connection: the version-dependent paths that a
// 7.0 server cannot exercise (2.8–6.0 names and refusals) and the MULTI/EXEC checks.
#include "redis/admin.h"

#include <gtest/gtest.h>

#include <functional>

namespace ruo::redis {
namespace {

using Argv = std::vector<std::string>;

class FakeConnection : public Connection {
 public:
  explicit FakeConnection(std::string version) : version_(std::move(version)) {}

  // Replies to each command; returns nullopt to fall back to the defaults below.
  std::function<std::optional<Reply>(const Argv&)> handler;
  std::vector<Argv> sent;
  std::vector<size_t> pipeline_sizes;
  Status transport_error;  // when set, every call fails with it

  StatusOr<Reply> Command(const Argv& argv) override {
    if (!transport_error.ok()) return transport_error;
    sent.push_back(argv);
    return Answer(argv);
  }

  StatusOr<std::vector<Reply>> Pipeline(const std::vector<Argv>& commands) override {
    if (!transport_error.ok()) return transport_error;
    pipeline_sizes.push_back(commands.size());
    std::vector<Reply> out;
    bool in_multi = false;
    bool queue_failed = false;
    std::vector<Reply> queued;
    for (const Argv& argv : commands) {
      sent.push_back(argv);
      if (argv[0] == "MULTI") {
        in_multi = true;
        out.push_back(Reply::Status("OK"));
      } else if (argv[0] == "EXEC") {
        in_multi = false;
        if (queue_failed) {
          out.push_back(
              Reply::Error("EXECABORT Transaction discarded because of previous errors."));
        } else if (exec_nil) {
          out.push_back(Reply::Nil());
        } else {
          out.push_back(Reply::Array(queued));
        }
      } else if (in_multi) {
        if (argv[0] == "BOGUS") {
          queue_failed = true;
          out.push_back(Reply::Error("ERR unknown command 'BOGUS'"));
        } else {
          out.push_back(Reply::Status("QUEUED"));
          queued.push_back(Answer(argv));
        }
      } else {
        out.push_back(Answer(argv));
      }
    }
    return out;
  }

  const Endpoint& endpoint() const override { return ep_; }

  bool exec_nil = false;
  int info_calls = 0;

 private:
  Reply Answer(const Argv& argv) {
    if (handler) {
      if (auto r = handler(argv)) return *r;
    }
    if (argv[0] == "INFO") {
      ++info_calls;
      return Reply::String("# Server\r\nredis_version:" + version_ +
                           "\r\nredis_mode:standalone\r\n\r\n# Replication\r\nrole:master\r\n"
                           "master_repl_offset:1234\r\n");
    }
    if (argv[0] == "PING") return Reply::Status("PONG");
    if (argv[0] == "DBSIZE") return Reply::Integer(7);
    if (argv[0] == "CONFIG" && argv[1] == "GET") {
      return Reply::Array({Reply::String(argv[2]), Reply::String("3")});
    }
    if (argv[0] == "CLIENT" && argv[1] == "KILL") return Reply::Integer(2);
    return Reply::Status("OK");
  }

  std::string version_;
  Endpoint ep_{"10.0.0.1", 6379};
};

struct Fixture {
  explicit Fixture(std::string version) {
    auto c = std::make_unique<FakeConnection>(std::move(version));
    conn = c.get();
    admin = std::make_unique<Admin>(std::move(c));
  }
  FakeConnection* conn;
  std::unique_ptr<Admin> admin;
};

TEST(AdminTest, DetectVersionSetsCapabilities) {
  Fixture f("5.0.14");
  auto v = f.admin->DetectVersion();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->ToString(), "5.0.14");
  EXPECT_TRUE(f.admin->version_known());
  EXPECT_EQ(f.admin->caps().multi_offset_overhead, 15);
  EXPECT_EQ(f.conn->sent.back(), (Argv{"INFO", "server"}));
}

TEST(AdminTest, VersionDependentCallsDetectOnce) {
  Fixture f("7.0.15");
  ASSERT_TRUE(f.admin->SetMinReplicasToWrite(5).ok());
  ASSERT_TRUE(f.admin->SetMinReplicasMaxLag(10).ok());
  EXPECT_EQ(f.conn->info_calls, 1);
  EXPECT_EQ(f.conn->sent[1], (Argv{"CONFIG", "SET", "min-replicas-to-write", "5"}));
  EXPECT_EQ(f.conn->sent[2], (Argv{"CONFIG", "SET", "min-replicas-max-lag", "10"}));
}

TEST(AdminTest, OldVersionsUseSlaveNames) {
  for (std::string v : {"2.8.24", "3.2.12", "4.0.14"}) {
    Fixture f(v);
    auto n = f.admin->GetMinReplicasToWrite();
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, 3);
    EXPECT_EQ(f.conn->sent.back(), (Argv{"CONFIG", "GET", "min-slaves-to-write"})) << v;
    ASSERT_TRUE(f.admin->ConfigSet("min-replicas-max-lag", "10").ok());
    EXPECT_EQ(f.conn->sent.back(), (Argv{"CONFIG", "SET", "min-slaves-max-lag", "10"})) << v;
    EXPECT_EQ(f.admin->ConfigSetArgv("min-replicas-to-write", "1001"),
              (Argv{"CONFIG", "SET", "min-slaves-to-write", "1001"}));
  }
}

TEST(AdminTest, ConfigGetUnknownIsNotFound) {
  Fixture f("7.0.15");
  f.conn->handler = [](const Argv& a) -> std::optional<Reply> {
    if (a[0] == "CONFIG") return Reply::Array({});
    return std::nullopt;
  };
  auto v = f.admin->ConfigGet("no-such-thing");
  EXPECT_EQ(v.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(v.status().reason(), "UnknownConfig");
}

TEST(AdminTest, ClientPauseByVersion) {
  {
    Fixture f("2.8.24");
    Status s = f.admin->ClientPause(std::chrono::milliseconds(100), false);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(s.reason(), "UnsupportedByVersion");
  }
  {
    Fixture f("6.0.20");
    EXPECT_TRUE(f.admin->ClientPause(std::chrono::milliseconds(200), false).ok());
    EXPECT_EQ(f.conn->sent.back(), (Argv{"CLIENT", "PAUSE", "200"}));
    Status s = f.admin->ClientPause(std::chrono::milliseconds(200), true);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(s.message().find("6.2"), std::string::npos);
    EXPECT_EQ(f.admin->ClientUnpause().code(), StatusCode::kFailedPrecondition);
  }
  {
    Fixture f("6.2.0");
    EXPECT_TRUE(f.admin->ClientPause(std::chrono::milliseconds(5000), true).ok());
    EXPECT_EQ(f.conn->sent.back(), (Argv{"CLIENT", "PAUSE", "5000", "WRITE"}));
    EXPECT_TRUE(f.admin->ClientUnpause().ok());
    EXPECT_EQ(f.conn->sent.back(), (Argv{"CLIENT", "UNPAUSE"}));
  }
}

TEST(AdminTest, KillClientsByVersion) {
  {
    Fixture f("2.8.11");
    EXPECT_EQ(f.admin->KillClients().status().code(), StatusCode::kFailedPrecondition);
  }
  {
    // Normal and pub/sub clients, one pipeline.
    Fixture f("2.8.12");
    auto n = f.admin->KillClients();
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, 4);
    ASSERT_GE(f.conn->sent.size(), 2u);
    EXPECT_EQ(f.conn->sent[f.conn->sent.size() - 2], (Argv{"CLIENT", "KILL", "TYPE", "normal"}));
    EXPECT_EQ(f.conn->sent.back(), (Argv{"CLIENT", "KILL", "TYPE", "pubsub"}));
    EXPECT_EQ(f.conn->pipeline_sizes.back(), 2u);
  }
  {
    // A sealed 2.8 replica refuses CLIENT unless stale data is served: lifted
    // around the kills, in the same pipeline.
    Fixture f("2.8.19");
    auto n = f.admin->KillClients(/*lift_stale_refusal=*/true);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, 4);
    ASSERT_GE(f.conn->sent.size(), 4u);
    const size_t k = f.conn->sent.size();
    EXPECT_EQ(f.conn->sent[k - 4], (Argv{"CONFIG", "SET", "slave-serve-stale-data", "yes"}));
    EXPECT_EQ(f.conn->sent[k - 1], (Argv{"CONFIG", "SET", "slave-serve-stale-data", "no"}));
    EXPECT_EQ(f.conn->pipeline_sizes.back(), 4u);
  }
}

TEST(AdminTest, ReplicaOfUsesSlaveof) {
  Fixture f("7.0.15");
  f.conn->handler = [](const Argv& a) -> std::optional<Reply> {
    if (a[0] == "SLAVEOF" && a[1] != "NO") {
      return Reply::Status("OK Already connected to specified master");
    }
    return std::nullopt;
  };
  EXPECT_TRUE(f.admin->ReplicaOf(Endpoint{"10.0.0.2", 6380}).ok());
  EXPECT_EQ(f.conn->sent.back(), (Argv{"SLAVEOF", "10.0.0.2", "6380"}));
  EXPECT_TRUE(f.admin->ReplicaOfNoOne().ok());
  EXPECT_EQ(f.conn->sent.back(), (Argv{"SLAVEOF", "NO", "ONE"}));
  EXPECT_EQ(f.admin->ReplicaOfArgv(Endpoint{"::1", 1}), (Argv{"SLAVEOF", "::1", "1"}));
}

TEST(AdminTest, TransactionReturnsExecReplies) {
  Fixture f("4.0.14");
  auto r = f.admin->Transaction({f.admin->ConfigSetArgv("min-replicas-to-write", "1001"),
                                 {"CLIENT", "PAUSE", "200"},
                                 {"INFO", "replication"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_TRUE((*r)[0].IsOk());
  auto info = ParseInfoReply((*r)[2]);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->replication.master_repl_offset, 1234);
  // One pipeline: MULTI + 3 + EXEC.
  ASSERT_EQ(f.conn->pipeline_sizes.size(), 1u);
  EXPECT_EQ(f.conn->pipeline_sizes[0], 5u);
  // Transaction itself does not detect the version; ConfigSetArgv used the default
  // (old) names, which every version accepts.
  EXPECT_EQ(f.conn->sent[1], (Argv{"CONFIG", "SET", "min-slaves-to-write", "1001"}));
}

TEST(AdminTest, TransactionKeepsRuntimeErrorsAsReplies) {
  Fixture f("7.0.15");
  f.conn->handler = [](const Argv& a) -> std::optional<Reply> {
    if (a[0] == "CONFIG") return Reply::Error("ERR Invalid argument 'x'");
    return std::nullopt;
  };
  auto r = f.admin->Transaction({{"CONFIG", "SET", "maxmemory", "x"}, {"PING"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_TRUE((*r)[0].IsError());
  EXPECT_EQ((*r)[1], Reply::Status("PONG"));
}

TEST(AdminTest, TransactionQueueErrorIsFailure) {
  Fixture f("7.0.15");
  auto r = f.admin->Transaction({{"PING"}, {"BOGUS", "secret-arg"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("BOGUS"), std::string::npos);
  EXPECT_NE(r.status().message().find("unknown command"), std::string::npos);
  EXPECT_EQ(r.status().message().find("secret-arg"), std::string::npos);
}

TEST(AdminTest, TransactionExecNilIsAborted) {
  Fixture f("7.0.15");
  f.conn->exec_nil = true;
  auto r = f.admin->Transaction({{"PING"}});
  EXPECT_EQ(r.status().code(), StatusCode::kAborted);
}

TEST(AdminTest, ErrorRepliesMapToStatus) {
  Fixture f("7.0.15");
  f.conn->handler = [](const Argv& a) -> std::optional<Reply> {
    if (a[0] == "DBSIZE") return Reply::Error("LOADING Redis is loading the dataset in memory");
    if (a[0] == "PING") return Reply::Error("NOAUTH Authentication required.");
    if (a[0] == "CONFIG") return Reply::Error("ERR CONFIG SET failed for 'hunter2'");
    return std::nullopt;
  };
  Status loading = f.admin->DbSize().status();
  EXPECT_EQ(loading.code(), StatusCode::kUnavailable);
  EXPECT_EQ(loading.message(),
            "DBSIZE on 10.0.0.1:6379: LOADING Redis is loading the dataset in memory");
  EXPECT_EQ(f.admin->Ping().code(), StatusCode::kUnauthenticated);
  Status secret = f.admin->ConfigSet("masterauth", "hunter2");
  EXPECT_EQ(secret.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(secret.message().find("CONFIG SET masterauth"), std::string::npos);
  EXPECT_EQ(secret.message().find("hunter2"), std::string::npos) << secret.message();
}

TEST(AdminTest, TransportErrorsPassThrough) {
  Fixture f("7.0.15");
  f.conn->transport_error = Unavailable("10.0.0.1:6379: connection reset");
  EXPECT_EQ(f.admin->Ping().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.admin->Transaction({{"PING"}}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.admin->DetectVersion().status().code(), StatusCode::kUnavailable);
}

TEST(AdminTest, ConnectDetectsVersion) {
  class FakeDialer : public Dialer {
   public:
    StatusOr<std::unique_ptr<Connection>> Dial(const Endpoint&, const ConnectOptions&) override {
      return std::unique_ptr<Connection>(std::make_unique<FakeConnection>("6.2.14"));
    }
  } dialer;
  auto admin = Admin::Connect(dialer, Endpoint{"10.0.0.1", 6379}, ConnectOptions{});
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  EXPECT_EQ((*admin)->version().ToString(), "6.2.14");
  EXPECT_TRUE((*admin)->caps().client_pause_write);
}

}  // namespace
}  // namespace ruo::redis
