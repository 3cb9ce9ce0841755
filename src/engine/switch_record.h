// The switch protocol's state as plain data. It is persisted (the CR's status,
// or migrate's --state-file) BEFORE each change it describes is made, so a
// process killed at any instant can finish or undo from it. Steps between
// kBlocking and kVerified need no record of their own: undo from kBlocking
// checks each server's role and is idempotent, so it covers them all.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace ruo::engine {

enum class SwitchStep {
  kIdle,          // nothing changed on either server
  kBlocking,      // about to block writes on the old master (saved_config filled in)
  kBlocked,       // writes blocked; fence_offset known
  kPromoting,     // about to promote the new master
  kPromoted,      // new master promoted; promoted_offset known
  kSealing,       // about to seal the old master
  kSealed,        // old master sealed; sealed_offset known, not yet verified
  kVerified,      // new master holds every byte the old acknowledged: the point of no return
  kTrafficMoved,  // clients are pointed at the new master (Service selector / hook)
  kCompleted,     // clients killed, figures recorded
  kUndoing,       // rolling back an attempt (before kVerified only)
};

std::string_view SwitchStepName(SwitchStep s);
StatusOr<SwitchStep> ParseSwitchStep(std::string_view name);

struct SwitchRecord {
  int attempt = 0;  // attempts started (1-based once one starts)
  SwitchStep step = SwitchStep::kIdle;
  std::string old_master;      // host:port
  std::string new_master;      // host:port
  std::string source_version;  // as reported by the old master
  // Original values of every config changed on the old master, by real name,
  // recorded before the change; restored on undo.
  std::map<std::string, std::string> saved_config;
  std::string block_method;      // "pause-write" | "multi-fence-pause" | "fence"
  int64_t fence_offset = -1;     // old master offset when writes were blocked
  int64_t promoted_offset = -1;  // new master offset at promotion
  int64_t sealed_offset = -1;    // old master offset at the seal
  int64_t block_started_unix_ms = 0;
  int64_t write_blocked_ms = -1;  // from block to traffic moved / release
  int64_t clients_killed = 0;
  std::string last_error;  // why the last attempt was released (no secrets)
  // host:port the new master replicated from when the attempt started (as the new
  // master sees the old one); undo points it back there.
  std::string replication_source;
  // Identity, for a resumed finish to prove the servers are still the ones
  // verified (docs/switch-protocol.md, "Resume"). The old master's run_id as
  // the caller checked it (SwitchOptions::expected_source_run_id; empty when
  // not known).
  std::string source_run_id;
  // The new master's master_replid read atomically with its promotion (the
  // history it shared with the old master): after SLAVEOF NO ONE it is the
  // new master's master_replid2 until it restarts, resyncs or is promoted
  // again. Empty on 2.8, which has no replication ids.
  std::string promoted_replid;
  // What a resumed finish found and did that needs a person (e.g. the old
  // master resealed after it had restarted); empty normally.
  std::string resume_notice;

  nlohmann::json ToJson() const;
  static StatusOr<SwitchRecord> FromJson(const nlohmann::json& j);
};

// Where the record is persisted. Save must be durable when it returns OK; the
// protocol stops (and leaves undo to the next run) when Save fails.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual Status Save(const SwitchRecord& record) = 0;
  // A step inside the write-blocked window that the last Save already covers
  // (undo from it is the same). A sink may skip storing it: in Kubernetes each
  // store is an API write that would lengthen the window. Default: Save.
  virtual Status Note(const SwitchRecord& record) { return Save(record); }
};

}  // namespace ruo::engine
