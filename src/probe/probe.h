// The probe: a paced writer that records every acknowledged write, measures the
// longest stretch without a successful write, and checks afterwards that every
// acknowledged write reached a given server. Used to prove a migration loses
// nothing; `redis-upgrade-operator probe` is a thin wrapper around it.
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
};

struct ProbeResult {
  std::string run_id;
  std::vector<int64_t> acked_seqs;  // in the order acknowledged (ascending)
  int64_t attempts = 0;             // SETs sent
  int64_t errors = 0;
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
// Eight random hex digits, so concurrent probes never share keys.
std::string NewRunId();

class Writer {
 public:
  Writer(ProbeOptions opts, redis::Dialer& dialer, Clock& clock);
  // Writes at the configured rate on one connection (re-dialled after any
  // error) until the duration ends or `stop` becomes true.
  ProbeResult Run(const std::atomic<bool>& stop);

 private:
  void RecordError(ProbeResult& r, ErrorKind kind, const std::string& message);

  ProbeOptions opts_;
  redis::Dialer& dialer_;
  Clock& clock_;
};

struct VerifyResult {
  int64_t checked = 0;
  int64_t lost = 0;
  std::vector<std::string> lost_sample;  // first 10 missing keys, in seq order
};

// Checks that every acknowledged key holds its value on `conn`: pipelined GETs
// in batches of `batch`. A transport failure is returned as a Status.
StatusOr<VerifyResult> Verify(redis::Connection& conn, const std::string& prefix,
                              const std::string& run_id, const std::vector<int64_t>& acked,
                              size_t batch = 1000);

// The probe's JSON report; `lost`/`lost_sample` only when `verify` is given.
nlohmann::json ReportJson(const ProbeOptions& opts, const ProbeResult& result,
                          const std::optional<VerifyResult>& verify,
                          const std::optional<std::string>& verify_error);

}  // namespace ruo::probe
