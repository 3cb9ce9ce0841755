// A scripted fake of redis::Connection: a queue of expected argv → scripted
// reply. Every command sent is recorded (also into a shared event log, so tests
// can check the order across servers and record saves); a command that does not
// match the next expectation fails the test.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "redis/admin.h"
#include "redis/connection.h"
#include "redis/reply.h"

namespace ruo::engine::testing {

// One line per event: "<server>: <argv joined by spaces>", "save: <Step>", ...
struct EventLog {
  std::vector<std::string> events;
  void Add(std::string e) { events.push_back(std::move(e)); }
  // Index of the first event equal to `e`, or -1.
  int IndexOf(const std::string& e) const {
    for (size_t i = 0; i < events.size(); ++i) {
      if (events[i] == e) return static_cast<int>(i);
    }
    return -1;
  }
  int IndexOfPrefix(const std::string& p) const {
    for (size_t i = 0; i < events.size(); ++i) {
      if (events[i].rfind(p, 0) == 0) return static_cast<int>(i);
    }
    return -1;
  }
};

inline std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

class FakeConnection : public redis::Connection {
 public:
  struct Expectation {
    std::vector<std::string> argv;
    StatusOr<redis::Reply> reply;
  };

  FakeConnection(std::string name, redis::Endpoint ep, EventLog* log = nullptr)
      : name_(std::move(name)), ep_(std::move(ep)), log_(log) {}

  // Scripts the next command (argv as a space-separated string for brevity;
  // use ExpectArgv for arguments containing spaces).
  FakeConnection& Expect(const std::string& cmd, StatusOr<redis::Reply> reply) {
    std::vector<std::string> argv;
    size_t start = 0;
    while (start <= cmd.size()) {
      size_t sp = cmd.find(' ', start);
      if (sp == std::string::npos) sp = cmd.size();
      if (sp > start) argv.push_back(cmd.substr(start, sp - start));
      start = sp + 1;
    }
    return ExpectArgv(std::move(argv), std::move(reply));
  }
  FakeConnection& ExpectArgv(std::vector<std::string> argv, StatusOr<redis::Reply> reply) {
    queue_.push_back({std::move(argv), std::move(reply)});
    return *this;
  }

  StatusOr<redis::Reply> Command(const std::vector<std::string>& argv) override {
    return Next(argv, /*pipelined=*/false);
  }

  StatusOr<std::vector<redis::Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) override {
    ++pipelines_;
    std::vector<redis::Reply> out;
    for (const auto& argv : commands) {
      auto r = Next(argv, /*pipelined=*/true);
      if (!r.ok()) return r.status();
      out.push_back(*r);
    }
    return out;
  }

  const redis::Endpoint& endpoint() const override { return ep_; }

  const std::vector<std::string>& sent() const { return sent_; }
  int pipelines() const { return pipelines_; }
  size_t remaining() const { return queue_.size(); }
  int pipelined_commands() const { return pipelined_commands_; }
  void ClearSent() { sent_.clear(); }
  void SetLog(EventLog* log) { log_ = log; }

 private:
  StatusOr<redis::Reply> Next(const std::vector<std::string>& argv, bool pipelined) {
    const std::string line = Join(argv);
    sent_.push_back(line);
    if (pipelined) ++pipelined_commands_;
    if (log_ != nullptr) log_->Add(name_ + ": " + line);
    if (queue_.empty()) {
      ADD_FAILURE() << name_ << ": unexpected command: " << line;
      return Internal("unexpected command " + line);
    }
    Expectation e = std::move(queue_.front());
    queue_.pop_front();
    if (e.argv != argv) {
      ADD_FAILURE() << name_ << ": expected \"" << Join(e.argv) << "\", got \"" << line << "\"";
      return Internal("unexpected command " + line);
    }
    return e.reply;
  }

  std::string name_;
  redis::Endpoint ep_;
  EventLog* log_;
  std::deque<Expectation> queue_;
  std::vector<std::string> sent_;
  int pipelines_ = 0;
  int pipelined_commands_ = 0;
};

// Hands out scripted connections by endpoint, or a scripted dial failure.
class FakeDialer : public redis::Dialer {
 public:
  void Add(const redis::Endpoint& ep, std::unique_ptr<redis::Connection> conn) {
    conns_[ep.ToString()].push_back(std::move(conn));
  }
  void Fail(const redis::Endpoint& ep, Status why) { failures_[ep.ToString()] = std::move(why); }

  StatusOr<std::unique_ptr<redis::Connection>> Dial(const redis::Endpoint& ep,
                                                    const redis::ConnectOptions& opts) override {
    dials_.push_back(ep.ToString());
    last_opts_ = opts;
    if (auto it = failures_.find(ep.ToString()); it != failures_.end()) return it->second;
    auto& q = conns_[ep.ToString()];
    if (q.empty()) return Unavailable("connect to " + ep.ToString() + ": Connection refused");
    auto c = std::move(q.front());
    q.erase(q.begin());
    return c;
  }

  const std::vector<std::string>& dials() const { return dials_; }
  const redis::ConnectOptions& last_opts() const { return last_opts_; }

 private:
  std::map<std::string, std::vector<std::unique_ptr<redis::Connection>>> conns_;
  std::map<std::string, Status> failures_;
  std::vector<std::string> dials_;
  redis::ConnectOptions last_opts_;
};

// ---- reply helpers ----

inline redis::Reply Ok() {
  return redis::Reply::Status("OK");
}
inline redis::Reply Queued() {
  return redis::Reply::Status("QUEUED");
}
inline redis::Reply Int(long long i) {
  return redis::Reply::Integer(i);
}
inline redis::Reply Bulk(std::string s) {
  return redis::Reply::String(std::move(s));
}
inline redis::Reply ConfigValue(const std::string& name, const std::string& value) {
  return redis::Reply::Array({Bulk(name), Bulk(value)});
}

inline std::string InfoServer(const std::string& version) {
  return "# Server\r\nredis_version:" + version + "\r\nredis_mode:standalone\r\n";
}
inline std::string InfoMaster(int64_t offset, int connected_slaves = 1) {
  std::string s =
      "# Replication\r\nrole:master\r\nconnected_slaves:" + std::to_string(connected_slaves) +
      "\r\n";
  for (int i = 0; i < connected_slaves; ++i) {
    s += "slave" + std::to_string(i) + ":ip=127.0.0.1,port=" + std::to_string(7001 + i) +
         ",state=online,offset=" + std::to_string(offset) + ",lag=0\r\n";
  }
  s += "master_repl_offset:" + std::to_string(offset) + "\r\n";
  return s;
}
inline std::string InfoReplica(int64_t offset, const std::string& link = "up",
                               const std::string& host = "127.0.0.1", int port = 7000) {
  return "# Replication\r\nrole:slave\r\nmaster_host:" + host +
         "\r\nmaster_port:" + std::to_string(port) + "\r\nmaster_link_status:" + link +
         "\r\nmaster_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:" +
         std::to_string(offset) +
         "\r\nconnected_slaves:0\r\nmaster_repl_offset:" + std::to_string(offset) + "\r\n";
}

// An Admin over a scripted connection whose version is already detected; the
// detection command is removed from the record of sent commands.
struct FakeServer {
  FakeConnection* conn = nullptr;  // owned by admin
  std::unique_ptr<redis::Admin> admin;

  static FakeServer Make(const std::string& name, const redis::Endpoint& ep,
                         const std::string& version, EventLog* log) {
    auto c = std::make_unique<FakeConnection>(name, ep, nullptr);
    c->Expect("INFO server", Bulk(InfoServer(version)));
    FakeServer s;
    s.conn = c.get();
    s.admin = std::make_unique<redis::Admin>(std::move(c));
    auto v = s.admin->DetectVersion();
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    // From here on, log into the shared event log.
    s.conn->ClearSent();
    s.conn->SetLog(log);
    return s;
  }
};

}  // namespace ruo::engine::testing
