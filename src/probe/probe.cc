#include "probe/probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <random>
#include <thread>
#include <utility>

#include "probe/subscriber.h"

namespace ruo::probe {
namespace {

using std::chrono::nanoseconds;
using std::chrono::steady_clock;

constexpr size_t kLostSampleSize = 10;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

WriteOutcome Refused(ErrorKind kind, std::string message) {
  return {false, kind, std::move(message)};
}

// One command's reply: +OK acknowledges (SET, SET EX, and EVAL of a script that
// returns redis.call('SET') answer +OK on every version).
WriteOutcome SingleReply(const redis::Reply& rep) {
  if (rep.IsOk()) return {true};
  if (rep.IsError()) return Refused(ClassifyErrorReply(rep.str), rep.str);
  return Refused(ErrorKind::kOther, "unexpected reply " + redis::DebugString(rep));
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
  // Up to 6.2 a refused write inside a script comes wrapped ("ERR Error running
  // script (call to f_<sha>): @user_script:1: @user_script: 1: -READONLY ..."),
  // and an EXEC on a master demoted after the MULTI was queued answers
  // "EXECABORT Transaction discarded because of: READONLY ..." (6.2+).
  if (StartsWith(message, "ERR Error running script") || StartsWith(message, "EXECABORT")) {
    if (Contains(message, "READONLY")) return ErrorKind::kReadOnly;
    if (Contains(message, "NOREPLICAS")) return ErrorKind::kNoReplicas;
  }
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

std::string_view WriteKindName(WriteKind kind) {
  switch (kind) {
    case WriteKind::kSet:
      return "set";
    case WriteKind::kEval:
      return "eval";
    case WriteKind::kMulti:
      return "multi";
    case WriteKind::kSetEx:
      return "set_ex";
  }
  return "set";
}

WriteKind KindFor(int64_t seq, bool mix) {
  if (!mix) return WriteKind::kSet;
  return static_cast<WriteKind>(seq % kWriteKindCount);
}

std::vector<std::vector<std::string>> WriteCommands(WriteKind kind, const std::string& key,
                                                    int64_t seq,
                                                    const std::string& multi_count_key) {
  const std::string value = std::to_string(seq);
  switch (kind) {
    case WriteKind::kSet:
      break;
    case WriteKind::kEval:
      return {{"EVAL", std::string(kEvalScript), "1", key, value}};
    case WriteKind::kMulti:
      return {{"MULTI"}, {"SET", key, value}, {"INCR", multi_count_key}, {"EXEC"}};
    case WriteKind::kSetEx:
      return {{"SET", key, value, "EX", std::to_string(kSetExSeconds)}};
  }
  return {{"SET", key, value}};
}

WriteOutcome ClassifyWriteReplies(WriteKind kind, const std::vector<redis::Reply>& replies) {
  const size_t want = kind == WriteKind::kMulti ? 4 : 1;
  if (replies.size() != want) {
    return Refused(ErrorKind::kOther,
                   fmt::format("{} replies to {} commands", replies.size(), want));
  }
  if (kind != WriteKind::kMulti) return SingleReply(replies[0]);
  const redis::Reply& exec = replies[3];
  if (exec.type == redis::Reply::Type::kArray && exec.elements.size() == 2 &&
      exec.elements[0].IsOk() && exec.elements[1].type == redis::Reply::Type::kInteger) {
    return {true};
  }
  // Name the first refusal. A command refused while queued is the cause: EXEC
  // then says only "-EXECABORT ... previous errors", or on 2.8 (where -READONLY
  // does not abort the block) runs what is left, nothing, and answers [].
  for (size_t i = 0; i < 3; ++i) {
    if (replies[i].IsError()) {
      return Refused(
          ClassifyErrorReply(replies[i].str),
          fmt::format("{} (in MULTI; EXEC: {})", replies[i].str, redis::DebugString(exec)));
    }
  }
  if (exec.IsError()) return Refused(ClassifyErrorReply(exec.str), exec.str);
  if (exec.type == redis::Reply::Type::kArray) {
    for (const redis::Reply& e : exec.elements) {
      if (e.IsError()) return Refused(ClassifyErrorReply(e.str), "in EXEC: " + e.str);
    }
  }
  return Refused(ErrorKind::kOther, "unexpected EXEC reply " + redis::DebugString(exec));
}

void TallyPubSub(const std::vector<int64_t>& published, const std::vector<int64_t>& received,
                 PubSubResult* out) {
  std::vector<int64_t> got = received;
  std::sort(got.begin(), got.end());
  got.erase(std::unique(got.begin(), got.end()), got.end());
  out->missed = 0;
  out->missed_tail = 0;
  out->longest_missed_run = 0;
  int64_t run = 0;
  for (int64_t p : published) {
    if (std::binary_search(got.begin(), got.end(), p)) {
      run = 0;
      continue;
    }
    ++out->missed;
    out->longest_missed_run = std::max(out->longest_missed_run, ++run);
    if (got.empty() || p > got.back()) ++out->missed_tail;
  }
  out->received_unacked = 0;
  for (int64_t g : got) {
    if (!std::binary_search(published.begin(), published.end(), g)) ++out->received_unacked;
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

std::string MultiCountKey(const std::string& prefix, const std::string& run_id) {
  return fmt::format("{}:{}:multi-count", prefix, run_id);
}

std::string ChannelFor(const std::string& prefix, const std::string& run_id) {
  return fmt::format("{}:{}:chan", prefix, run_id);
}

std::string NewRunId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return fmt::format("{:08x}", static_cast<uint32_t>(gen()));
}

Writer::Writer(ProbeOptions opts, redis::Dialer& dialer, Clock& clock,
               SubscriptionDialer* subscriptions)
    : opts_(std::move(opts)), dialer_(dialer), clock_(clock), subscriptions_(subscriptions) {
  if (opts_.run_id.empty()) opts_.run_id = NewRunId();
  multi_key_ = MultiCountKey(opts_.key_prefix, opts_.run_id);
  channel_ = ChannelFor(opts_.key_prefix, opts_.run_id);
}

void Writer::RecordError(ProbeResult& r, ErrorKind kind, const std::string& message) {
  ++r.errors;
  ++r.errors_by_kind[static_cast<int>(kind)];
  std::string line = fmt::format("{}: {}", ErrorKindName(kind), message);
  if (r.first_error.empty()) r.first_error = line;
  r.last_error = std::move(line);
}

bool Writer::Write(redis::Connection& conn, WriteKind kind, int64_t seq, ProbeResult& r,
                   GapTracker& gaps) {
  KindCounts& counts = r.by_write_kind[static_cast<int>(kind)];
  ++r.attempts;
  ++counts.attempts;
  const auto cmds = WriteCommands(kind, KeyFor(opts_.key_prefix, r.run_id, seq), seq, multi_key_);
  // MULTI...EXEC goes out as one pipeline so the block reaches the server whole.
  StatusOr<std::vector<redis::Reply>> replies = std::vector<redis::Reply>{};
  if (cmds.size() > 1) {
    replies = conn.Pipeline(cmds);
  } else if (auto one = conn.Command(cmds[0]); one.ok()) {
    replies = std::vector<redis::Reply>{std::move(one).value()};
  } else {
    replies = one.status();
  }
  const auto t = clock_.Monotonic();
  if (!replies.ok()) {
    // Not acknowledged, even mid-MULTI: the server dropped the block, or ran it
    // and the reply was lost (then multi-count exceeds the acknowledged count).
    ++counts.errors;
    RecordError(r, ClassifyTransportError(replies.status()), replies.status().ToString());
    return false;
  }
  WriteOutcome out = ClassifyWriteReplies(kind, *replies);
  if (out.acked) {
    ++counts.acked;
    r.acked_seqs.push_back(seq);
    gaps.Success(t);
    return true;
  }
  // Any error reply also drops the connection: after a switch the old master
  // answers READONLY, and only a new connection reaches the new one.
  ++counts.errors;
  RecordError(r, out.error, out.message);
  return false;
}

bool Writer::Publish(redis::Connection& conn, int64_t seq, ProbeResult& r) {
  PubSubResult& ps = r.pubsub;
  ++ps.publish_attempts;
  auto reply = conn.Command({"PUBLISH", channel_, std::to_string(seq)});
  // Not a write: its failures stay out of `errors` and the gap.
  if (!reply.ok()) {
    ++ps.publish_errors;
    ps.publish_last_error = reply.status().ToString();
    return false;
  }
  if (reply->type != redis::Reply::Type::kInteger) {
    ++ps.publish_errors;
    ps.publish_last_error = redis::DebugString(*reply);
    return true;  // the stream is still in step (replicas accept PUBLISH anyway)
  }
  ++ps.published;
  ps.published_seqs.push_back(seq);
  if (reply->integer == 0) ++ps.published_to_none;
  return true;
}

ProbeResult Writer::Run(const std::atomic<bool>& stop) {
  ProbeResult r;
  r.run_id = opts_.run_id;
  // The subscriber is in place before the first PUBLISH, so a missed message
  // means something.
  std::atomic<bool> sub_stop{false};
  std::unique_ptr<Subscriber> sub;
  std::thread sub_thread;
  if (opts_.mix && subscriptions_ != nullptr) {
    redis::ConnectOptions co = opts_.connect;
    if (!co.client_name.empty()) co.client_name += "-sub";
    sub = std::make_unique<Subscriber>(opts_.addr, co, channel_, *subscriptions_, clock_,
                                       opts_.reconnect_delay);
    sub_thread = std::thread([&sub, &sub_stop] { sub->Run(sub_stop); });
    sub->WaitSubscribed(opts_.connect.connect_timeout + opts_.connect.command_timeout);
  }
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
    bool keep = Write(*conn, KindFor(s, opts_.mix), s, r, gaps);
    if (keep && opts_.mix && s % kPublishEvery == 0) keep = Publish(*conn, s, r);
    if (!keep) conn.reset();
  }

  const auto finished = clock_.Monotonic();
  r.elapsed = finished - start;
  r.max_gap = gaps.MaxGap(finished);

  if (sub != nullptr) {
    PubSubResult& ps = r.pubsub;
    // Messages are delivered in order: once the last one is in, every one that
    // was going to arrive has.
    if (!ps.published_seqs.empty()) sub->WaitReceived(ps.published_seqs.back(), opts_.pubsub_drain);
    sub_stop.store(true);
    sub_thread.join();
    SubscriberStats st = sub->Stats();
    ps.subscriber_ran = true;
    ps.received = st.received;
    ps.subscriber_dials = st.dials;
    ps.subscriber_reconnects = std::max<int64_t>(st.subscriptions - 1, 0);
    ps.subscriber_errors = st.errors;
    ps.received_after_last_reconnect = st.received_on_last_connection;
    ps.subscriber_last_error = st.last_error;
    TallyPubSub(ps.published_seqs, st.received_seqs, &ps);
  }
  return r;
}

StatusOr<VerifyResult> Verify(redis::Connection& conn, const std::string& prefix,
                              const std::string& run_id, const std::vector<int64_t>& acked,
                              size_t batch) {
  VerifyOptions vopts;
  vopts.batch = batch;
  return Verify(conn, prefix, run_id, acked, vopts);
}

StatusOr<VerifyResult> Verify(redis::Connection& conn, const std::string& prefix,
                              const std::string& run_id, const std::vector<int64_t>& acked,
                              const VerifyOptions& vopts) {
  VerifyResult v;
  v.mix = vopts.mix;
  const size_t batch = std::max<size_t>(vopts.batch, 1);
  for (size_t i = 0; i < acked.size(); i += batch) {
    const size_t n = std::min(batch, acked.size() - i);
    std::vector<std::vector<std::string>> cmds;
    cmds.reserve(n);
    for (size_t j = 0; j < n; ++j) {
      const int64_t seq = acked[i + j];
      std::string key = KeyFor(prefix, run_id, seq);
      // An expiring key right after its GET: its TTL must have survived too.
      const bool ttl = KindFor(seq, vopts.mix) == WriteKind::kSetEx;
      cmds.push_back({"GET", key});
      if (ttl) cmds.push_back({"PTTL", std::move(key)});
    }
    auto replies = conn.Pipeline(cmds);
    if (!replies.ok()) return replies.status().Annotate("verify");
    if (replies->size() != cmds.size()) {
      return Internal(
          fmt::format("verify: {} replies for {} commands", replies->size(), cmds.size()));
    }
    size_t k = 0;
    for (size_t j = 0; j < n; ++j) {
      const int64_t seq = acked[i + j];
      const std::string& key = cmds[k][1];
      const redis::Reply& rep = (*replies)[k++];
      if (rep.IsError()) return Internal("verify: GET failed: " + rep.str);
      ++v.checked;
      // A missing key or a different value both mean the acknowledged write is gone.
      const bool present =
          rep.type == redis::Reply::Type::kString && rep.str == std::to_string(seq);
      if (!present) {
        ++v.lost;
        if (v.lost_sample.size() < kLostSampleSize) v.lost_sample.push_back(key);
      }
      if (k == cmds.size() || cmds[k][0] != "PTTL") continue;
      const redis::Reply& pttl = (*replies)[k++];
      if (pttl.type != redis::Reply::Type::kInteger) {
        return Internal("verify: PTTL failed: " + redis::DebugString(pttl));
      }
      if (!present) continue;  // already counted as lost
      ++v.ttl_checked;
      // -1: the key is there without an expiry (-2, gone since the GET, cannot
      // happen to an hour-long TTL unless something removed it: counted too).
      if (pttl.integer <= 0) {
        ++v.ttl_lost;
        if (v.ttl_lost_sample.size() < kLostSampleSize) v.ttl_lost_sample.push_back(key);
      }
    }
  }
  if (vopts.mix) {
    v.multi_acked = std::count_if(acked.begin(), acked.end(), [](int64_t seq) {
      return KindFor(seq, true) == WriteKind::kMulti;
    });
    auto count = conn.Command({"GET", MultiCountKey(prefix, run_id)});
    if (!count.ok()) return count.status().Annotate("verify");
    if (count->type == redis::Reply::Type::kString) {
      const std::string& s = count->str;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v.multi_count);
      if (ec != std::errc() || ptr != s.data() + s.size()) {
        return Internal("verify: multi-count is not a number: " + s);
      }
    } else if (count->type != redis::Reply::Type::kNil) {
      return Internal("verify: GET multi-count failed: " + redis::DebugString(*count));
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
  if (opts.mix) {
    nlohmann::json mix = nlohmann::json::object();
    for (int k = 0; k < kWriteKindCount; ++k) {
      const KindCounts& c = r.by_write_kind[k];
      mix[std::string(WriteKindName(static_cast<WriteKind>(k)))] = {
          {"attempts", c.attempts}, {"acked", c.acked}, {"errors", c.errors}};
    }
    j["mix"] = mix;
    const PubSubResult& ps = r.pubsub;
    auto or_null = [](const std::string& s) {
      return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
    };
    j["pubsub"] = {
        {"publish_attempts", ps.publish_attempts},
        {"published", ps.published},
        {"publish_errors", ps.publish_errors},
        {"published_to_none", ps.published_to_none},
        {"publish_last_error", or_null(ps.publish_last_error)},
        {"subscriber", ps.subscriber_ran},
        {"received", ps.received},
        {"missed", ps.missed},
        {"missed_tail", ps.missed_tail},
        {"longest_missed_run", ps.longest_missed_run},
        {"received_unacked", ps.received_unacked},
        {"subscriber_dials", ps.subscriber_dials},
        {"subscriber_reconnects", ps.subscriber_reconnects},
        {"subscriber_errors", ps.subscriber_errors},
        {"received_after_last_reconnect", ps.received_after_last_reconnect},
        {"subscriber_last_error", or_null(ps.subscriber_last_error)},
    };
  }
  if (verify.has_value()) {
    j["verified"] = verify->checked;
    j["lost"] = verify->lost;
    j["lost_sample"] = verify->lost_sample;
    if (verify->mix) {
      j["ttl_checked"] = verify->ttl_checked;
      j["ttl_lost"] = verify->ttl_lost;
      j["ttl_lost_sample"] = verify->ttl_lost_sample;
      j["multi_acked"] = verify->multi_acked;
      j["multi_count"] = verify->multi_count;
    }
  }
  if (verify_error.has_value()) j["verify_error"] = *verify_error;
  return j;
}

}  // namespace ruo::probe
