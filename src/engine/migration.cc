#include "engine/migration.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/precheck.h"
#include "engine/sync.h"
#include "redis/admin.h"

namespace ruo::engine {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

// Resume tries (1 s apart) when undoing or finishing fails in-process.
constexpr int kResumeTries = 3;

int64_t MsBetween(TimePoint a, TimePoint b) {
  return duration_cast<milliseconds>(b - a).count();
}

// migrate's state file: {"sync_saved_config": {...}, "switch": SwitchRecord}.
// Every write is atomic (tmp + fsync + rename) so a kill leaves the old or the new file.
class StateFile final : public RecordSink {
 public:
  explicit StateFile(std::string path) : path_(std::move(path)) {}

  // NotFound when there is no file (a fresh migration).
  Status Load() {
    if (path_.empty()) return NotFound("no state file");
    std::ifstream in(path_);
    if (!in) return NotFound("state file " + path_ + " does not exist");
    std::stringstream buf;
    buf << in.rdbuf();
    nlohmann::json j = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return InvalidArgument("state file " + path_ + " is not valid JSON", "StateFileInvalid");
    }
    try {
      if (j.contains("sync_saved_config")) {
        sync_saved_ = j.at("sync_saved_config").get<std::map<std::string, std::string>>();
      }
    } catch (const nlohmann::json::exception& e) {
      return InvalidArgument("state file " + path_ + ": " + e.what(), "StateFileInvalid");
    }
    if (j.contains("switch")) {
      auto rec = SwitchRecord::FromJson(j.at("switch"));
      if (!rec.ok()) return rec.status().Annotate("state file " + path_);
      record_ = *rec;
    }
    return Status::Ok();
  }

  Status Save(const SwitchRecord& record) override {
    record_ = record;
    return Write();
  }

  Status Write() {
    if (path_.empty()) return Status::Ok();
    nlohmann::json j;
    j["sync_saved_config"] = sync_saved_;
    j["switch"] = record_.ToJson();
    const std::string text = j.dump(2) + "\n";
    const std::string tmp = path_ + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("open " + tmp);
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Status s = Errno("write " + tmp);
        ::close(fd);
        return s;
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
      Status s = Errno("fsync " + tmp);
      ::close(fd);
      return s;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) return Errno("rename " + tmp);
    // The rename itself is durable once the directory is synced.
    const size_t slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return Status::Ok();
  }

  SwitchRecord& record() { return record_; }
  std::map<std::string, std::string>& sync_saved() { return sync_saved_; }

 private:
  static Status Errno(const std::string& what) {
    return Internal(what + ": " + std::strerror(errno), "StateFileWriteFailed");
  }

  std::string path_;
  SwitchRecord record_;
  std::map<std::string, std::string> sync_saved_;
};

// Since when a condition has held (no std::optional: GCC 12 warns falsely on it).
struct Since {
  bool set = false;
  TimePoint at{};
  void Mark(TimePoint now) {
    if (!set) at = now;
    set = true;
  }
  void Reset() { set = false; }
  bool Longer(TimePoint now, milliseconds d) const { return set && now - at > d; }
  int64_t Seconds(TimePoint now) const { return MsBetween(at, now) / 1000; }
};

bool IsTransport(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

class Migration {
 public:
  Migration(const MigrationOptions& opts, redis::Dialer& dialer, Clock& clock,
            const ProgressFn& progress)
      : opts_(opts),
        dialer_(dialer),
        clock_(clock),
        progress_(progress),
        state_(opts.state_file),
        source_for_target_(opts.source_as_seen_by_target.value_or(opts.source)) {
    conn_opts_.password = opts.password;
    conn_opts_.client_name = "redis-upgrade-operator";
    // A 3.0–6.0 master paused by the switch answers only when the pause ends.
    conn_opts_.command_timeout =
        std::max(conn_opts_.command_timeout,
                 opts.switch_options.legacy_pause + std::chrono::milliseconds(5000));
  }

  MigrationReport Run() {
    start_ = clock_.Monotonic();
    Body();
    RestoreSyncLimits();
    report_.total_ms = MsBetween(start_, clock_.Monotonic());
    if (report_.result != "completed") report_.result = "failed";
    return report_;
  }

 private:
  void Say(const std::string& line) {
    // No line carries the password: the redis module redacts it from command
    // errors and none of ours includes it.
    spdlog::debug("migrate: {}", line);
    if (progress_) progress_(line);
  }

  void Fail(std::string reason, std::string error) {
    report_.result = "failed";
    report_.error_reason = std::move(reason);
    report_.error = std::move(error);
    report_.attempts = state_.record().attempt;
    report_.block_method = state_.record().block_method;
    Say("failed: " + report_.error);
  }

  // A dial or transport failure as one report line and a reason, e.g.
  // "source 127.0.0.1:7000 unreachable: Connection refused".
  void FailDial(const std::string& side, const redis::Endpoint& ep, const Status& s) {
    const std::string addr = ep.ToString();
    std::string msg = s.message();
    if (const std::string prefix = "connect to " + addr + ": "; msg.starts_with(prefix)) {
      msg = msg.substr(prefix.size());
    }
    if (s.code() == StatusCode::kUnauthenticated) {
      const std::string reason = s.reason().empty() ? "AuthFailed" : s.reason();
      Fail(reason,
           msg.find(addr) != std::string::npos ? side + " " + msg : side + " " + addr + ": " + msg);
      return;
    }
    const std::string reason = side == "source" ? "SourceUnreachable" : "TargetUnreachable";
    Fail(IsTransport(s) || s.reason().empty() ? reason : s.reason(),
         side + " " + addr + " unreachable: " + msg);
  }

  StatusOr<std::unique_ptr<redis::Admin>> Dial(const redis::Endpoint& ep) {
    return redis::Admin::Connect(dialer_, ep, conn_opts_);
  }

  void Body() {
    if (Status s = state_.Load(); !s.ok() && s.code() != StatusCode::kNotFound) {
      Fail(s.reason().empty() ? "StateFileInvalid" : s.reason(), s.message());
      return;
    }
    SwitchRecord& record = state_.record();
    const bool finishing =
        record.step == SwitchStep::kVerified || record.step == SwitchStep::kTrafficMoved;

    auto src = Dial(opts_.source);
    if (src.ok()) {
      src_ = std::move(*src);
    } else if (finishing) {
      // Past the point of no return the new master holds everything; a dead old
      // master takes no writes, so finishing goes on without it.
      Say("resume: source " + opts_.source.ToString() +
          " unreachable; finishing the switch without it: " + src.status().message());
      src_ = std::make_unique<redis::Admin>(
          redis::NewUnreachableConnection(opts_.source, src.status()));
    } else {
      FailDial("source", opts_.source, src.status());
      return;
    }
    auto tgt = Dial(opts_.target);
    if (!tgt.ok()) {
      FailDial("target", opts_.target, tgt.status());
      return;
    }
    tgt_ = std::move(*tgt);
    report_.source_version = src.ok() ? src_->version().ToString() : record.source_version;
    report_.target_version = tgt_->version().ToString();

    if (!record.old_master.empty() && (record.old_master != opts_.source.ToString() ||
                                       record.new_master != opts_.target.ToString())) {
      Fail("StateFileMismatch", "state file " + opts_.state_file + " belongs to a migration from " +
                                    record.old_master + " to " + record.new_master);
      return;
    }

    // An interrupted switch is undone or finished before anything else.
    const bool completed_before = record.step == SwitchStep::kCompleted;
    if (record.step != SwitchStep::kIdle && !completed_before) {
      Say("resume: switch record at step " + std::string(SwitchStepName(record.step)) +
          (finishing ? "; finishing it" : "; undoing it"));
      if (!ResumeSwitch()) return;
    }
    if (record.step == SwitchStep::kCompleted) {
      if (completed_before) {
        Say("switch already completed (state file " + opts_.state_file + ")");
      }
      Complete();
      return;
    }

    if (!Precheck()) return;

    Status s = RaiseSyncLimits(
        *src_, &state_.sync_saved(),
        [this](const std::map<std::string, std::string>&) { return state_.Write(); });
    if (!s.ok()) {
      Fail(s.reason().empty() ? "SyncLimitsFailed" : s.reason(),
           "raising the sync limits on source " + opts_.source.ToString() + ": " + s.message());
      return;
    }
    for (const auto& [name, value] : state_.sync_saved()) {
      Say("sync: raised " + name + " on the source (original: " + value + ")");
    }
    sync_started_ = clock_.Monotonic();
    s = StartReplication(*tgt_, source_for_target_, opts_.password);
    if (!s.ok()) {
      Fail(IsTransport(s) ? "TargetUnreachable" : "ReplicationFailed",
           "starting replication on target " + opts_.target.ToString() + " from " +
               source_for_target_.ToString() + ": " + s.message());
      return;
    }
    Say("sync: target " + opts_.target.ToString() + " replicates " + source_for_target_.ToString());

    int attempts = 0;
    std::string last_release;
    while (true) {
      if (!WaitSynced()) return;
      if (attempts >= opts_.max_attempts) {
        Fail("CatchUpTimeout", "all " + std::to_string(attempts) +
                                   " switch attempts were released; last: " + last_release);
        return;
      }
      ++attempts;
      auto keys = src_->DbSize();
      report_.source_keys = keys.ok() ? *keys : -1;
      Say("switch: attempt " + std::to_string(record.attempt + 1) + " (" +
          std::to_string(report_.source_keys) + " keys on the source)");
      // A source restarted since the precheck is caught at the block.
      SwitchOptions switch_options = opts_.switch_options;
      switch_options.expected_source_run_id = source_run_id_;
      SwitchProtocol proto(*src_, *tgt_, {}, switch_options, clock_, state_);
      auto out = proto.Run(record, opts_.move_traffic);
      if (!out.ok()) {
        const Status e = out.status();
        if (record.step != SwitchStep::kIdle) {
          // Not undone (or not finished) yet: the old master may still be blocked
          // or sealed. Retry with fresh connections rather than leave it so.
          Say("switch: attempt " + std::to_string(record.attempt) + " failed at step " +
              std::string(SwitchStepName(record.step)) + ": " + e.message() + "; resuming");
          if (!ResumeSwitch()) return;
          if (record.step == SwitchStep::kCompleted) break;
        }
        Fail(e.reason().empty() ? "SwitchFailed" : e.reason(),
             "switch attempt " + std::to_string(record.attempt) + " failed: " + e.message() +
                 " (undone; the source is writable)");
        return;
      }
      if (*out == SwitchOutcome::kCompleted) break;
      last_release = record.last_error;
      Say("switch: attempt " + std::to_string(record.attempt) +
          " released, writes resumed on the source: " + record.last_error);
    }
    Complete();
  }

  // Resume() with a few retries for the finishing side (e.g. a failing hook).
  bool ResumeSwitch() {
    SwitchRecord& record = state_.record();
    Status last;
    for (int i = 0; i < kResumeTries; ++i) {
      if (i > 0) {
        // A transport failure leaves a connection unusable: dial both again.
        clock_.SleepFor(std::chrono::seconds(1));
        if (auto s = Dial(opts_.source); s.ok()) src_ = std::move(*s);
        if (auto t = Dial(opts_.target); t.ok()) tgt_ = std::move(*t);
      }
      SwitchProtocol proto(*src_, *tgt_, {}, opts_.switch_options, clock_, state_);
      auto out = proto.Resume(record, opts_.move_traffic);
      if (out.ok()) return true;
      last = out.status();
      Say("switch: resuming at step " + std::string(SwitchStepName(record.step)) +
          " failed: " + last.message());
    }
    const bool finishing =
        record.step == SwitchStep::kVerified || record.step == SwitchStep::kTrafficMoved;
    Fail(last.reason().empty() ? (finishing ? "FinishFailed" : "UndoFailed") : last.reason(),
         std::string(finishing ? "finishing" : "undoing") + " the switch at step " +
             std::string(SwitchStepName(record.step)) + " failed: " + last.message() +
             "; rerun with the same state file to " + (finishing ? "finish" : "undo") + " it");
    return false;
  }

  bool Precheck() {
    auto si = src_->GetInfo();
    if (!si.ok()) {
      FailDial("source", opts_.source, si.status());
      return false;
    }
    auto ti = tgt_->GetInfo();
    if (!ti.ok()) {
      FailDial("target", opts_.target, ti.status());
      return false;
    }
    // The server the sync starts from; the switch refuses any other.
    source_run_id_ = si->server.run_id;
    PrecheckInput in;
    in.source = *si;
    in.target = *ti;
    in.allow_same_version = opts_.allow_same_version;
    in.source_as_seen_by_target = source_for_target_;
    in.repl_backlog_size = si->replication.repl_backlog_size;
    // Fork headroom against the host's memory (no container limit outside Kubernetes).
    in.source_memory_limit_bytes = si->memory.total_system_memory;
    if (auto maxmem = tgt_->ConfigGet("maxmemory"); maxmem.ok()) {
      in.target_memory_limit_bytes = std::atoll(maxmem->c_str());
    }
    const auto& tr = ti->replication;
    const bool resuming = tr.role == "slave" && tr.master_host == source_for_target_.host &&
                          tr.master_port == source_for_target_.port;
    std::vector<PrecheckPolicy> chain = DefaultPrechecks();
    if (resuming) {
      // Our own earlier run's full sync may be forking the source right now.
      chain.erase(std::remove_if(chain.begin(), chain.end(),
                                 [](const PrecheckPolicy& p) {
                                   auto* f =
                                       p.target<std::optional<Refusal> (*)(const PrecheckInput&)>();
                                   return f && *f == &CheckNoBackgroundSave;
                                 }),
                  chain.end());
    }
    if (auto refusal = RunPrechecks(in, chain)) {
      Fail(refusal->reason, refusal->message);
      return false;
    }
    Say("precheck: passed (source " + si->server.redis_version + ", target " +
        ti->server.redis_version + (resuming ? ", target already replicating the source" : "") +
        ")");
    for (std::string& w : UncheckedVersionWarnings(in)) {
      spdlog::warn("precheck: {}", w);
      Say("precheck: warning: " + w);
      report_.warnings.push_back(std::move(w));
    }
    return true;
  }

  // Polls until the full sync is done and lag ≤ max_lag_bytes.
  bool WaitSynced() {
    const TimePoint deadline = clock_.Monotonic() + opts_.sync_timeout;
    Since source_down, target_down, link_down;
    bool source_vanished = false;  // during the current link-down period
    bool progressed = false;
    TimePoint last_progress{};
    std::string source_error, target_error;
    while (true) {
      const TimePoint now = clock_.Monotonic();
      auto si = src_->GetInfo("replication");
      if (si.ok()) {
        source_down.Reset();
      } else {
        source_down.Mark(now);
        source_error = si.status().message();
        // The old connection is unusable after a transport failure: dial again,
        // and report the fresh cause (e.g. "Connection refused").
        if (auto again = Dial(opts_.source); again.ok()) {
          src_ = std::move(*again);
        } else {
          source_error = again.status().message();
        }
      }
      auto ti = tgt_->GetInfo();
      if (ti.ok()) {
        target_down.Reset();
      } else {
        target_down.Mark(now);
        target_error = ti.status().message();
        if (auto again = Dial(opts_.target); again.ok()) {
          tgt_ = std::move(*again);
        } else {
          target_error = again.status().message();
        }
      }

      std::string line;
      if (si.ok() && ti.ok()) {
        const SyncStatus st = ComputeSyncStatus(*si, *ti);
        if (st.full_sync_done && report_.full_sync_ms < 0) {
          report_.full_sync_ms = MsBetween(sync_started_, now);
          Say("sync: full sync done in " + std::to_string(report_.full_sync_ms) + " ms");
        }
        // The source lists the target as a replica while it prepares the RDB
        // (wait_bgsave, a diskless-sync delay): the link is down but progressing.
        std::string replica_state;
        for (const auto& e : si->replication.replicas) {
          if (e.port == opts_.target.port) replica_state = e.state.empty() ? "?" : e.state;
        }
        if (!st.link_up && !st.sync_in_progress && !ti->persistence.loading &&
            replica_state.empty()) {
          link_down.Mark(now);
        } else {
          link_down.Reset();
          source_vanished = false;
        }
        if (st.full_sync_done && st.lag_bytes >= 0 && st.lag_bytes <= opts_.max_lag_bytes) {
          Say("sync: link=up lag=" + std::to_string(st.lag_bytes) +
              " bytes (<= " + std::to_string(opts_.max_lag_bytes) +
              "), offset=" + std::to_string(st.source_offset));
          return true;
        }
        line = "sync: link=" + (st.master_link_status.empty() ? "?" : st.master_link_status);
        if (!st.link_up && !replica_state.empty()) {
          line += " (replica state on the source: " + replica_state + ")";
        }
        if (st.sync_in_progress) {
          line += " full sync in progress";
          if (st.sync_left_bytes >= 0)
            line += ", " + std::to_string(st.sync_left_bytes) + " bytes left";
        } else if (st.lag_bytes >= 0) {
          line += " lag=" + std::to_string(st.lag_bytes) + " bytes";
        }
        line += " source_offset=" + std::to_string(st.source_offset) +
                " target_offset=" + std::to_string(st.target_offset);
      } else if (!si.ok()) {
        source_vanished = true;
        line = "sync: source " + opts_.source.ToString() + " unreachable: " + source_error;
      } else {
        line = "sync: target " + opts_.target.ToString() + " unreachable: " + target_error;
      }

      const auto lost = opts_.source_lost_timeout;
      if (source_down.Longer(now, lost)) {
        Fail("SourceLost", "source " + opts_.source.ToString() + " unreachable for " +
                               std::to_string(source_down.Seconds(now)) + " s during the sync: " +
                               source_error + "; the target was not promoted");
        return false;
      }
      if (link_down.Longer(now, lost)) {
        // Reachable by us all along: the target cannot reach it, or is refused.
        Fail(source_vanished ? "SourceLost" : "ReplicationLinkDown",
             "the target's replication link to " + source_for_target_.ToString() +
                 " has been down for " + std::to_string(link_down.Seconds(now)) +
                 " s (master_link_status:down, no sync running); the target was not promoted");
        return false;
      }
      if (target_down.Longer(now, lost)) {
        Fail("TargetLost", "target " + opts_.target.ToString() + " unreachable for " +
                               std::to_string(target_down.Seconds(now)) +
                               " s during the sync: " + target_error);
        return false;
      }
      if (now >= deadline) {
        Fail("SyncTimeout", "the sync did not reach lag <= " + std::to_string(opts_.max_lag_bytes) +
                                " bytes within " +
                                std::to_string(opts_.sync_timeout.count() / 1000) + " s");
        return false;
      }
      if (!progressed || now - last_progress >= opts_.progress_interval) {
        Say(line);
        progressed = true;
        last_progress = now;
      }
      clock_.SleepFor(opts_.sync_poll_interval);
    }
  }

  void Complete() {
    const SwitchRecord& record = state_.record();
    report_.result = "completed";
    report_.write_blocked_ms = record.write_blocked_ms;
    report_.attempts = record.attempt;
    report_.block_method = record.block_method;
    report_.final_offset = record.promoted_offset;
    if (report_.source_version.empty()) report_.source_version = record.source_version;
    auto keys = tgt_->DbSize();
    report_.target_keys = keys.ok() ? *keys : -1;
    Say("switch: completed in attempt " + std::to_string(record.attempt) + " (" +
        record.block_method + "), writes blocked for " + std::to_string(record.write_blocked_ms) +
        " ms, " + std::to_string(record.clients_killed) + " old clients closed");
  }

  // The old master gets its original limits back, whatever the outcome.
  void RestoreSyncLimits() {
    auto& saved = state_.sync_saved();
    if (saved.empty() || !src_) return;
    Status s = RestoreConfig(*src_, saved);
    if (!s.ok() && IsTransport(s)) {
      // The connection may have died earlier; one fresh dial.
      if (auto again = Dial(opts_.source); again.ok()) {
        src_ = std::move(*again);
        s = RestoreConfig(*src_, saved);
      }
    }
    if (!s.ok()) {
      std::string originals;
      for (const auto& [name, value] : saved) {
        originals += (originals.empty() ? "" : "; ") + name + " \"" + value + "\"";
      }
      Say("warning: could not restore the sync limits on the source (" + s.message() + "); " +
          (opts_.state_file.empty() ? "original values: " + originals
                                    : "originals kept in the state file"));
      return;
    }
    Say("sync: restored the source's original sync limits");
    saved.clear();
    if (Status w = state_.Write(); !w.ok()) Say("warning: " + w.message());
  }

  const MigrationOptions& opts_;
  redis::Dialer& dialer_;
  Clock& clock_;
  const ProgressFn& progress_;
  StateFile state_;
  redis::Endpoint source_for_target_;
  redis::ConnectOptions conn_opts_;
  std::unique_ptr<redis::Admin> src_;
  std::unique_ptr<redis::Admin> tgt_;
  std::string source_run_id_;  // from the precheck's INFO
  MigrationReport report_;
  TimePoint start_;
  TimePoint sync_started_;
};

}  // namespace

nlohmann::json MigrationReport::ToJson() const {
  nlohmann::json j;
  j["result"] = result;
  j["source_version"] = source_version;
  j["target_version"] = target_version;
  j["write_blocked_ms"] = write_blocked_ms;
  j["attempts"] = attempts;
  if (!block_method.empty()) j["block_method"] = block_method;
  if (!warnings.empty()) j["warnings"] = warnings;
  if (!error.empty()) j["error"] = error;
  if (!error_reason.empty()) j["error_reason"] = error_reason;
  j["full_sync_ms"] = full_sync_ms;
  j["total_ms"] = total_ms;
  j["final_offset"] = final_offset;
  j["source_keys"] = source_keys;
  j["target_keys"] = target_keys;
  return j;
}

MigrationReport RunMigration(const MigrationOptions& opts, redis::Dialer& dialer, Clock& clock,
                             const ProgressFn& progress) {
  Migration m(opts, dialer, clock, progress);
  return m.Run();
}

}  // namespace ruo::engine
