// The probe: a paced writer that records every acknowledged write, measures the
// longest stretch without a successful write, and checks afterwards that every
// acknowledged write reached a given server. Used to prove a migration loses
// nothing; `redis-upgrade-operator probe` is a thin wrapper around it.
//
// With `mix` on, the writes rotate through four kinds (plain SET, a script, a
// MULTI/EXEC block, an expiring SET) and a subscriber thread counts the messages
// of a PUBLISH sent every tenth write, so a migration is also checked for
// scripts, transactions, expiries and pub/sub clients.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "redis/connection.h"

namespace ruo::probe {

enum class ErrorKind { kReadOnly = 0, kNoReplicas, kConnection, kTimeout, kOther };
inline constexpr int kErrorKindCount = 5;

// "READONLY", "NOREPLICAS", "connection", "timeout", "other" (the JSON keys).
std::string_view ErrorKindName(ErrorKind kind);
// For an error reply from Redis ("READONLY You can't write...").
ErrorKind ClassifyErrorReply(std::string_view message);
// For a failed transport (dial or command): a timeout or a broken connection.
ErrorKind ClassifyTransportError(const Status& status);

// One write of the mix, chosen by `seq % 4`; always kSet when the mix is off.
enum class WriteKind { kSet = 0, kEval, kMulti, kSetEx };
inline constexpr int kWriteKindCount = 4;
// With the mix on, every tenth seq is also PUBLISHed.
inline constexpr int64_t kPublishEvery = 10;
inline constexpr int64_t kSetExSeconds = 3600;
// The script of kEval: a write that goes through the scripting engine.
inline constexpr std::string_view kEvalScript = "return redis.call('SET', KEYS[1], ARGV[1])";

// "set", "eval", "multi", "set_ex" (the JSON keys).
std::string_view WriteKindName(WriteKind kind);
WriteKind KindFor(int64_t seq, bool mix);

// The commands of one write (several only for kMulti: MULTI, SET, INCR
// `multi_count_key`, EXEC, sent as one pipeline). Every kind stores key = seq.
std::vector<std::vector<std::string>> WriteCommands(WriteKind kind, const std::string& key,
                                                    int64_t seq,
                                                    const std::string& multi_count_key);

struct WriteOutcome {
  bool acked = false;
  ErrorKind error = ErrorKind::kOther;  // when not acked
  std::string message;                  // when not acked
};

// Whether the replies to WriteCommands(kind, ...) acknowledge the write. kMulti
// is acknowledged only by an EXEC reply of exactly [+OK, :n]: an -EXECABORT, a
// nil, an error element, or the empty array 2.8 returns when every queued
// command was refused (-READONLY does not abort a 2.8 transaction) is not.
WriteOutcome ClassifyWriteReplies(WriteKind kind, const std::vector<redis::Reply>& replies);

// Longest interval without a successful write: between two consecutive
// successes, and from the start to the first success.
class GapTracker {
 public:
  explicit GapTracker(std::chrono::steady_clock::time_point start) : last_(start) {}
  void Success(std::chrono::steady_clock::time_point t);
  bool any_success() const { return any_success_; }
  // `end` counts only when nothing ever succeeded: then the whole run was a gap.
  std::chrono::nanoseconds MaxGap(std::chrono::steady_clock::time_point end) const;

 private:
  std::chrono::steady_clock::time_point last_;
  std::chrono::nanoseconds max_gap_{0};
  bool any_success_ = false;
};

// Open-loop pacing: write i is due at start + i / rate, so latency does not
// lower the rate. A backlog older than `max_backlog` is forgiven (those slots
// are skipped) so the writer does not hammer a server that just came back.
class Pacer {
 public:
  Pacer(double rate, std::chrono::steady_clock::time_point start,
        std::chrono::nanoseconds max_backlog);
  // The time the next write is due (possibly in the past); consumes that slot.
  std::chrono::steady_clock::time_point Next(std::chrono::steady_clock::time_point now);
  int64_t skipped() const { return skipped_; }

 private:
  std::chrono::nanoseconds interval_;
  std::chrono::steady_clock::time_point next_;
  std::chrono::nanoseconds max_backlog_;
  int64_t skipped_ = 0;
};

struct ProbeOptions {
  redis::Endpoint addr;
  // Timeouts and password (never logged or reported).
  redis::ConnectOptions connect;
  double rate = 1000;  // writes per second
  std::chrono::nanoseconds duration = std::chrono::seconds(10);
  std::string key_prefix = "ruo-probe";
  std::string run_id;  // generated when empty
  // Pause after a failed dial so a dead endpoint is not hammered.
  std::chrono::nanoseconds reconnect_delay = std::chrono::milliseconds(5);
  std::chrono::nanoseconds max_backlog = std::chrono::milliseconds(200);
  // The write mix and the pub/sub subscriber (see the top of this file).
  bool mix = false;
  // After the last write, how long the subscriber may take to receive the last
  // acknowledged message before it is stopped.
  std::chrono::nanoseconds pubsub_drain = std::chrono::milliseconds(500);
};

struct KindCounts {
  int64_t attempts = 0;
  int64_t acked = 0;
  int64_t errors = 0;
};

// PUBLISH and subscriber figures (mix only). Missing messages are not lost
// writes: they show whether subscribers were stranded, e.g. on an old master.
struct PubSubResult {
  int64_t publish_attempts = 0;
  int64_t published = 0;  // PUBLISHes acknowledged (an integer reply)
  int64_t publish_errors = 0;
  int64_t published_to_none = 0;        // acknowledged, but no subscriber was on that server
  std::vector<int64_t> published_seqs;  // acknowledged, ascending
  std::string publish_last_error;
  bool subscriber_ran = false;
  int64_t received = 0;            // messages of this run's channel
  int64_t missed = 0;              // acknowledged PUBLISHes whose message never arrived
  int64_t missed_tail = 0;         // of those, published after the last message received
  int64_t longest_missed_run = 0;  // consecutive acknowledged PUBLISHes missed
  int64_t received_unacked = 0;    // arrived though the PUBLISH's reply was lost
  int64_t subscriber_dials = 0;
  int64_t subscriber_reconnects = 0;  // successful re-SUBSCRIBEs after the first
  int64_t subscriber_errors = 0;
  int64_t received_after_last_reconnect = 0;  // on the subscriber's last connection
  std::string subscriber_last_error;
};

// Fills the missed* and received_unacked figures of `out` from the acknowledged
// PUBLISH seqs and the seqs the subscriber received (both ascending).
void TallyPubSub(const std::vector<int64_t>& published, const std::vector<int64_t>& received,
                 PubSubResult* out);

struct ProbeResult {
  std::string run_id;
  std::vector<int64_t> acked_seqs;  // in the order acknowledged (ascending)
  int64_t attempts = 0;             // writes sent
  int64_t errors = 0;
  std::array<KindCounts, kWriteKindCount> by_write_kind{};
  PubSubResult pubsub;
  std::array<int64_t, kErrorKindCount> errors_by_kind{};
  int64_t dials = 0;  // connections opened (first one included)
  std::chrono::nanoseconds max_gap{0};
  std::chrono::nanoseconds elapsed{0};
  std::string first_error;
  std::string last_error;
  bool interrupted = false;  // ended early by the stop flag
};

// `<prefix>:<run_id>:<seq>`; the value stored is `<seq>`.
std::string KeyFor(const std::string& prefix, const std::string& run_id, int64_t seq);
// `<prefix>:<run_id>:multi-count`: INCRed by every MULTI write of the mix.
std::string MultiCountKey(const std::string& prefix, const std::string& run_id);
// `<prefix>:<run_id>:chan`: the mix's pub/sub channel.
std::string ChannelFor(const std::string& prefix, const std::string& run_id);
// Eight random hex digits, so concurrent probes never share keys.
std::string NewRunId();

class SubscriptionDialer;

class Writer {
 public:
  // `subscriptions` is used only with the mix on; without it no subscriber runs
  // (the PUBLISHes are still sent and counted).
  Writer(ProbeOptions opts, redis::Dialer& dialer, Clock& clock,
         SubscriptionDialer* subscriptions = nullptr);
  // Writes at the configured rate on one connection (re-dialled after any
  // error) until the duration ends or `stop` becomes true.
  ProbeResult Run(const std::atomic<bool>& stop);

 private:
  void RecordError(ProbeResult& r, ErrorKind kind, const std::string& message);
  // One write of `kind`; false when the connection must be dropped.
  bool Write(redis::Connection& conn, WriteKind kind, int64_t seq, ProbeResult& r,
             GapTracker& gaps);
  // The mix's PUBLISH after write `seq`; false when the connection must be dropped.
  bool Publish(redis::Connection& conn, int64_t seq, ProbeResult& r);

  ProbeOptions opts_;
  redis::Dialer& dialer_;
  Clock& clock_;
  SubscriptionDialer* subscriptions_;
  std::string multi_key_;
  std::string channel_;
};

struct VerifyResult {
  int64_t checked = 0;
  int64_t lost = 0;
  std::vector<std::string> lost_sample;  // first 10 missing keys, in seq order
  // Mix only:
  bool mix = false;
  int64_t ttl_checked = 0;  // kSetEx keys present with their value
  // Present with the right value but no expiry (PTTL -1): the TTL did not survive.
  int64_t ttl_lost = 0;
  std::vector<std::string> ttl_lost_sample;  // first 10, in seq order
  int64_t multi_acked = 0;                   // acknowledged kMulti writes
  // The multi-count key's value (0 when absent). Equal to multi_acked when
  // nothing else touched it; greater when an EXEC ran but its reply was lost.
  int64_t multi_count = 0;
};

struct VerifyOptions {
  bool mix = false;  // also PTTL the kSetEx keys and read the multi-count key
  size_t batch = 1000;
};

// Checks that every acknowledged key holds its value on `conn`: pipelined GETs
// in batches of `batch`. A transport failure is returned as a Status.
StatusOr<VerifyResult> Verify(redis::Connection& conn, const std::string& prefix,
                              const std::string& run_id, const std::vector<int64_t>& acked,
                              const VerifyOptions& vopts);
StatusOr<VerifyResult> Verify(redis::Connection& conn, const std::string& prefix,
                              const std::string& run_id, const std::vector<int64_t>& acked,
                              size_t batch = 1000);

// The probe's JSON report; `lost`/`lost_sample` only when `verify` is given;
// `mix`/`pubsub` (and `ttl_lost`, `multi_count` with `verify`) only with the mix on.
nlohmann::json ReportJson(const ProbeOptions& opts, const ProbeResult& result,
                          const std::optional<VerifyResult>& verify,
                          const std::optional<std::string>& verify_error);

}  // namespace ruo::probe
