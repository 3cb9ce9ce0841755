// The probe's pub/sub subscriber: one connection in subscribed mode, re-dialled
// and re-subscribed whenever it drops, counting the messages it receives.
//
// A subscribed connection gets replies nobody asked for, so it does not fit
// redis::Connection (one reply per command); Subscription is its own small
// interface, with a hiredis implementation and fakes in the tests.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "redis/connection.h"
#include "redis/reply.h"

namespace ruo::probe {

class Subscription {
 public:
  virtual ~Subscription() = default;
  // Sends a command without reading its reply (SUBSCRIBE's confirmation comes
  // through Receive). A failed Status means the connection is gone.
  virtual Status Send(const std::vector<std::string>& argv) = 0;
  // The next reply or message, waiting up to `timeout`; nullopt when none came.
  // A failed Status means the connection is gone.
  virtual StatusOr<std::optional<redis::Reply>> Receive(std::chrono::milliseconds timeout) = 0;
};

class SubscriptionDialer {
 public:
  virtual ~SubscriptionDialer() = default;
  // Connects, authenticates and names the client as redis::Dialer does.
  virtual StatusOr<std::unique_ptr<Subscription>> Dial(const redis::Endpoint& ep,
                                                       const redis::ConnectOptions& opts) = 0;
};

std::unique_ptr<SubscriptionDialer> NewHiredisSubscriptionDialer();

struct SubscriberStats {
  int64_t dials = 0;
  int64_t subscriptions = 0;  // SUBSCRIBEs confirmed, the first one included
  int64_t errors = 0;         // failed dials and subscribes, dropped connections
  int64_t received = 0;       // messages on the channel
  int64_t received_on_last_connection = 0;
  std::vector<int64_t> received_seqs;  // message payloads, in arrival order
  std::string last_error;
};

class Subscriber {
 public:
  Subscriber(redis::Endpoint addr, redis::ConnectOptions connect, std::string channel,
             SubscriptionDialer& dialer, Clock& clock, std::chrono::nanoseconds reconnect_delay);

  // Subscribes and receives until `stop` becomes true (noticed within
  // kReceivePoll). Meant for its own thread.
  void Run(const std::atomic<bool>& stop);

  // From other threads, in real time: wait until subscribed at least once, or
  // until the message `seq` (or a later one) arrived. False on timeout.
  bool WaitSubscribed(std::chrono::nanoseconds timeout);
  bool WaitReceived(int64_t seq, std::chrono::nanoseconds timeout);

  SubscriberStats Stats() const;

  static constexpr std::chrono::milliseconds kReceivePoll{50};

 private:
  // Dials and subscribes; null (with the error recorded) on failure.
  std::unique_ptr<Subscription> Connect(const std::atomic<bool>& stop);
  void RecordError(const std::string& message);

  const redis::Endpoint addr_;
  const redis::ConnectOptions connect_;
  const std::string channel_;
  SubscriptionDialer& dialer_;
  Clock& clock_;
  const std::chrono::nanoseconds reconnect_delay_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  SubscriberStats stats_;
  int64_t max_seq_ = -1;
};

}  // namespace ruo::probe
