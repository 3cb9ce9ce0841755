// Pre-checks as a chain of small policy functions over plain data. Each returns
// nothing (pass) or a Refusal naming its reason; no I/O happens here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "redis/connection.h"
#include "redis/info.h"
#include "redis/version.h"

namespace ruo::engine {

struct Refusal {
  std::string reason;   // CamelCase, e.g. "DowngradeRefused"
  std::string message;  // one human sentence with the figures
};

struct PrecheckInput {
  redis::Info source;                              // INFO of the old master
  std::optional<redis::Info> target;               // INFO of the new master (when it exists yet)
  std::optional<redis::Version> requested_target;  // spec.targetVersion, when given
  bool allow_same_version = false;
  // Output-buffer/backlog settings as read from the source (CONFIG GET).
  int64_t replica_output_buffer_hard_bytes = 0;  // 0 = unlimited
  int64_t repl_backlog_size = 0;
  // Memory limit of the new pods / target maxmemory; 0 = unknown or unlimited.
  int64_t target_memory_limit_bytes = 0;
  // Host/container memory available to the source for the fork; 0 = unknown.
  int64_t source_memory_limit_bytes = 0;
  // How the target reaches the source, when known: a target that is a replica of
  // another address is not "resuming" this upgrade.
  std::optional<redis::Endpoint> source_as_seen_by_target;
};

using PrecheckPolicy = std::function<std::optional<Refusal>(const PrecheckInput&)>;

// Individual policies (exposed for tests); each names the reason it refuses with.
// NotAMaster
std::optional<Refusal> CheckSourceIsMaster(const PrecheckInput& in);
// ClusterModeNotSupported
std::optional<Refusal> CheckNotClusterMode(const PrecheckInput& in);
// SourceBusy (BGSAVE / AOF rewrite / loading)
std::optional<Refusal> CheckNoBackgroundSave(const PrecheckInput& in);
// UnsupportedVersion (older than 2.8)
std::optional<Refusal> CheckSupportedVersions(const PrecheckInput& in);
// ClientKillUnsupported (2.8.0–2.8.11: no CLIENT KILL TYPE for the seal)
std::optional<Refusal> CheckClientKillSupported(const PrecheckInput& in);
// DowngradeRefused | SameVersionRefused
std::optional<Refusal> CheckVersionOrder(const PrecheckInput& in);
// TargetVersionMismatch
std::optional<Refusal> CheckTargetMatchesRequested(const PrecheckInput& in);
// InsufficientMemory
std::optional<Refusal> CheckForkHeadroom(const PrecheckInput& in);
// TargetMemoryTooSmall
std::optional<Refusal> CheckTargetMemory(const PrecheckInput& in);
// TargetNotEmpty
std::optional<Refusal> CheckTargetIsEmptyOrReplica(const PrecheckInput& in);
// TargetIsSource (same run_id)
std::optional<Refusal> CheckTargetIsNotSource(const PrecheckInput& in);

// The default chain, in order; the first refusal wins.
const std::vector<PrecheckPolicy>& DefaultPrechecks();
// The default chain without CheckNoBackgroundSave: for callers that treat a
// busy source as a transient state to wait out rather than a refusal (the
// operator reports SourceBusy while it lasts and carries on after).
const std::vector<PrecheckPolicy>& RefusalPrechecks();
std::optional<Refusal> RunPrechecks(const PrecheckInput& in,
                                    const std::vector<PrecheckPolicy>& chain = DefaultPrechecks());

// Not refusals: a source or target newer than every release line the code was
// checked against is accepted with the rules of the newest line at or below it;
// these say so (empty when both versions are checked).
std::vector<std::string> UncheckedVersionWarnings(const PrecheckInput& in);

}  // namespace ruo::engine
