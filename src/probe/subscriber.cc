#include "probe/subscriber.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace ruo::probe {
namespace {

bool IsString(const redis::Reply& r, std::string_view s) {
  return r.type == redis::Reply::Type::kString && r.str == s;
}

// ["subscribe", channel, n]: the confirmation of SUBSCRIBE channel.
bool IsSubscribed(const redis::Reply& r, const std::string& channel) {
  return r.type == redis::Reply::Type::kArray && r.elements.size() == 3 &&
         IsString(r.elements[0], "subscribe") && IsString(r.elements[1], channel);
}

// ["message", channel, payload] with a numeric payload: the seq it carries.
std::optional<int64_t> MessageSeq(const redis::Reply& r, const std::string& channel) {
  if (r.type != redis::Reply::Type::kArray || r.elements.size() != 3 ||
      !IsString(r.elements[0], "message") || !IsString(r.elements[1], channel) ||
      r.elements[2].type != redis::Reply::Type::kString) {
    return std::nullopt;
  }
  const std::string& p = r.elements[2].str;
  int64_t seq = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), seq);
  if (ec != std::errc() || ptr != p.data() + p.size()) return std::nullopt;
  return seq;
}

}  // namespace

Subscriber::Subscriber(redis::Endpoint addr, redis::ConnectOptions connect, std::string channel,
                       SubscriptionDialer& dialer, Clock& clock,
                       std::chrono::nanoseconds reconnect_delay)
    : addr_(std::move(addr)),
      connect_(std::move(connect)),
      channel_(std::move(channel)),
      dialer_(dialer),
      clock_(clock),
      reconnect_delay_(reconnect_delay) {}

void Subscriber::RecordError(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.errors;
  stats_.last_error = message;
}

std::unique_ptr<Subscription> Subscriber::Connect(const std::atomic<bool>& stop) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.dials;
  }
  auto dialed = dialer_.Dial(addr_, connect_);
  if (!dialed.ok()) {
    RecordError("dial: " + dialed.status().ToString());
    return nullptr;
  }
  std::unique_ptr<Subscription> sub = std::move(dialed).value();
  if (Status st = sub->Send({"SUBSCRIBE", channel_}); !st.ok()) {
    RecordError("SUBSCRIBE: " + st.ToString());
    return nullptr;
  }
  // Wait for the confirmation in short steps so a stop is not held up; the
  // number of steps bounds the wait (each waits at most kReceivePoll).
  const int64_t polls = connect_.command_timeout / kReceivePoll + 1;
  for (int64_t i = 0; i < polls && !stop.load(); ++i) {
    auto reply = sub->Receive(kReceivePoll);
    if (!reply.ok()) {
      RecordError("SUBSCRIBE: " + reply.status().ToString());
      return nullptr;
    }
    if (!reply->has_value()) continue;
    if ((*reply)->IsError()) {
      RecordError("SUBSCRIBE: " + (*reply)->str);
      return nullptr;
    }
    if (IsSubscribed(**reply, channel_)) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.subscriptions;
        stats_.received_on_last_connection = 0;
      }
      cv_.notify_all();
      return sub;
    }
  }
  RecordError(
      fmt::format("SUBSCRIBE: no confirmation within {} ms", connect_.command_timeout.count()));
  return nullptr;
}

void Subscriber::Run(const std::atomic<bool>& stop) {
  std::unique_ptr<Subscription> sub;
  bool last_failed = false;
  while (!stop.load()) {
    if (sub == nullptr) {
      // A dropped connection is re-dialled at once (the server is likely up, the
      // switch only moved it); a failed attempt waits so a dead one is not hammered.
      if (last_failed) clock_.SleepFor(reconnect_delay_);
      sub = Connect(stop);
      last_failed = sub == nullptr;
      continue;
    }
    auto reply = sub->Receive(kReceivePoll);
    if (!reply.ok()) {
      RecordError("receive: " + reply.status().ToString());
      sub.reset();
      continue;
    }
    if (!reply->has_value()) continue;
    std::optional<int64_t> seq = MessageSeq(**reply, channel_);
    if (!seq.has_value()) continue;  // not ours (or a PING reply): ignored
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.received;
      ++stats_.received_on_last_connection;
      stats_.received_seqs.push_back(*seq);
      max_seq_ = std::max(max_seq_, *seq);
    }
    cv_.notify_all();
  }
}

bool Subscriber::WaitSubscribed(std::chrono::nanoseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return stats_.subscriptions > 0; });
}

bool Subscriber::WaitReceived(int64_t seq, std::chrono::nanoseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this, seq] { return max_seq_ >= seq; });
}

SubscriberStats Subscriber::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace ruo::probe
