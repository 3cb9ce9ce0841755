// A fake Redis for the probe's unit tests: strings with expiries, MULTI/EXEC,
// the probe's EVAL script, PUBLISH/SUBSCRIBE, a scriptable fault per command,
// and a fake clock that advances by `latency` per command.
//
// The replies the probe relies on copy what real servers answered (observed
// with 2.8.19, 6.2.7, 6.2.14, 7.0.15, 8.2.3 and Valkey 8.1.8 on loopback; see
// RealServerReplies in mix_test.cc for the literal forms):
// - SET, SET ... EX 3600, EVAL "return redis.call('SET', ...)" → +OK;
// - MULTI → +OK, queued commands → +QUEUED, EXEC → [+OK, :n];
// - a write refused while queued: the refusal (-READONLY / -NOREPLICAS) for
//   that command, then EXEC → -EXECABORT Transaction discarded because of
//   previous errors. Except 2.8 with -READONLY: the block is not flagged, and
//   EXEC runs what is left (nothing) and answers [] (`legacy_28` here);
// - PTTL → -2 missing, -1 no expiry, else the milliseconds left;
// - PUBLISH → :<subscribers reached>; SUBSCRIBE ch → ["subscribe", ch, 1];
//   a message → ["message", ch, payload].
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "probe/probe.h"
#include "probe/subscriber.h"
#include "redis/connection.h"

namespace ruo::probe::fakes {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// What the fake server does with one command at a given time since start. A
// failed Status or an error reply is the command's answer; anything else lets
// the default handling run.
using Script = std::function<StatusOr<redis::Reply>(const std::vector<std::string>& argv,
                                                    milliseconds since_start)>;

class FakeSubscription;

struct FakeServer {
  FakeClock* clock = nullptr;
  std::chrono::steady_clock::time_point start;
  nanoseconds latency{0};
  Script script;                                                // optional
  std::function<Status(milliseconds since_start)> dial_script;  // optional
  // 2.8.19: a -READONLY while queued does not abort the transaction.
  bool legacy_28 = false;
  // EXEC runs, then the connection drops before the reply (optional).
  std::function<bool(milliseconds since_start)> lose_exec_reply;
  // False: PUBLISH reaches no subscriber (they sit on another server).
  std::function<bool(milliseconds since_start)> subscribers_reachable;

  std::map<std::string, std::string> data;
  std::map<std::string, int64_t> ttl_ms;  // keys with an expiry
  int dials = 0;
  int pipelines = 0;

  // Shared with the subscriber thread.
  std::mutex pubsub_mu;
  std::set<FakeSubscription*> subscribers;
  int subscription_dials = 0;

  milliseconds Since() const {
    return std::chrono::duration_cast<milliseconds>(clock->Monotonic() - start);
  }

  // One command outside MULTI (or EXEC running a queued one).
  redis::Reply Apply(const std::vector<std::string>& argv);
  void Publish(const std::string& channel, const std::string& payload, int* reached);
};

// A subscribed fake connection: a queue the server pushes into.
class FakeSubscription : public Subscription {
 public:
  explicit FakeSubscription(FakeServer& s) : s_(s) {}
  ~FakeSubscription() override {
    std::lock_guard<std::mutex> lock(s_.pubsub_mu);
    s_.subscribers.erase(this);
  }

  Status Send(const std::vector<std::string>& argv) override {
    if (argv.size() == 2 && argv[0] == "SUBSCRIBE") {
      std::lock_guard<std::mutex> lock(s_.pubsub_mu);
      channel_ = argv[1];
      s_.subscribers.insert(this);
      Push(redis::Reply::Array({redis::Reply::String("subscribe"), redis::Reply::String(argv[1]),
                                redis::Reply::Integer(1)}));
      return Status::Ok();
    }
    return InvalidArgument("fake subscription: only SUBSCRIBE");
  }

  StatusOr<std::optional<redis::Reply>> Receive(milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return !queue_.empty() || dropped_; });
    if (dropped_) return Unavailable("fake subscription: server closed the connection");
    if (queue_.empty()) return std::optional<redis::Reply>();
    redis::Reply r = std::move(queue_.front());
    queue_.pop_front();
    return std::optional<redis::Reply>(std::move(r));
  }

  // Called with the server's pubsub_mu held.
  bool Deliver(const std::string& channel, const std::string& payload) {
    if (channel != channel_) return false;
    Push(redis::Reply::Array({redis::Reply::String("message"), redis::Reply::String(channel),
                              redis::Reply::String(payload)}));
    return true;
  }
  void Drop() {
    std::lock_guard<std::mutex> lock(mu_);
    dropped_ = true;
    cv_.notify_all();
  }

 private:
  void Push(redis::Reply r) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(r));
    cv_.notify_all();
  }

  FakeServer& s_;
  std::string channel_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<redis::Reply> queue_;
  bool dropped_ = false;
};

inline void FakeServer::Publish(const std::string& channel, const std::string& payload,
                                int* reached) {
  *reached = 0;
  if (subscribers_reachable && !subscribers_reachable(Since())) return;
  std::lock_guard<std::mutex> lock(pubsub_mu);
  for (FakeSubscription* sub : subscribers) *reached += sub->Deliver(channel, payload) ? 1 : 0;
}

inline redis::Reply FakeServer::Apply(const std::vector<std::string>& argv) {
  const std::string& cmd = argv[0];
  if (cmd == "SET" && (argv.size() == 3 || argv.size() == 5)) {
    data[argv[1]] = argv[2];
    // A SET without EX clears the expiry, as on a real server.
    if (argv.size() == 5 && argv[3] == "EX") {
      ttl_ms[argv[1]] = std::stoll(argv[4]) * 1000;
    } else {
      ttl_ms.erase(argv[1]);
    }
    return redis::Reply::Status("OK");
  }
  if (cmd == "EVAL" && argv.size() == 5 && argv[1] == kEvalScript && argv[2] == "1") {
    data[argv[3]] = argv[4];
    ttl_ms.erase(argv[3]);
    return redis::Reply::Status("OK");
  }
  if (cmd == "INCR" && argv.size() == 2) {
    auto it = data.find(argv[1]);
    const long long v = (it == data.end() ? 0 : std::stoll(it->second)) + 1;
    data[argv[1]] = std::to_string(v);
    return redis::Reply::Integer(v);
  }
  if (cmd == "GET" && argv.size() == 2) {
    auto it = data.find(argv[1]);
    return it == data.end() ? redis::Reply::Nil() : redis::Reply::String(it->second);
  }
  if (cmd == "PTTL" && argv.size() == 2) {
    if (!data.contains(argv[1])) return redis::Reply::Integer(-2);
    auto it = ttl_ms.find(argv[1]);
    return redis::Reply::Integer(it == ttl_ms.end() ? -1 : it->second);
  }
  if (cmd == "PUBLISH" && argv.size() == 3) {
    int reached = 0;
    Publish(argv[1], argv[2], &reached);
    return redis::Reply::Integer(reached);
  }
  return redis::Reply::Error("ERR unknown command '" + cmd + "'");
}

class FakeConnection : public redis::Connection {
 public:
  explicit FakeConnection(FakeServer& s) : s_(s) {}

  StatusOr<redis::Reply> Command(const std::vector<std::string>& argv) override {
    if (broken_) return Unavailable("fake: connection is unusable after an earlier failure");
    s_.clock->Advance(s_.latency);
    if (s_.script) {
      auto r = s_.script(argv, s_.Since());
      if (!r.ok()) {
        broken_ = true;
        in_multi_ = false;  // the server discards a block whose client went away
        return r;
      }
      if (r->IsError()) {
        if (in_multi_ && argv[0] != "EXEC") Refused(*r);
        return r;
      }
    }
    if (argv[0] == "MULTI") {
      in_multi_ = true;
      flagged_ = false;
      queued_.clear();
      return redis::Reply::Status("OK");
    }
    if (argv[0] == "EXEC") return Exec();
    if (in_multi_) {
      queued_.push_back(argv);
      return redis::Reply::Status("QUEUED");
    }
    return s_.Apply(argv);
  }

  StatusOr<std::vector<redis::Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) override {
    ++s_.pipelines;
    std::vector<redis::Reply> out;
    for (const auto& c : commands) {
      auto r = Command(c);
      if (!r.ok()) return r.status();
      out.push_back(*r);
    }
    return out;
  }
  const redis::Endpoint& endpoint() const override { return ep_; }

 private:
  // A command refused while queued flags the block (2.8 does not for READONLY).
  void Refused(const redis::Reply& error) {
    if (s_.legacy_28 && error.str.starts_with("READONLY")) return;
    flagged_ = true;
  }

  StatusOr<redis::Reply> Exec() {
    if (!in_multi_) return redis::Reply::Error("ERR EXEC without MULTI");
    in_multi_ = false;
    if (flagged_) {
      return redis::Reply::Error("EXECABORT Transaction discarded because of previous errors.");
    }
    std::vector<redis::Reply> results;
    for (const auto& q : queued_) results.push_back(s_.Apply(q));
    queued_.clear();
    if (s_.lose_exec_reply && s_.lose_exec_reply(s_.Since())) {
      broken_ = true;
      return Unavailable("fake: server closed the connection");
    }
    return redis::Reply::Array(std::move(results));
  }

  FakeServer& s_;
  redis::Endpoint ep_{"127.0.0.1", 6379};
  bool broken_ = false;
  bool in_multi_ = false;
  bool flagged_ = false;
  std::vector<std::vector<std::string>> queued_;
};

class FakeDialer : public redis::Dialer {
 public:
  explicit FakeDialer(FakeServer& s) : s_(s) {}
  StatusOr<std::unique_ptr<redis::Connection>> Dial(const redis::Endpoint&,
                                                    const redis::ConnectOptions&) override {
    ++s_.dials;
    if (s_.dial_script) {
      Status st = s_.dial_script(s_.Since());
      if (!st.ok()) return st;
    }
    return std::unique_ptr<redis::Connection>(std::make_unique<FakeConnection>(s_));
  }

 private:
  FakeServer& s_;
};

class FakeSubscriptionDialer : public SubscriptionDialer {
 public:
  explicit FakeSubscriptionDialer(FakeServer& s) : s_(s) {}
  StatusOr<std::unique_ptr<Subscription>> Dial(const redis::Endpoint&,
                                               const redis::ConnectOptions&) override {
    {
      std::lock_guard<std::mutex> lock(s_.pubsub_mu);
      ++s_.subscription_dials;
    }
    return std::unique_ptr<Subscription>(std::make_unique<FakeSubscription>(s_));
  }

 private:
  FakeServer& s_;
};

}  // namespace ruo::probe::fakes
