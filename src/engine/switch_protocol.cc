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

StatusOr<SwitchOutcome> SwitchProtocol::Finish(SwitchRecord& record,
                                               const TrafficMover& move_traffic,
                                               std::optional<TimePoint> block_start) {
  if (!block_start) {
    // A restarted process: make sure the roles are what kVerified promised.
    RUO_ASSIGN_OR_RETURN(redis::Info ni, new_.GetInfo("replication"));
    if (ni.replication.role != "master") RUO_RETURN_IF_ERROR(new_.ReplicaOfNoOne());
    auto oi = old_.GetInfo("replication");
    if (!oi.ok()) {
      // A master that is down takes no writes; finishing must not wait for it.
      spdlog::warn("switch: old master unreachable while finishing: {}", oi.status().ToString());
    } else if (oi->replication.role == "master") {
      // It came back as a master (a restart drops the seal, which lives only in
      // memory, settings included): seal it again, whole.
      auto replies = old_.Transaction(SealCommands());
      Status s = replies.status();
      if (s.ok()) {
        for (const redis::Reply& r : *replies) {
          if (r.IsError()) s = Internal("resealing: " + r.str, "CommandFailed");
        }
      }
      if (!s.ok()) {
        spdlog::error("switch: resealing the old master failed: {}", s.ToString());
      } else if (old_.caps().client_kill_type) {
        record.clients_killed += KilledIn(*replies, redis::Admin::KillClientsArgv().size());
      }
    }
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

  record.clients_killed += KillClients();
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

int64_t SwitchProtocol::KillClients() {
  if (!old_.caps().client_kill_type) return 0;
  // Established connections outlive a Service selector change: close them
  // repeatedly so pooled clients reconnect through the Service.
  const TimePoint start = clock_.Monotonic();
  int64_t total = 0;
  while (true) {
    // Lines whose sealed replica refuses CLIENT get serve-stale-data lifted
    // around it (Admin::KillClients).
    auto n = old_.KillClients(/*lift_stale_refusal=*/!old_.caps().client_ok_stale);
    if (!n.ok()) {
      spdlog::warn("switch: CLIENT KILL on the old master: {}", n.status().ToString());
      break;
    }
    total += *n;
    if (clock_.Monotonic() - start >= opts_.client_kill_grace) break;
    clock_.SleepFor(opts_.client_kill_interval);
  }
  return total;
}

}  // namespace ruo::engine
