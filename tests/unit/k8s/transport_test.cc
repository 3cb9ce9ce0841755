// The cpprestsdk transport against a local plain-HTTP server: headers and
// bodies, token refresh on 401, streaming, cancellation and timeouts.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "k8s/client.h"
#include "k8s/cpprest_transport.h"
#include "unit/k8s/test_http_server.h"

namespace ruo::k8s {
namespace {

using std::chrono::milliseconds;
using testing::TestConn;
using testing::TestHttpServer;
using testing::TestRequest;

std::unique_ptr<HttpTransport> Transport(const std::string& url,
                                         std::shared_ptr<TokenSource> token = nullptr) {
  RestConfig config;
  config.server = url;
  config.token_source = std::move(token);
  auto t = NewCppRestTransport(config);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

auto Elapsed(std::chrono::steady_clock::time_point start) {
  return std::chrono::steady_clock::now() - start;
}

TEST(CppRestTransportTest, SendCarriesHeadersTokenAndBody) {
  TestRequest seen;
  TestHttpServer server([&](const TestRequest& req, TestConn& conn) {
    seen = req;
    conn.Respond(201, R"({"ok":true})");
  });
  auto transport = Transport(server.url(), std::make_shared<StaticTokenSource>("tok-1"));
  HttpRequest req;
  req.method = "POST";
  req.path = "/api/v1/namespaces/ns/configmaps?fieldManager=x%20y";
  req.headers = {{"Accept", "application/json"}, {"Content-Type", "application/merge-patch+json"}};
  req.body = R"({"a":1})";
  auto resp = transport->Send(req, milliseconds(5000), nullptr);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 201);
  EXPECT_EQ(resp->body, R"({"ok":true})");
  EXPECT_EQ(resp->Header("Content-Type"), "application/json");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/api/v1/namespaces/ns/configmaps?fieldManager=x%20y");
  EXPECT_EQ(seen.headers["authorization"], "Bearer tok-1");
  EXPECT_EQ(seen.headers["content-type"], "application/merge-patch+json");
  EXPECT_EQ(seen.headers["user-agent"], "redis-upgrade-operator");
  EXPECT_EQ(seen.body, R"({"a":1})");
}

TEST(CppRestTransportTest, RereadsRotatedTokenOn401) {
  auto dir = std::filesystem::temp_directory_path() / ("k8s_token_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "token").string();
  std::ofstream(path) << "old";
  auto source = std::make_shared<FileTokenSource>(path);
  ASSERT_EQ(*source->Token(), "old");
  std::ofstream(path) << "new";  // rotated, but the cached copy is still "old"

  std::vector<std::string> auths;
  std::mutex mu;
  TestHttpServer server([&](const TestRequest& req, TestConn& conn) {
    std::string auth = req.headers.count("authorization") ? req.headers.at("authorization") : "";
    {
      std::lock_guard<std::mutex> lock(mu);
      auths.push_back(auth);
    }
    if (auth == "Bearer new") {
      conn.Respond(200, "{}");
    } else {
      conn.Respond(
          401, R"({"kind":"Status","code":401,"reason":"Unauthorized","message":"Unauthorized"})");
    }
  });
  auto transport = Transport(server.url(), source);
  HttpRequest req;
  req.path = "/api";
  auto resp = transport->Send(req, milliseconds(5000), nullptr);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(auths, (std::vector<std::string>{"Bearer old", "Bearer new"}));
  std::filesystem::remove_all(dir);
}

TEST(CppRestTransportTest, Persistent401IsReturned) {
  TestHttpServer server([&](const TestRequest&, TestConn& conn) {
    conn.Respond(
        401, R"({"kind":"Status","code":401,"reason":"Unauthorized","message":"Unauthorized"})");
  });
  auto client =
      NewClientWithTransport(Transport(server.url(), std::make_shared<StaticTokenSource>("bad")));
  auto r = client->Get(resources::Pods(), "ns", "p");
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(server.requests(), 1) << "a static token is not retried";
}

TEST(CppRestTransportTest, SendTimesOut) {
  TestHttpServer server([&](const TestRequest&, TestConn& conn) { conn.WaitPeerClosed(5000); });
  auto transport = Transport(server.url());
  HttpRequest req;
  req.path = "/slow";
  auto start = std::chrono::steady_clock::now();
  auto resp = transport->Send(req, milliseconds(300), nullptr);
  EXPECT_EQ(resp.status().code(), StatusCode::kDeadlineExceeded) << resp.status().ToString();
  EXPECT_LT(Elapsed(start), milliseconds(3000));
}

TEST(CppRestTransportTest, SendCancelled) {
  TestHttpServer server([&](const TestRequest&, TestConn& conn) { conn.WaitPeerClosed(5000); });
  auto transport = Transport(server.url());
  auto cancel = CancelToken::Create();
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(100));
    cancel->Cancel();
  });
  HttpRequest req;
  req.path = "/slow";
  auto start = std::chrono::steady_clock::now();
  auto resp = transport->Send(req, milliseconds(10000), cancel);
  t.join();
  EXPECT_EQ(resp.status().code(), StatusCode::kCancelled) << resp.status().ToString();
  EXPECT_LT(Elapsed(start), milliseconds(3000));
}

TEST(CppRestTransportTest, ConnectionRefusedIsUnavailable) {
  int port;
  {
    TestHttpServer server([](const TestRequest&, TestConn&) {});
    port = server.port();
  }
  auto transport = Transport("http://127.0.0.1:" + std::to_string(port));
  HttpRequest req;
  req.path = "/";
  auto resp = transport->Send(req, milliseconds(3000), nullptr);
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable) << resp.status().ToString();
}

// Each test runs in its own process (gtest_discover_tests), so the pool is not
// created yet. One thread, the fewest possible, still serves an open watch
// stream and a request beside it: nothing of ours blocks a pool thread.
TEST(CppRestTransportTest, ThreadPoolSizedOnceAndOneThreadServesStreamAndRequest) {
  EXPECT_EQ(InitCppRestThreadPool(0).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(InitCppRestThreadPool(1).ok());
  EXPECT_EQ(InitCppRestThreadPool(4).code(), StatusCode::kFailedPrecondition);

  std::atomic<bool> done{false};
  TestHttpServer server([&](const TestRequest& req, TestConn& conn) {
    if (req.path == "/watch") {
      conn.StartChunked();
      conn.Chunk("{\"n\":1}\n");
      while (!done && !conn.WaitPeerClosed(20)) {
      }
      return;
    }
    conn.Respond(200, R"({"ok":true})");
  });
  auto transport = Transport(server.url());
  HttpRequest watch;
  watch.path = "/watch";
  auto reader = transport->Stream(watch, milliseconds(5000), nullptr);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto line = (*reader)->ReadLine();
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  EXPECT_EQ(line->value_or(""), R"({"n":1})");

  std::thread next_line([&] { (void)(*reader)->ReadLine(); });  // pending on the stream
  HttpRequest get;
  get.path = "/api/v1/namespaces";
  for (int i = 0; i < 3; ++i) {
    auto resp = transport->Send(get, milliseconds(5000), nullptr);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();  // not ASSERT: next_line must be joined
    if (resp.ok()) {
      EXPECT_EQ(resp->body, R"({"ok":true})");
    }
  }
  done = true;
  (*reader)->Cancel();
  next_line.join();
}

TEST(CppRestTransportTest, StreamsLinesAsTheyArrive) {
  TestHttpServer server([&](const TestRequest&, TestConn& conn) {
    conn.StartChunked();
    conn.Chunk("{\"n\":1}\n{\"n\"");  // a line split across chunks
    std::this_thread::sleep_for(milliseconds(50));
    conn.Chunk(":2}\n");
    std::this_thread::sleep_for(milliseconds(50));
    conn.Chunk("{\"n\":3}\n");
    conn.EndChunked();
  });
  auto transport = Transport(server.url());
  HttpRequest req;
  req.path = "/watch";
  auto reader = transport->Stream(req, milliseconds(5000), nullptr);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->status(), 200);
  std::vector<std::string> lines;
  while (true) {
    auto line = (*reader)->ReadLine();
    ASSERT_TRUE(line.ok()) << line.status().ToString();
    if (!line->has_value()) break;
    lines.push_back(**line);
  }
  EXPECT_EQ(lines, (std::vector<std::string>{R"({"n":1})", R"({"n":2})", R"({"n":3})"}));
  // Terminal results repeat.
  auto again = (*reader)->ReadLine();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST(CppRestTransportTest, StreamCancelFromAnotherThreadIsPrompt) {
  std::atomic<bool> peer_closed{false};
  TestHttpServer server([&](const TestRequest&, TestConn& conn) {
    conn.StartChunked();
    conn.Chunk("first\n");
    peer_closed = conn.WaitPeerClosed(10000);
  });
  auto transport = Transport(server.url());
  HttpRequest req;
  req.path = "/watch";
  auto reader = transport->Stream(req, milliseconds(60000), nullptr);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto first = (*reader)->ReadLine();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(**first, "first");
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(100));
    (*reader)->Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto next = (*reader)->ReadLine();
  t.join();
  EXPECT_EQ(next.status().code(), StatusCode::kCancelled) << next.status().ToString();
  EXPECT_LT(Elapsed(start), milliseconds(3000));
  reader->reset();
  for (int i = 0; i < 100 && !peer_closed; ++i) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_TRUE(peer_closed) << "the connection is closed on cancel";
}

TEST(CppRestTransportTest, StreamCancelThroughToken) {
  TestHttpServer server([&](const TestRequest&, TestConn& conn) {
    conn.StartChunked();
    conn.WaitPeerClosed(10000);
  });
  auto transport = Transport(server.url());
  auto cancel = CancelToken::Create();
  HttpRequest req;
  req.path = "/watch";
  auto reader = transport->Stream(req, milliseconds(60000), cancel);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(100));
    cancel->Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto next = (*reader)->ReadLine();
  t.join();
  EXPECT_EQ(next.status().code(), StatusCode::kCancelled) << next.status().ToString();
  EXPECT_LT(Elapsed(start), milliseconds(3000));
}

TEST(CppRestTransportTest, StreamIdleTimeout) {
  TestHttpServer server([&](const TestRequest&, TestConn& conn) {
    conn.StartChunked();
    conn.WaitPeerClosed(10000);
  });
  auto transport = Transport(server.url());
  HttpRequest req;
  req.path = "/watch";
  auto reader = transport->Stream(req, milliseconds(300), nullptr);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto start = std::chrono::steady_clock::now();
  auto next = (*reader)->ReadLine();
  EXPECT_EQ(next.status().code(), StatusCode::kDeadlineExceeded) << next.status().ToString();
  EXPECT_LT(Elapsed(start), milliseconds(3000));
}

TEST(CppRestTransportTest, StreamConnectionDropIsUnavailable) {
  TestHttpServer server([&](const TestRequest&, TestConn& conn) {
    conn.StartChunked();
    conn.Chunk("one\n");
    std::this_thread::sleep_for(milliseconds(50));
    conn.Close();
  });
  auto transport = Transport(server.url());
  HttpRequest req;
  req.path = "/watch";
  auto reader = transport->Stream(req, milliseconds(5000), nullptr);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto one = (*reader)->ReadLine();
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(**one, "one");
  auto next = (*reader)->ReadLine();
  EXPECT_EQ(next.status().code(), StatusCode::kUnavailable) << next.status().ToString();
}

TEST(CppRestTransportTest, WatchThroughClientMapsHttpError) {
  TestHttpServer server([&](const TestRequest&, TestConn& conn) {
    conn.Respond(
        410,
        R"js({"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 1 (99)"})js");
  });
  auto client = NewClientWithTransport(Transport(server.url()));
  WatchOptions options;
  options.resource_version = "1";
  auto stream = client->Watch(resources::ConfigMaps(), "ns", options, nullptr);
  EXPECT_TRUE(IsGone(stream.status())) << stream.status().ToString();
  EXPECT_EQ(stream.status().message(), "too old resource version: 1 (99)");
}

TEST(CppRestTransportTest, ManyRequestsReuseConnections) {
  TestHttpServer server(
      [&](const TestRequest& req, TestConn& conn) { conn.Respond(200, req.path); });
  auto transport = Transport(server.url());
  for (int i = 0; i < 50; ++i) {
    HttpRequest req;
    req.path = "/r" + std::to_string(i);
    auto resp = transport->Send(req, milliseconds(5000), nullptr);
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->body, req.path);
  }
}

TEST(CppRestTransportTest, RejectsBadConfig) {
  RestConfig config;
  config.server = "ftp://x";
  EXPECT_EQ(NewCppRestTransport(config).status().code(), StatusCode::kInvalidArgument);
  config.server = "https://127.0.0.1:1";
  config.ca_pem = "not a certificate";
  EXPECT_EQ(NewCppRestTransport(config).status().code(), StatusCode::kInvalidArgument);
  config.ca_pem.clear();
  config.client_cert_pem = "x";
  EXPECT_EQ(NewCppRestTransport(config).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ruo::k8s
