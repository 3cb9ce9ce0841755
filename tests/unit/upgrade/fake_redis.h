// A tiny in-memory Redis "network" for reconciler tests: servers by address
// that answer the admin commands the operator sends (INFO, CONFIG GET/SET,
// SLAVEOF, CLIENT PAUSE/UNPAUSE/KILL, MULTI/EXEC...) and replicate instantly:
// a replica whose master answers is in sync with it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis/connection.h"
#include "redis/reply.h"

namespace ruo::upgrade::testing {

struct FakeRedisServer {
  std::string version = "7.0.15";
  std::string run_id;
  std::string role = "master";
  std::string master_host;
  int master_port = 0;
  int64_t offset = 1000;  // master_repl_offset (own stream)
  int64_t keys = 10;
  int64_t used_memory = 1 << 20;
  bool cluster = false;
  bool bgsave = false;
  bool reachable = true;
  std::optional<std::string> password;
  std::map<std::string, std::string> config = {
      {"maxmemory", "0"},
      {"maxmemory-policy", "noeviction"},
      {"appendonly", "no"},
      {"save", "3600 1 300 100"},
      {"timeout", "0"},
      {"databases", "16"},
      {"client-output-buffer-limit",
       "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
      {"repl-backlog-size", "1048576"},
      {"min-replicas-to-write", "0"},
      {"min-replicas-max-lag", "10"},
      {"replica-read-only", "yes"},
      {"replica-serve-stale-data", "yes"},
      {"masterauth", ""},
  };
  std::vector<std::string> commands;  // every command received
};

class FakeRedisNet {
 public:
  std::shared_ptr<FakeRedisServer> Add(const std::string& addr, FakeRedisServer s = {}) {
    if (s.run_id.empty()) s.run_id = "run-" + addr;
    auto p = std::make_shared<FakeRedisServer>(std::move(s));
    servers_[addr] = p;
    return p;
  }
  std::shared_ptr<FakeRedisServer> Find(const std::string& addr) const {
    auto it = servers_.find(addr);
    return it == servers_.end() ? nullptr : it->second;
  }
  FakeRedisServer& operator[](const std::string& addr) { return *servers_.at(addr); }

  // The server `s` replicates from, when it is a replica whose master answers.
  std::shared_ptr<FakeRedisServer> UpstreamOf(const FakeRedisServer& s) const {
    if (s.role != "slave") return nullptr;
    auto m = Find(s.master_host + ":" + std::to_string(s.master_port));
    return m && m->reachable ? m : nullptr;
  }
  // The offset a server holds: a linked replica has everything its master has.
  int64_t OffsetOf(const FakeRedisServer& s, int depth = 0) const {
    auto up = UpstreamOf(s);
    if (up && depth < 8) return OffsetOf(*up, depth + 1);
    return s.offset;
  }
  int64_t KeysOf(const FakeRedisServer& s, int depth = 0) const {
    auto up = UpstreamOf(s);
    if (up && depth < 8) return KeysOf(*up, depth + 1);
    return s.keys;
  }

  std::string Info(const std::string& addr) const {
    const FakeRedisServer& s = *Find(addr);
    std::string out = "# Server\r\nredis_version:" + s.version +
                      "\r\nredis_mode:" + (s.cluster ? "cluster" : "standalone") +
                      "\r\nrun_id:" + s.run_id + "\r\ntcp_port:6379\r\nuptime_in_seconds:86400\r\n";
    out += "# Clients\r\nconnected_clients:1\r\n";
    out += "# Memory\r\nused_memory:" + std::to_string(s.used_memory) +
           "\r\nused_memory_rss:" + std::to_string(s.used_memory) + "\r\nmaxmemory:0\r\n";
    out += "# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:" +
           std::string(s.bgsave ? "1" : "0") + "\r\naof_rewrite_in_progress:0\r\n";
    out += "# Replication\r\nrole:" + s.role + "\r\n";
    int replicas = 0;
    std::string lines;
    for (const auto& [other_addr, other] : servers_) {
      if (other->role == "slave" && other->reachable &&
          other->master_host + ":" + std::to_string(other->master_port) == addr) {
        const size_t colon = other_addr.rfind(':');
        lines += "slave" + std::to_string(replicas++) + ":ip=" + other_addr.substr(0, colon) +
                 ",port=" + other_addr.substr(colon + 1) +
                 ",state=online,offset=" + std::to_string(OffsetOf(*other)) + ",lag=0\r\n";
      }
    }
    if (s.role == "slave") {
      const bool up = UpstreamOf(s) != nullptr;
      out += "master_host:" + s.master_host + "\r\nmaster_port:" + std::to_string(s.master_port) +
             "\r\nmaster_link_status:" + (up ? "up" : "down") +
             "\r\nmaster_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:" +
             std::to_string(OffsetOf(s)) + "\r\n";
    }
    out += "connected_slaves:" + std::to_string(replicas) + "\r\n" + lines;
    out += "master_repl_offset:" + std::to_string(OffsetOf(s)) + "\r\n";
    out += "# Cluster\r\ncluster_enabled:" + std::string(s.cluster ? "1" : "0") + "\r\n";
    out += "# Keyspace\r\n";
    if (KeysOf(s) > 0) out += "db0:keys=" + std::to_string(KeysOf(s)) + ",expires=0,avg_ttl=0\r\n";
    return out;
  }

  redis::Reply Handle(const std::string& addr, const std::vector<std::string>& argv) {
    FakeRedisServer& s = *Find(addr);
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    s.commands.push_back(line);
    const std::string cmd = Upper(argv[0]);
    if (cmd == "PING") return redis::Reply::Status("PONG");
    if (cmd == "INFO") return redis::Reply::String(Info(addr));
    if (cmd == "DBSIZE") return redis::Reply::Integer(KeysOf(s));
    if (cmd == "CONFIG" && argv.size() == 3 && Upper(argv[1]) == "GET") {
      auto it = s.config.find(argv[2]);
      if (it == s.config.end()) return redis::Reply::Array({});
      return redis::Reply::Array(
          {redis::Reply::String(it->first), redis::Reply::String(it->second)});
    }
    if (cmd == "CONFIG" && argv.size() == 4 && Upper(argv[1]) == "SET") {
      if (argv[2] == "client-output-buffer-limit" && argv[3].rfind("slave ", 0) == 0) {
        s.config[argv[2]] = "normal 0 0 0 " + argv[3] + " pubsub 33554432 8388608 60";
      } else {
        s.config[argv[2]] = argv[3];
      }
      return redis::Reply::Status("OK");
    }
    if (cmd == "SLAVEOF" || cmd == "REPLICAOF") {
      if (Upper(argv[1]) == "NO") {
        if (s.role == "slave") {
          s.offset = OffsetOf(s);
          s.keys = KeysOf(s);
        }
        s.role = "master";
        s.master_host.clear();
        s.master_port = 0;
      } else {
        if (s.role == "master") {
          // Our own stream continues from the master's when the link comes up.
        }
        s.role = "slave";
        s.master_host = argv[1];
        s.master_port = std::stoi(argv[2]);
        if (auto up = UpstreamOf(s)) {
          s.offset = OffsetOf(*up);
          s.keys = KeysOf(*up);
        }
      }
      return redis::Reply::Status("OK");
    }
    if (cmd == "CLIENT") {
      const std::string sub = Upper(argv[1]);
      if (sub == "KILL") return redis::Reply::Integer(0);
      return redis::Reply::Status("OK");  // SETNAME, PAUSE, UNPAUSE
    }
    return redis::Reply::Error("ERR unknown command '" + argv[0] + "'");
  }

 private:
  static std::string Upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }
  std::map<std::string, std::shared_ptr<FakeRedisServer>> servers_;
};

class FakeRedisConnection : public redis::Connection {
 public:
  FakeRedisConnection(FakeRedisNet& net, redis::Endpoint ep) : net_(net), ep_(std::move(ep)) {}

  StatusOr<redis::Reply> Command(const std::vector<std::string>& argv) override {
    auto s = net_.Find(ep_.ToString());
    if (!s || !s->reachable) return Unavailable("connection to " + ep_.ToString() + " lost");
    return net_.Handle(ep_.ToString(), argv);
  }
  StatusOr<std::vector<redis::Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) override {
    std::vector<redis::Reply> out;
    std::vector<std::vector<std::string>> queued;
    bool multi = false;
    for (const auto& argv : commands) {
      auto s = net_.Find(ep_.ToString());
      if (!s || !s->reachable) return Unavailable("connection to " + ep_.ToString() + " lost");
      if (argv[0] == "MULTI") {
        multi = true;
        out.push_back(redis::Reply::Status("OK"));
      } else if (argv[0] == "EXEC") {
        std::vector<redis::Reply> results;
        for (const auto& q : queued) results.push_back(net_.Handle(ep_.ToString(), q));
        out.push_back(redis::Reply::Array(std::move(results)));
        multi = false;
        queued.clear();
      } else if (multi) {
        queued.push_back(argv);
        out.push_back(redis::Reply::Status("QUEUED"));
      } else {
        out.push_back(net_.Handle(ep_.ToString(), argv));
      }
    }
    return out;
  }
  const redis::Endpoint& endpoint() const override { return ep_; }

 private:
  FakeRedisNet& net_;
  redis::Endpoint ep_;
};

class FakeRedisDialer : public redis::Dialer {
 public:
  explicit FakeRedisDialer(FakeRedisNet& net) : net_(net) {}
  StatusOr<std::unique_ptr<redis::Connection>> Dial(const redis::Endpoint& ep,
                                                    const redis::ConnectOptions& opts) override {
    auto s = net_.Find(ep.ToString());
    if (!s || !s->reachable) {
      return Unavailable("connect to " + ep.ToString() + ": Connection refused");
    }
    if (s->password && !opts.password) {
      return Status(StatusCode::kUnauthenticated,
                    ep.ToString() + " requires a password and none was given", "AuthRequired");
    }
    if (s->password && opts.password && *s->password != *opts.password) {
      return Status(StatusCode::kUnauthenticated,
                    "authentication to " + ep.ToString() + " failed: wrong password", "AuthFailed");
    }
    passwords_seen.push_back(opts.password.value_or(""));
    return std::unique_ptr<redis::Connection>(std::make_unique<FakeRedisConnection>(net_, ep));
  }
  std::vector<std::string> passwords_seen;

 private:
  FakeRedisNet& net_;
};

}  // namespace ruo::upgrade::testing
