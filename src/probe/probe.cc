#include "probe/probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <utility>

namespace ruo::probe {
namespace {

using std::chrono::nanoseconds;
using std::chrono::steady_clock;

constexpr size_t kLostSampleSize = 10;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

double Millis(nanoseconds d) {
  return static_cast<double>(d.count()) / 1e6;
}

}  // namespace

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kReadOnly:
      return "READONLY";
    case ErrorKind::kNoReplicas:
      return "NOREPLICAS";
    case ErrorKind::kConnection:
      return "connection";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kOther:
      return "other";
  }
  return "other";
}

ErrorKind ClassifyErrorReply(std::string_view message) {
  if (StartsWith(message, "READONLY")) return ErrorKind::kReadOnly;
  if (StartsWith(message, "NOREPLICAS")) return ErrorKind::kNoReplicas;
  return ErrorKind::kOther;
}

ErrorKind ClassifyTransportError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kDeadlineExceeded:
      return ErrorKind::kTimeout;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
    case StatusCode::kInvalidArgument:
      return ErrorKind::kOther;  // retrying will not help, but keep counting
    default:
      return ErrorKind::kConnection;
  }
}

void GapTracker::Success(steady_clock::time_point t) {
  max_gap_ = std::max(max_gap_, std::chrono::duration_cast<nanoseconds>(t - last_));
  last_ = t;
  any_success_ = true;
}

nanoseconds GapTracker::MaxGap(steady_clock::time_point end) const {
  if (!any_success_) return std::max(nanoseconds(0), end - last_);
  return max_gap_;
}

Pacer::Pacer(double rate, steady_clock::time_point start, nanoseconds max_backlog)
    : interval_(static_cast<int64_t>(1e9 / std::max(rate, 1e-9))),
      next_(start),
      max_backlog_(max_backlog) {}

steady_clock::time_point Pacer::Next(steady_clock::time_point now) {
  if (now - next_ > max_backlog_) {
    // Skip the slots older than the allowed backlog.
    const int64_t behind = (now - max_backlog_ - next_) / interval_;
    skipped_ += behind;
    next_ += interval_ * behind;
  }
  const auto due = next_;
  next_ += interval_;
  return due;
}

std::string KeyFor(const std::string& prefix, const std::string& run_id, int64_t seq) {
  return fmt::format("{}:{}:{}", prefix, run_id, seq);
}

std::string NewRunId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return fmt::format("{:08x}", static_cast<uint32_t>(gen()));
}

Writer::Writer(ProbeOptions opts, redis::Dialer& dialer, Clock& clock)
    : opts_(std::move(opts)), dialer_(dialer), clock_(clock) {
  if (opts_.run_id.empty()) opts_.run_id = NewRunId();
}

void Writer::RecordError(ProbeResult& r, ErrorKind kind, const std::string& message) {
  ++r.errors;
  ++r.errors_by_kind[static_cast<int>(kind)];
  std::string line = fmt::format("{}: {}", ErrorKindName(kind), message);
  if (r.first_error.empty()) r.first_error = line;
  r.last_error = std::move(line);
}

ProbeResult Writer::Run(const std::atomic<bool>& stop) {
  ProbeResult r;
  r.run_id = opts_.run_id;
  const auto start = clock_.Monotonic();
  const auto end = start + opts_.duration;
  GapTracker gaps(start);
  Pacer pacer(opts_.rate, start, opts_.max_backlog);
  std::unique_ptr<redis::Connection> conn;
  int64_t seq = 0;

  while (true) {
    if (stop.load()) {
      r.interrupted = true;
      break;
    }
    auto now = clock_.Monotonic();
    if (now >= end) break;

    if (conn == nullptr) {
      ++r.dials;
      auto dialed = dialer_.Dial(opts_.addr, opts_.connect);
      if (!dialed.ok()) {
        RecordError(r, ClassifyTransportError(dialed.status()), dialed.status().ToString());
        now = clock_.Monotonic();
        clock_.SleepFor(std::min<nanoseconds>(opts_.reconnect_delay, std::max(end - now, {})));
        continue;
      }
      conn = std::move(dialed).value();
      now = clock_.Monotonic();
    }

    const auto due = pacer.Next(now);
    if (due > now) {
      if (due >= end) {
        clock_.SleepFor(end - now);
        continue;  // the loop head ends the run
      }
      clock_.SleepFor(due - now);
    }

    const int64_t s = seq++;
    ++r.attempts;
    auto reply = conn->Command({"SET", KeyFor(opts_.key_prefix, r.run_id, s), std::to_string(s)});
    const auto t = clock_.Monotonic();
    if (!reply.ok()) {
      RecordError(r, ClassifyTransportError(reply.status()), reply.status().ToString());
      conn.reset();
      continue;
    }
    if (reply->IsOk()) {
      r.acked_seqs.push_back(s);
      gaps.Success(t);
      continue;
    }
    // Any error reply also drops the connection: after a switch the old master
    // answers READONLY, and only a new connection reaches the new one.
    if (reply->IsError()) {
      RecordError(r, ClassifyErrorReply(reply->str), reply->str);
    } else {
      RecordError(r, ErrorKind::kOther, "unexpected reply " + redis::DebugString(*reply));
    }
    conn.reset();
  }

  const auto finished = clock_.Monotonic();
  r.elapsed = finished - start;
  r.max_gap = gaps.MaxGap(finished);
  return r;
}

StatusOr<VerifyResult> Verify(redis::Connection& conn, const std::string& prefix,
                              const std::string& run_id, const std::vector<int64_t>& acked,
                              size_t batch) {
  VerifyResult v;
  batch = std::max<size_t>(batch, 1);
  for (size_t i = 0; i < acked.size(); i += batch) {
    const size_t n = std::min(batch, acked.size() - i);
    std::vector<std::vector<std::string>> cmds;
    cmds.reserve(n);
    for (size_t j = 0; j < n; ++j) cmds.push_back({"GET", KeyFor(prefix, run_id, acked[i + j])});
    auto replies = conn.Pipeline(cmds);
    if (!replies.ok()) return replies.status().Annotate("verify");
    if (replies->size() != n) {
      return Internal(fmt::format("verify: {} replies for {} commands", replies->size(), n));
    }
    for (size_t j = 0; j < n; ++j) {
      const redis::Reply& rep = (*replies)[j];
      if (rep.IsError()) return Internal("verify: GET failed: " + rep.str);
      ++v.checked;
      // A missing key or a different value both mean the acknowledged write is gone.
      const bool present =
          rep.type == redis::Reply::Type::kString && rep.str == std::to_string(acked[i + j]);
      if (!present) {
        ++v.lost;
        if (v.lost_sample.size() < kLostSampleSize) v.lost_sample.push_back(cmds[j][1]);
      }
    }
  }
  return v;
}

nlohmann::json ReportJson(const ProbeOptions& opts, const ProbeResult& r,
                          const std::optional<VerifyResult>& verify,
                          const std::optional<std::string>& verify_error) {
  nlohmann::json j;
  const int64_t acked = static_cast<int64_t>(r.acked_seqs.size());
  const double secs = static_cast<double>(r.elapsed.count()) / 1e9;
  j["addr"] = opts.addr.ToString();
  j["run_id"] = r.run_id;
  j["key_prefix"] = opts.key_prefix;
  j["acked"] = acked;
  j["attempts"] = r.attempts;
  j["errors"] = r.errors;
  nlohmann::json kinds = nlohmann::json::object();
  for (int k = 0; k < kErrorKindCount; ++k) {
    kinds[std::string(ErrorKindName(static_cast<ErrorKind>(k)))] = r.errors_by_kind[k];
  }
  j["errors_by_kind"] = kinds;
  j["reconnects"] = std::max<int64_t>(r.dials - 1, 0);
  j["max_gap_ms"] = Millis(r.max_gap);
  j["rate_target"] = opts.rate;
  j["rate_achieved"] = secs > 0 ? static_cast<double>(acked) / secs : 0.0;
  j["duration_s"] = secs;
  j["interrupted"] = r.interrupted;
  j["first_error"] =
      r.first_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.first_error);
  j["last_error"] = r.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.last_error);
  if (verify.has_value()) {
    j["verified"] = verify->checked;
    j["lost"] = verify->lost;
    j["lost_sample"] = verify->lost_sample;
  }
  if (verify_error.has_value()) j["verify_error"] = *verify_error;
  return j;
}

}  // namespace ruo::probe
