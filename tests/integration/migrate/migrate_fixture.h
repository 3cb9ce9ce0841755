// The fixture of the migrate integration tests: the real binary runs as a
// subprocess against real servers, a tcp_forwarder plays the VIP that the
// switch hook moves.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/migrate/subprocess.h"
#include "redis/connection.h"
#include "redis/info.h"
#include "support/redis_server.h"
#include "support/servers.h"

namespace ruo::testing {

inline constexpr const char* kBinary = RUO_BINARY;
inline constexpr const char* kForwarder = RUO_TCP_FORWARDER;
inline constexpr const char* kFakeRedis = RUO_FAKE_REDIS_VERSION;

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  nlohmann::json json;  // the one JSON object on stdout (null if none)
};

// Non-empty lines of a text.
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (nl > pos) lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

class MigrateIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(tmp_.path().empty()) << "mkdtemp failed"; }

  // Child processes die before the servers they talk to (members go in reverse).
  void TearDown() override { procs_.clear(); }

  // A redis-server with a fast full sync (7.0 waits 5 s for diskless sync by
  // default) and DEBUG enabled (7.0 refuses it by default) for DEBUG POPULATE.
  std::unique_ptr<RedisServer> StartRedis(std::vector<std::string> extra = {},
                                          std::optional<std::string> password = std::nullopt) {
    RedisServerOptions opts;
    opts.password = std::move(password);
    // Cluster mode also listens on port + 10000.
    for (const auto& arg : extra) {
      if (arg == "--cluster-enabled") opts.max_port = 55535;
    }
    opts.extra_args = {"--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes"};
    opts.extra_args.insert(opts.extra_args.end(), extra.begin(), extra.end());
    auto s = RedisServer::Start(opts);
    if (!s.ok()) {
      ADD_FAILURE() << "redis-server: " << s.status().ToString();
      return nullptr;
    }
    return std::move(s).value();
  }

  // A real server of the given version (hack/setup-servers.sh installs them).
  std::unique_ptr<RedisServer> StartServer(std::string_view engine, std::string_view version,
                                           std::vector<std::string> extra = {}) {
    auto bin = FindServer(engine, version);
    if (!bin.ok()) {
      ADD_FAILURE() << bin.status().ToString();
      return nullptr;
    }
    RedisServerOptions opts = TestServerOptions(*bin);
    opts.extra_args.insert(opts.extra_args.end(), extra.begin(), extra.end());
    auto s = RedisServer::Start(opts);
    if (!s.ok()) {
      ADD_FAILURE() << bin->Name() << ": " << s.status().ToString();
      return nullptr;
    }
    return std::move(s).value();
  }

  Subprocess* Spawn(const std::string& name, std::vector<std::string> argv,
                    std::map<std::string, std::optional<std::string>> env = {}) {
    SubprocessOptions o;
    o.argv = std::move(argv);
    o.name = name;
    o.output_dir = tmp_.path();
    // Never inherit a password from the developer's shell.
    if (env.find("REDISCLI_AUTH") == env.end()) env["REDISCLI_AUTH"] = std::nullopt;
    o.env = std::move(env);
    auto p = Subprocess::Start(o);
    if (!p.ok()) {
      ADD_FAILURE() << name << ": " << p.status().ToString();
      return nullptr;
    }
    procs_.push_back(std::move(p).value());
    return procs_.back().get();
  }

  // Runs a subcommand to completion (killed after `timeout`).
  CmdResult Run(std::vector<std::string> args,
                std::map<std::string, std::optional<std::string>> env = {},
                std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    args.insert(args.begin(), kBinary);
    CmdResult r;
    Subprocess* p = Spawn(args.size() > 1 ? args[1] : "cmd", args, std::move(env));
    if (p == nullptr) return r;
    auto code = p->Wait(timeout);
    if (!code.has_value()) {
      ADD_FAILURE() << args[1] << " did not finish within " << timeout.count() << " ms";
      p->Kill();
      code = p->Wait(std::chrono::seconds(5));
    }
    r.exit_code = code.value_or(-1);
    r.out = p->Stdout();
    r.err = p->Stderr();
    r.json = ParseReport(r.out);
    return r;
  }

  static nlohmann::json ParseReport(const std::string& out) {
    auto lines = Lines(out);
    if (lines.size() != 1) return nullptr;
    try {
      return nlohmann::json::parse(lines[0]);
    } catch (const nlohmann::json::exception&) {
      return nullptr;
    }
  }

  // Starts the VIP stand-in; returns its port (0 on failure).
  int StartForwarder(const std::string& backend_file, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kForwarder, "--backend-file", backend_file};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Subprocess* p = Spawn("forwarder", argv);
    if (p == nullptr) return 0;
    auto line = p->FirstStdoutLine(std::chrono::seconds(10));
    if (!line.has_value()) {
      ADD_FAILURE() << "tcp_forwarder did not start: " << p->Stderr();
      return 0;
    }
    return std::stoi(*line);
  }

  static redis::Info Info(const RedisServer& s) {
    auto reply = s.Command({"INFO"});
    if (!reply.ok() || reply->IsError()) {
      ADD_FAILURE() << "INFO on " << s.endpoint().ToString() << " failed";
      return {};
    }
    auto info = redis::ParseInfo(reply->str);
    if (!info.ok()) {
      ADD_FAILURE() << info.status().ToString();
      return {};
    }
    return *info;
  }

  static std::string ConfigGet(const RedisServer& s, const std::string& name) {
    auto reply = s.Command({"CONFIG", "GET", name});
    if (!reply.ok() || reply->elements.size() != 2) {
      ADD_FAILURE() << "CONFIG GET " << name << " failed";
      return "";
    }
    return reply->elements[1].str;
  }

  // DEBUG POPULATE n: keys key:0 … key:<n-1>.
  static void Populate(const RedisServer& s, int n) {
    auto reply = s.Command({"DEBUG", "POPULATE", std::to_string(n)});
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    ASSERT_FALSE(reply->IsError()) << reply->str;
    ASSERT_EQ(DbSize(s), n);
  }

  // The sealed old master refuses reads (serve-stale-data no); tests that
  // compare its data lift that first. The slave-* name works on every version.
  static void AllowStaleReads(const RedisServer& s) {
    auto reply = s.Command({"CONFIG", "SET", "slave-serve-stale-data", "yes"});
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    ASSERT_FALSE(reply->IsError()) << reply->str;
  }

  static int64_t DbSize(const RedisServer& s) {
    auto reply = s.Command({"DBSIZE"});
    return reply.ok() ? reply->integer : -1;
  }

  // Stops a probe with SIGTERM (it still verifies) and returns its report.
  static CmdResult FinishProbe(Subprocess* probe) {
    CmdResult r;
    probe->Signal(SIGTERM);
    auto code = probe->Wait(std::chrono::seconds(60));
    if (!code.has_value()) {
      ADD_FAILURE() << "probe did not finish after SIGTERM";
      probe->Kill();
    }
    r.exit_code = code.value_or(-1);
    r.out = probe->Stdout();
    r.err = probe->Stderr();
    r.json = ParseReport(r.out);
    return r;
  }

  // Every key of `from` exists on `to` with the same (string) value; keys
  // ending in `except_suffix` (one the writer keeps changing after the switch,
  // such as probe --mix's MULTI counter) are skipped.
  static void ExpectAllKeysCopied(const RedisServer& from, const RedisServer& to,
                                  const std::string& except_suffix = "") {
    auto dialer = redis::NewHiredisDialer();
    redis::ConnectOptions co;
    co.command_timeout = std::chrono::seconds(30);
    auto a = dialer->Dial(from.endpoint(), co);
    auto b = dialer->Dial(to.endpoint(), co);
    ASSERT_TRUE(a.ok() && b.ok());
    std::string cursor = "0";
    int64_t compared = 0, missing = 0;
    do {
      auto scan = (*a)->Command({"SCAN", cursor, "COUNT", "1000"});
      ASSERT_TRUE(scan.ok());
      ASSERT_EQ(scan->elements.size(), 2u);
      cursor = scan->elements[0].str;
      std::vector<std::string> mget = {"MGET"};
      for (const auto& k : scan->elements[1].elements) {
        const bool skip = !except_suffix.empty() && k.str.size() >= except_suffix.size() &&
                          k.str.compare(k.str.size() - except_suffix.size(), except_suffix.size(),
                                        except_suffix) == 0;
        if (!skip) mget.push_back(k.str);
      }
      if (mget.size() == 1) continue;
      auto va = (*a)->Command(mget);
      auto vb = (*b)->Command(mget);
      ASSERT_TRUE(va.ok() && vb.ok());
      for (size_t i = 0; i < va->elements.size(); ++i) {
        ++compared;
        if (!(va->elements[i] == vb->elements[i])) {
          if (++missing <= 5) ADD_FAILURE() << "key " << mget[i + 1] << " differs on target";
        }
      }
    } while (cursor != "0");
    EXPECT_EQ(missing, 0) << "of " << compared << " keys";
    EXPECT_GT(compared, 0);
  }

  TempDir tmp_;
  std::vector<std::unique_ptr<Subprocess>> procs_;
};

inline std::string Reason(const CmdResult& r) {
  return r.json.value("error_reason", "");
}

}  // namespace ruo::testing
