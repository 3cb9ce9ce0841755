#include "engine/switch_protocol.h"

#include <spdlog/spdlog.h>

#include <array>
#include <utility>

#include "engine/sync.h"

namespace ruo::engine {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr std::string_view kPauseWrite = "pause-write";
constexpr std::string_view kMultiFencePause = "multi-fence-pause";
constexpr std::string_view kFence = "fence";

// Fence threshold margin over the real replica count (the new master counts too).
constexpr int64_t kFenceMargin = 1000;
// min-slaves-max-lag 0 disables the fence; this is what we set instead (Redis' default).
constexpr std::string_view kFenceMaxLag = "10";

// What the seal enforces besides SLAVEOF (spelled per version by ConfigNameFor):
// a replica with read-only off takes writes it will never pass on, and one
// that serves stale data answers reads the new master has long overtaken.
constexpr std::array<std::pair<std::string_view, std::string_view>, 2> kSealConfig = {{
    {"replica-read-only", "yes"},
    {"replica-serve-stale-data", "no"},
}};

bool IsSealConfig(const redis::Capabilities& c, const std::string& name) {
  for (const auto& [seal_name, value] : kSealConfig) {
    if (redis::ConfigNameFor(c, seal_name) == name) return true;
  }
  return false;
}

// The CLIENT KILL counts at the end of a seal transaction's replies.
int64_t KilledIn(const std::vector<redis::Reply>& replies, size_t kills) {
  int64_t n = 0;
  for (size_t i = replies.size() - kills; i < replies.size(); ++i) {
    if (replies[i].type == redis::Reply::Type::kInteger) n += replies[i].integer;
  }
  return n;
}

std::string_view MethodFor(const redis::Capabilities& c) {
  if (c.client_pause_write) return kPauseWrite;
  if (c.client_pause && c.atomic_multi_pause) return kMultiFencePause;
  return kFence;
}

bool BeforeVerified(SwitchStep s) {
  switch (s) {
    case SwitchStep::kBlocking:
    case SwitchStep::kBlocked:
    case SwitchStep::kPromoting:
    case SwitchStep::kPromoted:
    case SwitchStep::kSealing:
    case SwitchStep::kSealed:
    case SwitchStep::kUndoing:
      return true;
    default:
      return false;
  }
}

int64_t UnixMs(const Clock& clock) {
  return ToUnixMillis(clock.Now());
}

int64_t MsSince(const Clock& clock, std::chrono::steady_clock::time_point t) {
  return duration_cast<milliseconds>(clock.Monotonic() - t).count();
}

// The INFO text inside an EXEC reply.
StatusOr<redis::Info> InfoFrom(const redis::Reply& r, std::string_view where) {
  if (r.type != redis::Reply::Type::kString && r.type != redis::Reply::Type::kStatus) {
    return Internal(std::string(where) + ": INFO in transaction returned " + redis::DebugString(r),
                    "UnexpectedReply");
  }
  return redis::ParseInfo(r.str);
}

Status ExpectOk(const redis::Reply& r, std::string_view what) {
  if (r.IsError()) {
    return Internal(std::string(what) + " failed: " + r.str, "CommandFailed");
  }
  return Status::Ok();
}

bool ReplicatesFrom(const redis::ReplicationInfo& r, const redis::Endpoint& ep) {
  return r.role == "slave" && r.master_host == ep.host && r.master_port == ep.port;
}

}  // namespace

SwitchProtocol::SwitchProtocol(redis::Admin& old_master, redis::Admin& new_master,
                               std::vector<redis::Admin*> new_replicas, SwitchOptions opts,
                               Clock& clock, RecordSink& sink)
    : old_(old_master),
      new_(new_master),
      replicas_(std::move(new_replicas)),
      opts_(std::move(opts)),
      clock_(clock),
      sink_(sink) {}

Status SwitchProtocol::Save(SwitchRecord& record, SwitchStep step) {
  return Store(record, step, /*durable=*/true);
}

Status SwitchProtocol::Note(SwitchRecord& record, SwitchStep step) {
  return Store(record, step, /*durable=*/false);
}

Status SwitchProtocol::Store(SwitchRecord& record, SwitchStep step, bool durable) {
  const SwitchStep before = record.step;
  record.step = step;
  Status s = durable ? sink_.Save(record) : sink_.Note(record);
  if (!s.ok()) {
    // The step in memory must never run ahead of the stored one: a kVerified that
    // was not stored must still be undone, never finished.
    record.step = before;
    return s.Annotate("persisting switch step " + std::string(SwitchStepName(step)));
  }
  return s;
}

StatusOr<SwitchOutcome> SwitchProtocol::Run(SwitchRecord& record,
                                            const TrafficMover& move_traffic) {
  if (record.step == SwitchStep::kCompleted) return SwitchOutcome::kCompleted;
  if (record.step != SwitchStep::kIdle) return Resume(record, move_traffic);

  // Reads only until kBlocking is saved: an error here changes nothing.
  const redis::Capabilities& caps = old_.caps();
  RUO_ASSIGN_OR_RETURN(redis::Info old_info, old_.GetInfo("replication"));
  if (old_info.replication.role != "master") {
    return FailedPrecondition("the old master " + old_.endpoint().ToString() +
                                  " is not a master (role:" + old_info.replication.role + ")",
                              "NotAMaster");
  }
  RUO_ASSIGN_OR_RETURN(redis::Info new_info, new_.GetInfo("replication"));
  const auto& nr = new_info.replication;
  if (nr.role != "slave" || nr.master_link_status != "up") {
    return FailedPrecondition("the new master " + new_.endpoint().ToString() +
                                  " is not a replica with its link up (role:" + nr.role +
                                  " master_link_status:" + nr.master_link_status + ")",
                              "NewMasterNotReplicating");
  }
  const std::string to_write = redis::MinReplicasToWriteName(caps);
  const std::string max_lag = redis::MinReplicasMaxLagName(caps);
  RUO_ASSIGN_OR_RETURN(std::string to_write_value, old_.ConfigGet(to_write));
  RUO_ASSIGN_OR_RETURN(std::string max_lag_value, old_.ConfigGet(max_lag));
  std::map<std::string, std::string> seal_originals;
  for (const auto& [name, value] : kSealConfig) {
    RUO_ASSIGN_OR_RETURN(std::string original, old_.ConfigGet(std::string(name)));
    seal_originals[redis::ConfigNameFor(caps, name)] = original;
  }

  record.attempt++;
  record.old_master = old_.endpoint().ToString();
  record.new_master = new_.endpoint().ToString();
  record.source_version = old_.version().ToString();
  record.block_method = std::string(MethodFor(caps));
  record.saved_config.clear();
  record.saved_config[to_write] = to_write_value;
  // The fence counts only replicas within max-lag, and max-lag 0 turns it off.
  if (max_lag_value == "0") record.saved_config[max_lag] = max_lag_value;
  // The seal changes these; undo puts the source's own values back.
  record.saved_config.insert(seal_originals.begin(), seal_originals.end());
  record.fence_offset = record.promoted_offset = record.sealed_offset = -1;
  record.write_blocked_ms = -1;
  record.clients_killed = 0;
  record.replication_source = redis::Endpoint{nr.master_host, nr.master_port}.ToString();
  // Kept for a resumed finish to recognise the servers (Finish).
  record.source_run_id = opts_.expected_source_run_id;
  record.promoted_replid.clear();
  record.resume_notice.clear();

  // Stored now so that an undo after a crash inside the window (whose steps
  // are only noted) can still tell how long writes were blocked.
  record.block_started_unix_ms = UnixMs(clock_);
  // Nothing was changed yet if this save fails.
  RUO_RETURN_IF_ERROR(Save(record, SwitchStep::kBlocking));
  auto outcome =
      Attempt(record, move_traffic, old_info.replication.connected_slaves + kFenceMargin);
  if (!outcome.ok() && BeforeVerified(record.step)) {
    // Never leave the old master blocked while we can still reach it.
    Status undo = Undo(record, outcome.status().message());
    if (!undo.ok()) spdlog::error("switch: undo after failure failed too: {}", undo.ToString());
  }
  return outcome;
}

StatusOr<SwitchOutcome> SwitchProtocol::Attempt(SwitchRecord& record,
                                                const TrafficMover& move_traffic,
                                                int64_t fence_threshold) {
  const redis::Capabilities& caps = old_.caps();
  const std::string_view method = record.block_method;
  const std::string to_write = redis::MinReplicasToWriteName(caps);
  const std::string max_lag = redis::MinReplicasMaxLagName(caps);
  const int64_t overhead = caps.multi_offset_overhead;

  // The fence: min-*-to-write above every replica, and max-lag > 0.
  std::vector<std::pair<std::string, std::string>> fence = {
      {to_write, std::to_string(fence_threshold)}};
  if (record.saved_config.count(max_lag)) fence.emplace_back(max_lag, kFenceMaxLag);

  // Block writes and read T.
  const TimePoint block_start = clock_.Monotonic();
  record.block_started_unix_ms = UnixMs(clock_);
  const bool check_run_id = !opts_.expected_source_run_id.empty();
  int64_t t = -1;
  std::string run_id;
  if (method == kPauseWrite) {
    RUO_RETURN_IF_ERROR(old_.ClientPause(opts_.max_read_only, /*write_only=*/true));
    if (check_run_id) {
      RUO_ASSIGN_OR_RETURN(redis::Info server, old_.GetInfo("server"));
      run_id = server.server.run_id;
    }
    RUO_ASSIGN_OR_RETURN(redis::Info info, old_.GetInfo("replication"));
    t = info.replication.master_repl_offset;
  } else {
    // One transaction: fence, (pause), offset at the same instant.
    std::vector<std::vector<std::string>> cmds;
    for (const auto& [name, value] : fence) cmds.push_back(old_.ConfigSetArgv(name, value));
    if (method == kMultiFencePause) {
      cmds.push_back({"CLIENT", "PAUSE", std::to_string(opts_.legacy_pause.count())});
    }
    // The run_id in the same instant as T. INFO server adds no offset the
    // INFO replication after it would not add anyway (see overhead).
    if (check_run_id) cmds.push_back({"INFO", "server"});
    cmds.push_back({"INFO", "replication"});
    const size_t infos = check_run_id ? 2 : 1;
    RUO_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, old_.Transaction(cmds));
    if (replies.size() != cmds.size()) {
      return Internal("blocking transaction returned " + std::to_string(replies.size()) +
                          " replies for " + std::to_string(cmds.size()) + " commands",
                      "UnexpectedReply");
    }
    for (size_t i = 0; i + infos < replies.size(); ++i) {
      RUO_RETURN_IF_ERROR(ExpectOk(replies[i], "blocking writes: " + cmds[i][0]));
    }
    if (check_run_id) {
      RUO_ASSIGN_OR_RETURN(redis::Info server,
                           InfoFrom(replies[replies.size() - 2], "blocking writes"));
      run_id = server.server.run_id;
    }
    RUO_ASSIGN_OR_RETURN(redis::Info info, InfoFrom(replies.back(), "blocking writes"));
    t = info.replication.master_repl_offset;
  }
  // A server that reports no run_id gives nothing to compare (as in the sync).
  if (check_run_id && !run_id.empty() && run_id != opts_.expected_source_run_id) {
    return SourceRestarted(record, run_id, block_start);
  }
  record.fence_offset = t;
  RUO_RETURN_IF_ERROR(Note(record, SwitchStep::kBlocked));
  spdlog::info("switch: writes blocked attempt={} method={} fence_offset={}", record.attempt,
               method, t);

  // Catch up, bounded by max_read_only from the block.
  const TimePoint deadline = block_start + opts_.max_read_only;
  const int64_t wanted = t - overhead;
  int64_t n = -1;
  while (true) {
    RUO_ASSIGN_OR_RETURN(redis::Info info, new_.GetInfo("replication"));
    n = info.replication.slave_repl_offset;
    if (n >= wanted) break;
    if (clock_.Monotonic() >= deadline) {
      RUO_RETURN_IF_ERROR(Release(record,
                                  "catch-up timed out after " +
                                      std::to_string(MsSince(clock_, block_start)) +
                                      " ms: new master at offset " + std::to_string(n) +
                                      ", needed " + std::to_string(wanted),
                                  block_start));
      return SwitchOutcome::kReleased;
    }
    clock_.SleepFor(opts_.poll_interval);
  }

  // 6.2+: fence now too, so the old master refuses writes even if the pause expires.
  if (method == kPauseWrite) {
    for (const auto& [name, value] : fence) RUO_RETURN_IF_ERROR(old_.ConfigSet(name, value));
  }

  // Promote, reading N atomically with it.
  RUO_RETURN_IF_ERROR(Note(record, SwitchStep::kPromoting));
  {
    RUO_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                         new_.Transaction({{"INFO", "replication"}, {"SLAVEOF", "NO", "ONE"}}));
    if (replies.size() != 2) return Internal("promotion: unexpected EXEC reply", "UnexpectedReply");
    RUO_RETURN_IF_ERROR(ExpectOk(replies[1], "promotion: SLAVEOF NO ONE"));
    RUO_ASSIGN_OR_RETURN(redis::Info info, InfoFrom(replies[0], "promotion"));
    record.promoted_offset = info.replication.slave_repl_offset;
    // Before SLAVEOF NO ONE: the id it shares with the old master, which the
    // promotion moves to master_replid2 (empty on 2.8).
    record.promoted_replid = info.replication.master_replid;
  }
  RUO_RETURN_IF_ERROR(Note(record, SwitchStep::kPromoted));

  // Seal the old master, reading S atomically with it (2.8 resets offsets after SLAVEOF).
  // The same transaction enforces the replica settings and closes every client:
  // none can write to, read stale data from, or EXEC a transaction queued
  // before it on the sealed master (2.8 would run it there and answer OK).
  RUO_RETURN_IF_ERROR(Note(record, SwitchStep::kSealing));
  {
    std::vector<std::vector<std::string>> cmds = {{"INFO", "replication"}};
    for (auto& c : SealCommands()) cmds.push_back(std::move(c));
    RUO_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, old_.Transaction(cmds));
    if (replies.size() != cmds.size()) {
      return Internal("seal: unexpected EXEC reply", "UnexpectedReply");
    }
    for (size_t i = 1; i < replies.size(); ++i) {
      RUO_RETURN_IF_ERROR(ExpectOk(replies[i], "seal: " + cmds[i][0]));
    }
    RUO_ASSIGN_OR_RETURN(redis::Info info, InfoFrom(replies[0], "seal"));
    record.sealed_offset = info.replication.master_repl_offset;
    if (caps.client_kill_type) {
      record.clients_killed += KilledIn(replies, redis::Admin::KillClientsArgv().size());
    }
  }
  RUO_RETURN_IF_ERROR(Note(record, SwitchStep::kSealed));

  // Verify: every byte the old master acknowledged is on the new one.
  const int64_t s = record.sealed_offset;
  if (record.promoted_offset < s - overhead) {
    const std::string why = "verification failed: new master promoted at offset " +
                            std::to_string(record.promoted_offset) + ", old master sealed at " +
                            std::to_string(s) + " (overhead " + std::to_string(overhead) +
                            "); bytes were in flight";
    RUO_RETURN_IF_ERROR(Undo(record, why));
    return SwitchOutcome::kReleased;
  }
  RUO_RETURN_IF_ERROR(Save(record, SwitchStep::kVerified));
  spdlog::info("switch: verified promoted_offset={} sealed_offset={} overhead={}",
               record.promoted_offset, s, overhead);
  return Finish(record, move_traffic, block_start);
}

Status SwitchProtocol::Release(SwitchRecord& record, const std::string& why,
                               TimePoint block_start) {
  spdlog::warn("switch: releasing writes attempt={}: {}", record.attempt, why);
  if (record.block_method == kPauseWrite) {
    // The fence is not set yet on this path; only the pause is.
    RUO_RETURN_IF_ERROR(old_.ClientUnpause());
  } else {
    // On 3.0–6.0 this waits behind the (short) pause, which ends by itself.
    // Only the fence was set: the seal's settings were not touched yet.
    std::map<std::string, std::string> fence;
    for (const auto& [name, value] : record.saved_config) {
      if (!IsSealConfig(old_.caps(), name)) fence[name] = value;
    }
    RUO_RETURN_IF_ERROR(RestoreConfig(old_, fence));
  }
  record.write_blocked_ms = MsSince(clock_, block_start);
  record.last_error = why;
  return Save(record, SwitchStep::kIdle);
}

Status SwitchProtocol::SourceRestarted(SwitchRecord& record, const std::string& run_id,
                                       TimePoint block_start) {
  const std::string why = "the old master " + old_.endpoint().ToString() +
                          " restarted since the sync was checked (run_id " +
                          opts_.expected_source_run_id + " is now " + run_id +
                          "): the new master may have synced a server that lost data; "
                          "writes released, the new master was not promoted";
  RUO_RETURN_IF_ERROR(Release(record, why, block_start));
  return FailedPrecondition(why, "SourceLost");
}

std::vector<std::vector<std::string>> SwitchProtocol::SealCommands() const {
  std::vector<std::vector<std::string>> cmds;
  for (const auto& [name, value] : kSealConfig) {
    cmds.push_back(old_.ConfigSetArgv(std::string(name), std::string(value)));
  }
  cmds.push_back(old_.ReplicaOfArgv(opts_.seal_address));
  if (old_.caps().client_kill_type) {
    for (auto& c : redis::Admin::KillClientsArgv()) cmds.push_back(std::move(c));
  }
  return cmds;
}

Status SwitchProtocol::Undo(SwitchRecord& record, const std::string& why) {
  if (record.step == SwitchStep::kIdle) return Status::Ok();
  if (!BeforeVerified(record.step)) {
    return FailedPrecondition("cannot undo a switch at step " +
                                  std::string(SwitchStepName(record.step)) +
                                  ": it passed the point of no return",
                              "PastPointOfNoReturn");
  }
  spdlog::warn("switch: undoing attempt={} from step={}: {}", record.attempt,
               SwitchStepName(record.step), why);
  record.last_error = why;
  // Undo is idempotent and the stored record already calls for it, so a failed
  // save does not stop it: leaving the old master blocked would be worse.
  if (Status s = Save(record, SwitchStep::kUndoing); !s.ok()) {
    spdlog::error("switch: {}; undoing anyway", s.ToString());
  }

  // Old master: a writable master again, its settings restored.
  RUO_ASSIGN_OR_RETURN(redis::Info oi, old_.GetInfo("replication"));
  if (oi.replication.role == "slave") RUO_RETURN_IF_ERROR(old_.ReplicaOfNoOne());
  RUO_RETURN_IF_ERROR(RestoreConfig(old_, record.saved_config));
  if (old_.caps().client_pause_write) RUO_RETURN_IF_ERROR(old_.ClientUnpause());

  // New master: a replica of the old one again.
  redis::Endpoint upstream = old_.endpoint();
  if (!record.replication_source.empty()) {
    auto parsed = redis::Endpoint::Parse(record.replication_source);
    if (parsed.ok()) upstream = *parsed;
  }
  RUO_ASSIGN_OR_RETURN(redis::Info ni, new_.GetInfo("replication"));
  if (!ReplicatesFrom(ni.replication, upstream)) RUO_RETURN_IF_ERROR(new_.ReplicaOf(upstream));

  if (record.block_started_unix_ms > 0 && record.write_blocked_ms < 0) {
    record.write_blocked_ms = UnixMs(clock_) - record.block_started_unix_ms;
  }
  return Save(record, SwitchStep::kIdle);
}

StatusOr<SwitchOutcome> SwitchProtocol::Resume(SwitchRecord& record,
                                               const TrafficMover& move_traffic) {
  switch (record.step) {
    case SwitchStep::kIdle:
      return SwitchOutcome::kReleased;
    case SwitchStep::kCompleted:
      return SwitchOutcome::kCompleted;
    case SwitchStep::kVerified:
    case SwitchStep::kTrafficMoved:
      spdlog::info("switch: resuming attempt={} at step={}: finishing", record.attempt,
                   SwitchStepName(record.step));
      return Finish(record, move_traffic, std::nullopt);
    default: {
      RUO_RETURN_IF_ERROR(
          Undo(record, "attempt " + std::to_string(record.attempt) + " was interrupted at step " +
                           std::string(SwitchStepName(record.step)) + "; undone on resume"));
      return SwitchOutcome::kReleased;
    }
  }
}

StatusOr<bool> SwitchProtocol::ProveResumedFinish(SwitchRecord& record) {
  const std::string step(SwitchStepName(record.step));
  const std::string new_ep = new_.endpoint().ToString();
  const std::string old_ep = old_.endpoint().ToString();
  auto cannot = [&](const std::string& why) {
    return FailedPrecondition(
        "cannot finish the switch from step " + step + ": " + why + "; nothing was changed",
        "CannotProveFinish");
  };
  redis::Endpoint upstream = old_.endpoint();
  if (!record.replication_source.empty()) {
    auto parsed = redis::Endpoint::Parse(record.replication_source);
    if (parsed.ok()) upstream = *parsed;
  }

  RUO_ASSIGN_OR_RETURN(redis::Info ni, new_.GetInfo("replication"));
  const redis::ReplicationInfo& nr = ni.replication;
  if (nr.role != "master") {
    // Never promoted blindly: a replica now was made one after the promotion.
    if (!ReplicatesFrom(nr, upstream)) {
      return cannot("the new master " + new_ep + " is a replica of " + nr.master_host + ":" +
                    std::to_string(nr.master_port) + ", not of " + upstream.ToString());
    }
    auto oi = old_.GetInfo("replication");
    if (!oi.ok()) {
      return cannot("the new master " + new_ep + " replicates " + upstream.ToString() +
                    " again and the old master is unreachable (" + oi.status().message() + ")");
    }
    if (oi->replication.role != "master") {
      return cannot("the new master " + new_ep + " replicates " + upstream.ToString() +
                    " again but the old master is not a master (role:" + oi->replication.role +
                    ")");
    }
    // The attempt was undone after its Verified write was stored (a write
    // whose reply was lost): the old master took writes since, and the new
    // master's own data already yields to it. Completing the undo loses
    // nothing; promoting would lose those writes.
    const std::string why =
        "VerifiedNotFinished: the record said " + step + ", but the new master " + new_ep +
        " replicates " + upstream.ToString() + " again and the old master is a writable master " +
        "(offset " + std::to_string(oi->replication.master_repl_offset) + ", sealed at " +
        std::to_string(record.sealed_offset) +
        "): the attempt was undone after the Verified record was stored; the undo is completed "
        "and the switch retried, the new master was not promoted";
    record.step = SwitchStep::kUndoing;  // Undo saves it before any change
    RUO_RETURN_IF_ERROR(Undo(record, why));
    return false;
  }
  // The promotion moved the recorded id to master_replid2: a restart, a resync
  // or another promotion since would have replaced it. 2.8 has no ids (and
  // records from before the field existed lack it): its role is all we know.
  if (!record.promoted_replid.empty() && nr.master_replid2 != record.promoted_replid) {
    return cannot("the new master " + new_ep + " is a master but not the one promoted at offset " +
                  std::to_string(record.promoted_offset) + " (master_replid2 " +
                  (nr.master_replid2.empty() ? "empty" : nr.master_replid2) + ", expected " +
                  record.promoted_replid + ", master_replid " + nr.master_replid +
                  "): it restarted, resynced or was promoted again since");
  }

  auto oi = old_.GetInfo("replication");
  if (!oi.ok()) {
    // A master that is down takes no writes; finishing must not wait for it.
    spdlog::warn("switch: old master unreachable while finishing: {}", oi.status().ToString());
    return true;
  }
  if (oi->replication.role != "master") return true;  // sealed: takes no writes

  // A master again: the seal lives only in memory, so a restart drops it, and
  // so does a SLAVEOF NO ONE (an undo that stopped half-way, or a person).
  // Writes it acknowledged since are on it alone.
  RUO_ASSIGN_OR_RETURN(redis::Info si, old_.GetInfo("server"));
  const std::string& run_id = si.server.run_id;
  const bool restarted =
      !record.source_run_id.empty() && !run_id.empty() && run_id != record.source_run_id;
  const std::string reason = restarted ? "OldMasterRestarted" : "OldMasterUnsealed";
  const std::string what =
      "the old master " + old_ep + " is a writable master again" +
      (restarted ? " (it restarted: run_id " + record.source_run_id + " is now " + run_id + ")"
                 : " (same run_id: someone ran SLAVEOF NO ONE on it)") +
      ", offset " + std::to_string(oi->replication.master_repl_offset) + ", sealed at " +
      std::to_string(record.sealed_offset);
  if (record.step == SwitchStep::kVerified) {
    // Clients may still be on it (the mover has not been recorded): any write it
    // took since its seal is missing on the new master, and undoing would drop
    // what the new master holds. A person decides; both stay as they are.
    return FailedPrecondition("cannot finish the switch from step Verified: " + what +
                                  "; it may hold acknowledged writes the new master " + new_ep +
                                  " lacks; left writable, nothing was changed",
                              reason);
  }
  // kTrafficMoved: clients were moved to the new master. The seal keeps the
  // old master's data (it never syncs from the seal address), so what it took
  // since stays readable there; it must not take more.
  auto replies = old_.Transaction(SealCommands());
  Status s = replies.status();
  if (s.ok()) {
    for (const redis::Reply& r : *replies) {
      if (r.IsError()) s = Internal("resealing: " + r.str, "CommandFailed");
    }
  }
  if (!s.ok()) return s.Annotate("resealing the old master " + old_ep);
  if (old_.caps().client_kill_type) {
    record.clients_killed += KilledIn(*replies, redis::Admin::KillClientsArgv().size());
  }
  record.resume_notice = reason + ": " + what +
                         "; resealed: writes it acknowledged after losing its seal are on it, "
                         "not on the new master " +
                         new_ep;
  spdlog::warn("switch: {}", record.resume_notice);
  return true;
}

StatusOr<SwitchOutcome> SwitchProtocol::Finish(SwitchRecord& record,
                                               const TrafficMover& move_traffic,
                                               std::optional<TimePoint> block_start) {
  if (!block_start) {
    // A restarted process: finish only what both servers prove is still true.
    RUO_ASSIGN_OR_RETURN(bool finish, ProveResumedFinish(record));
    if (!finish) return SwitchOutcome::kReleased;
  }

  RepointReplicas();

  if (move_traffic) {
    Status s = move_traffic();
    if (!s.ok()) return s.Annotate("moving traffic to the new master");
  }
  if (record.step == SwitchStep::kVerified) {
    record.write_blocked_ms =
        block_start ? MsSince(clock_, *block_start) : UnixMs(clock_) - record.block_started_unix_ms;
    RUO_RETURN_IF_ERROR(Save(record, SwitchStep::kTrafficMoved));
  }

  const ClientKillReport kills = KillClients();
  record.clients_killed += kills.killed;
  if (kills.settled == false && kills.kill_error.empty()) {
    // Stored with Completed: finishing was safe (the old master is sealed),
    // but some client may have stayed on it.
    record.last_error =
        "old clients were still being closed when client_kill_max (" +
        std::to_string(opts_.client_kill_max.count()) +
        " ms) ran out: traffic had not left the old master" +
        (kills.last_predicate_error.empty() ? std::string()
                                            : " (last check: " + kills.last_predicate_error + ")");
  }
  if (old_.caps().client_pause_write) {
    // Clients still waiting now meet the seal (-READONLY): never acknowledged.
    Status s = old_.ClientUnpause();
    if (!s.ok()) spdlog::warn("switch: CLIENT UNPAUSE on the old master: {}", s.ToString());
  }
  RUO_RETURN_IF_ERROR(Save(record, SwitchStep::kCompleted));
  spdlog::info("switch: completed attempt={} write_blocked_ms={} clients_killed={}", record.attempt,
               record.write_blocked_ms, record.clients_killed);
  return SwitchOutcome::kCompleted;
}

void SwitchProtocol::RepointReplicas() {
  for (redis::Admin* r : replicas_) {
    auto info = r->GetInfo("replication");
    if (!info.ok()) {
      spdlog::warn("switch: new replica {} unreachable: {}", r->endpoint().ToString(),
                   info.status().ToString());
      continue;
    }
    const auto& ri = info->replication;
    if (ri.role == "slave" && ri.master_link_status == "up") continue;
    Status s = r->ReplicaOf(new_.endpoint());
    if (!s.ok()) {
      spdlog::warn("switch: re-pointing replica {} failed: {}", r->endpoint().ToString(),
                   s.ToString());
    }
  }
}

ClientKillReport SwitchProtocol::KillClients() {
  ClientKillReport report;
  if (!old_.caps().client_kill_type) return report;
  // Established connections outlive a Service selector change, and new ones
  // reach the old master until the data path follows: close them repeatedly
  // so pooled clients reconnect through the Service.
  const TimePoint start = clock_.Monotonic();
  const auto elapsed = [&] { return clock_.Monotonic() - start; };
  const auto kill = [&] {
    // Lines whose sealed replica refuses CLIENT get serve-stale-data lifted
    // around it (Admin::KillClients).
    auto n = old_.KillClients(/*lift_stale_refusal=*/!old_.caps().client_ok_stale);
    report.took = duration_cast<milliseconds>(elapsed());
    if (!n.ok()) {
      // An old master that is gone has no clients left to close.
      report.kill_error = n.status().ToString();
      spdlog::warn("switch: CLIENT KILL on the old master: {}", report.kill_error);
      return false;
    }
    report.rounds++;
    report.killed += *n;
    return true;
  };
  const auto sleep_until = [&](std::chrono::steady_clock::duration at) {
    if (elapsed() < at) clock_.SleepFor(at - elapsed());
  };

  bool alive = kill();
  if (!opts_.traffic_settled) {
    while (alive && elapsed() < opts_.client_kill_grace) {
      clock_.SleepFor(opts_.client_kill_interval);
      alive = kill();
    }
  } else {
    report.settled = false;
    while (alive) {
      auto settled = opts_.traffic_settled();
      if (!settled.ok()) {
        // Transient (an API call): keep killing and ask again.
        if (report.predicate_errors++ == 0) {
          spdlog::warn("switch: checking whether traffic left the old master: {}",
                       settled.status().ToString());
        }
        report.last_predicate_error = settled.status().ToString();
      } else if (*settled) {
        report.settled = true;
        break;
      }
      if (elapsed() >= opts_.client_kill_max) break;
      sleep_until(std::min<std::chrono::steady_clock::duration>(
          elapsed() + opts_.client_kill_interval, opts_.client_kill_max));
      alive = kill();
    }
    if (alive && *report.settled) {
      // Connections made between the last kill and the settling; no sooner
      // than client_kill_min, so a predicate true at once still gets two kills.
      sleep_until(std::max<std::chrono::steady_clock::duration>(
          elapsed() + opts_.client_kill_interval, opts_.client_kill_min));
      kill();
    } else if (alive) {
      spdlog::warn(
          "switch: traffic had not left the old master after {} ms of CLIENT KILL "
          "(client_kill_max); finishing anyway: the old master is sealed and acknowledges no "
          "write",
          report.took.count());
    }
  }
  spdlog::info("switch: closed {} old client connection(s) in {} round(s) over {} ms{}",
               report.killed, report.rounds, report.took.count(),
               !report.settled   ? ""
               : *report.settled ? ", traffic settled"
                                 : ", traffic not settled");
  if (opts_.on_clients_closed) opts_.on_clients_closed(report);
  return report;
}

}  // namespace ruo::engine
