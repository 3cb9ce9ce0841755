#include "engine/precheck.h"

#include <algorithm>
#include <cstdio>

#include "redis/capabilities.h"

namespace ruo::engine {
namespace {

// "268435456 bytes (256.0 MiB)": exact figure plus a readable one.
std::string Bytes(int64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%lld bytes (%.1f MiB)", static_cast<long long>(n),
                static_cast<double>(n) / (1024.0 * 1024.0));
  return buf;
}

Refusal Refuse(std::string reason, std::string message) {
  return Refusal{std::move(reason), std::move(message)};
}

// The version the target will run: the target server's own when it exists,
// otherwise the requested one (which may name a release line only).
std::optional<redis::Version> EffectiveTarget(const PrecheckInput& in) {
  if (in.target) return in.target->server.version;
  return in.requested_target;
}

}  // namespace

std::optional<Refusal> CheckSourceIsMaster(const PrecheckInput& in) {
  const auto& repl = in.source.replication;
  if (repl.role == "master") return std::nullopt;
  std::string msg = "the source is not a master (role:" + repl.role + ")";
  if (!repl.master_host.empty()) {
    msg += "; it replicates " + repl.master_host + ":" + std::to_string(repl.master_port);
  }
  return Refuse("NotAMaster", msg + "; point the upgrade at the master");
}

std::optional<Refusal> CheckNotClusterMode(const PrecheckInput& in) {
  if (!in.source.cluster_enabled && in.source.server.redis_mode != "cluster") return std::nullopt;
  return Refuse("ClusterModeNotSupported",
                "the source runs Redis Cluster (cluster_enabled:1); only standalone instances "
                "can be upgraded");
}

std::optional<Refusal> CheckNoBackgroundSave(const PrecheckInput& in) {
  const auto& p = in.source.persistence;
  // A full sync needs a fork of its own; these would compete with it (or, for
  // loading, the data set is not there yet).
  if (p.rdb_bgsave_in_progress) {
    return Refuse("SourceBusy",
                  "the source is running a BGSAVE (rdb_bgsave_in_progress:1); retry "
                  "when it has finished");
  }
  if (p.aof_rewrite_in_progress) {
    return Refuse("SourceBusy",
                  "the source is rewriting its AOF (aof_rewrite_in_progress:1); "
                  "retry when it has finished");
  }
  if (p.loading) {
    return Refuse("SourceBusy", "the source is still loading its data set (loading:1)");
  }
  return std::nullopt;
}

std::optional<Refusal> CheckSupportedVersions(const PrecheckInput& in) {
  const auto& src = in.source.server;
  const std::string supported = "; this operator supports Redis " + redis::SupportedVersionsText();
  if (!redis::IsSupportedVersion(src.version)) {
    return Refuse("UnsupportedVersion", "the source runs Redis " + src.redis_version + supported);
  }
  if (in.target && !redis::IsSupportedVersion(in.target->server.version)) {
    return Refuse("UnsupportedVersion",
                  "the target runs Redis " + in.target->server.redis_version + supported);
  }
  if (in.requested_target && !redis::IsSupportedVersion(*in.requested_target)) {
    return Refuse("UnsupportedVersion", "the requested target version " +
                                            in.requested_target->ToString() + " is not supported" +
                                            supported);
  }
  return std::nullopt;
}

std::optional<Refusal> CheckClientKillSupported(const PrecheckInput& in) {
  const redis::Version& v = in.source.server.version;
  if (!redis::IsSupportedVersion(v) || redis::CapabilitiesFor(v).client_kill_type) {
    return std::nullopt;
  }
  return Refuse("ClientKillUnsupported",
                "the source runs Redis " + v.ToString() +
                    ", which lacks CLIENT KILL TYPE (2.8.12+): the switch closes every client "
                    "of the old master with it, in the same transaction as the seal, so that "
                    "none can write to it afterwards; upgrade the source in place to 2.8.12 or "
                    "later of the 2.8 line first (same data files)");
}

std::vector<std::string> UncheckedVersionWarnings(const PrecheckInput& in) {
  std::vector<std::string> out;
  auto add = [&](const redis::Version& v, std::string_view what) {
    std::string w = redis::UncheckedVersionWarning(v, what);
    if (!w.empty()) out.push_back(std::move(w));
  };
  add(in.source.server.version, "the source's Redis");
  if (std::optional<redis::Version> t = EffectiveTarget(in)) add(*t, "the target's Redis");
  return out;
}

std::optional<Refusal> CheckVersionOrder(const PrecheckInput& in) {
  const redis::Version& src = in.source.server.version;
  std::optional<redis::Version> tgt = EffectiveTarget(in);
  if (!tgt) return std::nullopt;
  const std::string figures = "source " + src.ToString() + ", target " + tgt->ToString();
  // A bare release line ("7.0") is compared by line only: it may resolve to any patch.
  const bool line_only = !tgt->has_patch;
  const bool lower =
      line_only ? (tgt->major < src.major || (tgt->major == src.major && tgt->minor < src.minor))
                : *tgt < src;
  if (lower) {
    return Refuse("DowngradeRefused",
                  "a downgrade is never allowed (" + figures +
                      "): an older server cannot read a newer one's data, so there is no way back");
  }
  const bool same = line_only ? tgt->SameLine(src) : (*tgt <=> src) == 0;
  if (same && !in.allow_same_version) {
    return Refuse("SameVersionRefused",
                  "the target is the same version as the source (" + figures +
                      "); set allowSameVersion to re-provision without a version change");
  }
  return std::nullopt;
}

std::optional<Refusal> CheckTargetMatchesRequested(const PrecheckInput& in) {
  if (!in.requested_target || !in.target) return std::nullopt;
  if (in.requested_target->MatchedBy(in.target->server.version)) return std::nullopt;
  return Refuse("TargetVersionMismatch",
                "the target server runs " + in.target->server.version.ToString() + " but version " +
                    in.requested_target->ToString() + " was requested");
}

std::optional<Refusal> CheckForkHeadroom(const PrecheckInput& in) {
  if (in.source_memory_limit_bytes <= 0) return std::nullopt;
  const auto& m = in.source.memory;
  const bool rss = m.used_memory_rss > 0;
  const int64_t used = rss ? m.used_memory_rss : m.used_memory;
  if (used * 2 <= in.source_memory_limit_bytes) return std::nullopt;
  return Refuse("InsufficientMemory",
                std::string("the source uses ") + Bytes(used) + (rss ? " (RSS)" : "") +
                    "; a full sync forks it and copy-on-write under writes can need up to " +
                    Bytes(used * 2) + ", more than its memory limit of " +
                    Bytes(in.source_memory_limit_bytes));
}

std::optional<Refusal> CheckTargetMemory(const PrecheckInput& in) {
  const int64_t used = in.source.memory.used_memory;
  if (in.target_memory_limit_bytes <= 0 || in.target_memory_limit_bytes >= used) {
    return std::nullopt;
  }
  return Refuse("TargetMemoryTooSmall", "the target's memory limit of " +
                                            Bytes(in.target_memory_limit_bytes) +
                                            " is below the source's used_memory of " + Bytes(used));
}

std::optional<Refusal> CheckTargetIsEmptyOrReplica(const PrecheckInput& in) {
  if (!in.target) return std::nullopt;
  const auto& repl = in.target->replication;
  const int64_t keys = in.target->TotalKeys();
  if (repl.role == "slave") {
    const bool of_source =
        !in.source_as_seen_by_target || (repl.master_host == in.source_as_seen_by_target->host &&
                                         repl.master_port == in.source_as_seen_by_target->port);
    // Already replicating this source: an upgrade being resumed.
    if (of_source || keys == 0) return std::nullopt;
    return Refuse("TargetNotEmpty", "the target holds " + std::to_string(keys) +
                                        " keys and replicates " + repl.master_host + ":" +
                                        std::to_string(repl.master_port) +
                                        ", not the source; a full sync would discard them");
  }
  if (keys == 0) return std::nullopt;
  return Refuse("TargetNotEmpty", "the target holds " + std::to_string(keys) +
                                      " keys; a full sync would discard them, so it must be "
                                      "empty");
}

std::optional<Refusal> CheckTargetIsNotSource(const PrecheckInput& in) {
  if (!in.target || in.source.server.run_id.empty()) return std::nullopt;
  if (in.target->server.run_id != in.source.server.run_id) return std::nullopt;
  return Refuse("TargetIsSource", "the source and the target are the same server (run_id " +
                                      in.source.server.run_id + ")");
}

const std::vector<PrecheckPolicy>& DefaultPrechecks() {
  static const std::vector<PrecheckPolicy> chain = {
      CheckSourceIsMaster,   CheckNotClusterMode,         CheckTargetIsNotSource,
      CheckNoBackgroundSave, CheckSupportedVersions,      CheckClientKillSupported,
      CheckVersionOrder,     CheckTargetMatchesRequested, CheckForkHeadroom,
      CheckTargetMemory,     CheckTargetIsEmptyOrReplica,
  };
  return chain;
}

const std::vector<PrecheckPolicy>& RefusalPrechecks() {
  static const std::vector<PrecheckPolicy> chain = {
      CheckSourceIsMaster,         CheckNotClusterMode,      CheckTargetIsNotSource,
      CheckSupportedVersions,      CheckClientKillSupported, CheckVersionOrder,
      CheckTargetMatchesRequested, CheckForkHeadroom,        CheckTargetMemory,
      CheckTargetIsEmptyOrReplica,
  };
  return chain;
}

std::optional<Refusal> RunPrechecks(const PrecheckInput& in,
                                    const std::vector<PrecheckPolicy>& chain) {
  for (const auto& policy : chain) {
    if (auto refusal = policy(in)) return refusal;
  }
  return std::nullopt;
}

}  // namespace ruo::engine
