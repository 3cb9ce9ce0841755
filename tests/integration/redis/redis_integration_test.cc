#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "redis/admin.h"
#include "support/redis_server.h"

namespace ruo::redis {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::RedisServer;
using testing::RedisServerOptions;

constexpr char kPassword[] = "Tr0ub4dor&3-not-in-logs";

std::unique_ptr<RedisServer> StartServer(const RedisServerOptions& opts = {}) {
  auto server = RedisServer::Start(opts);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

ConnectOptions Opts(std::optional<std::string> password = std::nullopt,
                    milliseconds command_timeout = milliseconds(5000)) {
  ConnectOptions o;
  o.password = std::move(password);
  o.command_timeout = command_timeout;
  return o;
}

std::unique_ptr<Connection> Dial(const RedisServer& server, const ConnectOptions& opts = Opts()) {
  auto conn = NewHiredisDialer()->Dial(server.endpoint(), opts);
  EXPECT_TRUE(conn.ok()) << conn.status().ToString();
  return conn.ok() ? std::move(conn).value() : nullptr;
}

std::unique_ptr<Admin> Connect(const RedisServer& server, const ConnectOptions& opts = Opts()) {
  auto dialer = NewHiredisDialer();
  auto admin = Admin::Connect(*dialer, server.endpoint(), opts);
  EXPECT_TRUE(admin.ok()) << admin.status().ToString();
  return admin.ok() ? std::move(admin).value() : nullptr;
}

void ExpectNoSecret(const Status& s, std::string_view secret) {
  EXPECT_EQ(s.ToString().find(secret), std::string::npos) << s.ToString();
}

TEST(RedisServerTest, StartsAndStopsCleanly) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->running());
  EXPECT_GT(server->port(), 0);
  std::string dir = server->dir();
  EXPECT_TRUE(std::filesystem::exists(dir + "/redis.log"));
  auto pong = server->Command({"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status().ToString();
  EXPECT_EQ(*pong, Reply::Status("PONG"));
  pid_t pid = server->pid();
  server->Stop();
  EXPECT_FALSE(server->running());
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_NE(::kill(pid, 0), 0);  // gone and reaped
}

TEST(RedisIntegrationTest, DialInfoAndVersion) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto admin = Connect(*server);
  ASSERT_NE(admin, nullptr);
  EXPECT_TRUE(admin->version_known());
  EXPECT_TRUE(IsSupportedVersion(admin->version())) << admin->version().ToString();
  if (std::getenv("RUO_REDIS_SERVER") == nullptr) {
    EXPECT_EQ(admin->version().ToString(), "7.0.15");  // Debian bookworm's redis-server
    EXPECT_TRUE(admin->caps().client_pause_write);
  }
  auto info = admin->GetInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->server.version, admin->version());
  EXPECT_EQ(info->server.tcp_port, server->port());
  EXPECT_EQ(info->server.process_id, server->pid());
  EXPECT_EQ(info->replication.role, "master");
  EXPECT_FALSE(info->cluster_enabled);
  EXPECT_TRUE(admin->Ping().ok());
  auto dbsize = admin->DbSize();
  ASSERT_TRUE(dbsize.ok());
  EXPECT_EQ(*dbsize, 0);
}

TEST(RedisIntegrationTest, BinarySafeCommandsAndClientName) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConnectOptions opts = Opts();
  opts.client_name = "ruo-test";
  auto conn = Dial(*server, opts);
  ASSERT_NE(conn, nullptr);
  std::string value("a\0b\r\nc", 6);
  auto set = conn->Command({"SET", "bin key", value});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->IsOk());
  auto get = conn->Command({"GET", "bin key"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(*get, Reply::String(value));
  auto name = conn->Command({"CLIENT", "GETNAME"});
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, Reply::String("ruo-test"));
  auto missing = conn->Command({"GET", "nope"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, Reply::Nil());
  // A Redis error is a reply, not a transport failure; the connection stays usable.
  auto err = conn->Command({"NOSUCHCOMMAND"});
  ASSERT_TRUE(err.ok());
  EXPECT_TRUE(err->IsError());
  auto pipeline = conn->Pipeline({{"INCR", "n"}, {"INCR", "n"}, {"LRANGE", "none", "0", "-1"}});
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  EXPECT_EQ(*pipeline,
            (std::vector<Reply>{Reply::Integer(1), Reply::Integer(2), Reply::Array({})}));
}

TEST(RedisIntegrationTest, PasswordRightWrongMissing) {
  RedisServerOptions sopts;
  sopts.password = kPassword;
  auto server = StartServer(sopts);
  ASSERT_NE(server, nullptr);
  auto dialer = NewHiredisDialer();

  auto right = Admin::Connect(*dialer, server->endpoint(), Opts(kPassword));
  ASSERT_TRUE(right.ok()) << right.status().ToString();
  EXPECT_TRUE((*right)->Ping().ok());

  std::string wrong_password = "wrong-Pa55word-xyz";
  auto wrong = dialer->Dial(server->endpoint(), Opts(wrong_password));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().reason(), "AuthFailed");
  ExpectNoSecret(wrong.status(), wrong_password);
  ExpectNoSecret(wrong.status(), kPassword);

  auto missing = dialer->Dial(server->endpoint(), Opts());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(missing.status().reason(), "AuthRequired");
  ExpectNoSecret(missing.status(), kPassword);

  // Errors of commands that carry the password never echo it either.
  Admin& admin = **right;
  Status bad = admin.ConfigSet("masterauth", std::string(kPassword) + "\n");
  ExpectNoSecret(bad, kPassword);
  auto tx = admin.Transaction({{"CONFIG", "SET", "masterauth", kPassword}, {"NOSUCHCMD", "x"}});
  ASSERT_FALSE(tx.ok());
  ExpectNoSecret(tx.status(), kPassword);
}

TEST(RedisIntegrationTest, PasswordGivenToServerWithoutOne) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto conn = NewHiredisDialer()->Dial(server->endpoint(), Opts("unneeded"));
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto pong = (*conn)->Command({"PING"});
  ASSERT_TRUE(pong.ok());
  EXPECT_EQ(*pong, Reply::Status("PONG"));
}

TEST(RedisIntegrationTest, MinReplicasToWriteFencesWrites) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto admin = Connect(*server);
  ASSERT_NE(admin, nullptr);
  auto initial = admin->GetMinReplicasToWrite();
  ASSERT_TRUE(initial.ok()) << initial.status().ToString();
  EXPECT_EQ(*initial, 0);
  ASSERT_TRUE(admin->SetMinReplicasToWrite(2).ok());
  auto now = admin->GetMinReplicasToWrite();
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(*now, 2);
  auto raw = admin->ConfigGet("min-slaves-to-write");  // old name is translated
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(*raw, "2");
  ASSERT_TRUE(admin->SetMinReplicasMaxLag(7).ok());
  auto lag = admin->GetMinReplicasMaxLag();
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(*lag, 7);

  // No replica: writes are refused with -NOREPLICAS, reads still work.
  auto writer = Dial(*server);
  ASSERT_NE(writer, nullptr);
  auto refused = writer->Command({"SET", "k", "v"});
  ASSERT_TRUE(refused.ok());
  ASSERT_TRUE(refused->IsError());
  Status mapped = StatusFromErrorReply("SET", refused->str);
  EXPECT_EQ(mapped.code(), StatusCode::kUnavailable);
  EXPECT_EQ(mapped.reason(), "NoReplicas");
  ASSERT_TRUE(admin->SetMinReplicasToWrite(0).ok());
  auto accepted = writer->Command({"SET", "k", "v"});
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(accepted->IsOk());

  auto unknown = admin->ConfigGet("no-such-parameter");
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  Status bad_value = admin->ConfigSet("maxmemory", "lots");
  EXPECT_EQ(bad_value.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(bad_value.message().find("CONFIG SET maxmemory"), std::string::npos);
}

TEST(RedisIntegrationTest, TransactionWithConfigSetAndInfo) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto admin = Connect(*server);
  ASSERT_NE(admin, nullptr);
  auto writer = Dial(*server);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Command({"SET", "a", "1"}).ok());

  auto replies = admin->Transaction(
      {admin->ConfigSetArgv("min-replicas-to-write", "1000"), {"INFO", "replication"}, {"DBSIZE"}});
  ASSERT_TRUE(replies.ok()) << replies.status().ToString();
  ASSERT_EQ(replies->size(), 3u);
  EXPECT_TRUE((*replies)[0].IsOk());
  auto info = ParseInfoReply((*replies)[1]);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->replication.role, "master");
  EXPECT_EQ((*replies)[2], Reply::Integer(1));
  auto fence = admin->GetMinReplicasToWrite();
  ASSERT_TRUE(fence.ok());
  EXPECT_EQ(*fence, 1000);

  // A runtime error inside EXEC is an element, not a failed transaction.
  auto mixed = admin->Transaction({{"CONFIG", "SET", "maxmemory", "lots"}, {"PING"}});
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  EXPECT_TRUE((*mixed)[0].IsError());
  EXPECT_EQ((*mixed)[1], Reply::Status("PONG"));
}

TEST(RedisIntegrationTest, TransactionQueueErrorIsSurfaced) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto admin = Connect(*server);
  ASSERT_NE(admin, nullptr);
  auto tx = admin->Transaction(
      {admin->ConfigSetArgv("min-replicas-to-write", "1000"), {"NOSUCHCOMMAND", "arg"}});
  ASSERT_FALSE(tx.ok());
  EXPECT_EQ(tx.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(tx.status().message().find("NOSUCHCOMMAND"), std::string::npos)
      << tx.status().message();
  // EXEC discarded the block: the fence was never set, and the connection is in step.
  auto fence = admin->GetMinReplicasToWrite();
  ASSERT_TRUE(fence.ok()) << fence.status().ToString();
  EXPECT_EQ(*fence, 0);
  EXPECT_TRUE(admin->Ping().ok());
}

TEST(RedisIntegrationTest, ReplicaOfAndPromotion) {
  RedisServerOptions master_opts;
  master_opts.extra_args = {"--repl-diskless-sync-delay", "0"};  // default waits 5 s
  auto master_server = StartServer(master_opts);
  auto replica_server = StartServer();
  ASSERT_NE(master_server, nullptr);
  ASSERT_NE(replica_server, nullptr);
  auto master = Connect(*master_server);
  auto replica = Connect(*replica_server);
  ASSERT_NE(master, nullptr);
  ASSERT_NE(replica, nullptr);
  auto writer = Dial(*master_server);
  ASSERT_NE(writer, nullptr);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(writer->Command({"SET", "key" + std::to_string(i), "v"}).ok());
  }

  ASSERT_TRUE(replica->ReplicaOf(master_server->endpoint()).ok());
  // Writes during the sync arrive through the replication stream.
  ASSERT_TRUE(writer->Command({"SET", "late", "v"}).ok());

  bool in_step = false;
  Info last;
  auto deadline = steady_clock::now() + std::chrono::seconds(20);
  while (steady_clock::now() < deadline) {
    auto m = master->GetInfo("replication");
    auto r = replica->GetInfo("replication");
    ASSERT_TRUE(m.ok() && r.ok());
    last = *r;
    if (r->replication.master_link_status == "up" &&
        r->replication.slave_repl_offset == m->replication.master_repl_offset &&
        !m->replication.replicas.empty() && m->replication.replicas[0].state == "online" &&
        m->replication.replicas[0].offset == m->replication.master_repl_offset) {
      in_step = true;
      EXPECT_EQ(m->replication.connected_slaves, 1);
      EXPECT_EQ(m->replication.replicas[0].port, replica_server->port());
      break;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(in_step) << "link " << last.replication.master_link_status << " offset "
                       << last.replication.slave_repl_offset;
  EXPECT_EQ(last.replication.role, "slave");
  EXPECT_EQ(last.replication.master_port, master_server->port());
  auto keys = replica->DbSize();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, 101);

  // A replica refuses writes (-READONLY → Unavailable).
  auto replica_writer = Dial(*replica_server);
  ASSERT_NE(replica_writer, nullptr);
  auto refused = replica_writer->Command({"SET", "x", "1"});
  ASSERT_TRUE(refused.ok());
  ASSERT_TRUE(refused->IsError());
  EXPECT_EQ(StatusFromErrorReply("SET", refused->str).reason(), "ReadOnly");

  ASSERT_TRUE(replica->ReplicaOfNoOne().ok());
  auto promoted = replica->GetInfo("replication");
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(promoted->replication.role, "master");
  auto accepted = replica_writer->Command({"SET", "x", "1"});
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(accepted->IsOk());
}

TEST(RedisIntegrationTest, ClientPauseWriteBlocksWritesNotReads) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto admin = Connect(*server);
  ASSERT_NE(admin, nullptr);
  if (!admin->caps().client_pause_write) GTEST_SKIP() << "needs 6.2+";
  auto writer = Dial(*server);
  auto reader = Dial(*server);
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(writer->Command({"SET", "k", "before"}).ok());

  ASSERT_TRUE(admin->ClientPause(milliseconds(10000), /*write_only=*/true).ok());
  std::atomic<bool> done{false};
  StatusOr<Reply> set_result = Reply::Nil();
  auto started = steady_clock::now();
  std::thread t([&] {
    set_result = writer->Command({"SET", "k", "after"});
    done = true;
  });
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(done.load()) << "SET was not blocked by CLIENT PAUSE WRITE";
  auto get = reader->Command({"GET", "k"});  // reads keep working
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(*get, Reply::String("before"));
  auto info = admin->GetInfo("replication");  // and INFO
  EXPECT_TRUE(info.ok()) << info.status().ToString();

  ASSERT_TRUE(admin->ClientUnpause().ok());
  t.join();
  auto blocked_for = steady_clock::now() - started;
  EXPECT_GE(blocked_for, milliseconds(300));
  EXPECT_LT(blocked_for, milliseconds(5000));
  ASSERT_TRUE(set_result.ok()) << set_result.status().ToString();
  EXPECT_TRUE(set_result->IsOk());
  auto after = reader->Command({"GET", "k"});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, Reply::String("after"));
}

TEST(RedisIntegrationTest, KillClients) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto admin = Connect(*server);
  ASSERT_NE(admin, nullptr);
  auto victim = Dial(*server);
  ASSERT_NE(victim, nullptr);
  ASSERT_TRUE(victim->Command({"PING"}).ok());
  auto subscriber = Dial(*server);
  ASSERT_NE(subscriber, nullptr);
  ASSERT_TRUE(subscriber->Command({"SUBSCRIBE", "ch"}).ok());

  auto killed = admin->KillClients();
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  EXPECT_GE(*killed, 2);  // the subscriber too
  auto after = victim->Command({"PING"});
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(after.status().message().find(server->endpoint().ToString()), std::string::npos);
  // Broken for good: fails fast without touching the network.
  EXPECT_EQ(victim->Command({"PING"}).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(admin->Ping().ok());  // SKIPME: the caller survives
}

TEST(RedisIntegrationTest, CommandTimeoutIsDeadlineExceeded) {
  RedisServerOptions sopts;
  sopts.extra_args = {"--enable-debug-command", "yes"};
  auto server = StartServer(sopts);
  ASSERT_NE(server, nullptr);
  auto conn = Dial(*server, Opts(std::nullopt, milliseconds(300)));
  ASSERT_NE(conn, nullptr);
  auto started = steady_clock::now();
  auto slow = conn->Command({"DEBUG", "SLEEP", "1"});
  auto took = steady_clock::now() - started;
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded) << slow.status().ToString();
  EXPECT_NE(slow.status().message().find(server->endpoint().ToString()), std::string::npos);
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, milliseconds(900));
  // The late reply must never be taken for the next command's: the connection is dead.
  started = steady_clock::now();
  auto next = conn->Command({"PING"});
  EXPECT_EQ(next.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(next.status().reason(), "ConnectionBroken");
  EXPECT_LT(steady_clock::now() - started, milliseconds(50));
  auto pipeline = conn->Pipeline({{"PING"}});
  EXPECT_FALSE(pipeline.ok());
}

TEST(RedisIntegrationTest, ConnectionRefusedIsUnavailable) {
  int port = testing::FreePort();
  ASSERT_GT(port, 0);
  Endpoint ep{"127.0.0.1", port};
  auto conn = NewHiredisDialer()->Dial(ep, Opts());
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(conn.status().message().find(ep.ToString()), std::string::npos);
  auto dialer = NewHiredisDialer();
  EXPECT_EQ(Admin::Connect(*dialer, ep, Opts()).status().code(), StatusCode::kUnavailable);
}

TEST(RedisIntegrationTest, ServerKilledFailsUnavailable) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto admin = Connect(*server);
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->Ping().ok());
  server->Kill();
  EXPECT_FALSE(server->running());
  Status s = admin->Ping();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_EQ(admin->GetInfo().status().code(), StatusCode::kUnavailable);
  auto redial = NewHiredisDialer()->Dial(admin->endpoint(), Opts());
  EXPECT_EQ(redial.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ruo::redis
