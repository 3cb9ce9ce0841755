#include "engine/switch_record.h"

#include <array>
#include <utility>

namespace ruo::engine {
namespace {

constexpr std::array<std::pair<SwitchStep, std::string_view>, 11> kStepNames = {{
    {SwitchStep::kIdle, "Idle"},
    {SwitchStep::kBlocking, "Blocking"},
    {SwitchStep::kBlocked, "Blocked"},
    {SwitchStep::kPromoting, "Promoting"},
    {SwitchStep::kPromoted, "Promoted"},
    {SwitchStep::kSealing, "Sealing"},
    {SwitchStep::kSealed, "Sealed"},
    {SwitchStep::kVerified, "Verified"},
    {SwitchStep::kTrafficMoved, "TrafficMoved"},
    {SwitchStep::kCompleted, "Completed"},
    {SwitchStep::kUndoing, "Undoing"},
}};

Status BadRecord(const std::string& what) {
  return InvalidArgument("switch record: " + what, "InvalidSwitchRecord");
}

}  // namespace

std::string_view SwitchStepName(SwitchStep s) {
  for (const auto& [step, name] : kStepNames) {
    if (step == s) return name;
  }
  return "Unknown";
}

StatusOr<SwitchStep> ParseSwitchStep(std::string_view name) {
  for (const auto& [step, n] : kStepNames) {
    if (n == name) return step;
  }
  return BadRecord("unknown step \"" + std::string(name) + "\"");
}

// camelCase keys: the record's main home is a Kubernetes status.
nlohmann::json SwitchRecord::ToJson() const {
  nlohmann::json j;
  j["attempt"] = attempt;
  j["step"] = std::string(SwitchStepName(step));
  j["oldMaster"] = old_master;
  j["newMaster"] = new_master;
  j["sourceVersion"] = source_version;
  j["savedConfig"] = saved_config;
  j["blockMethod"] = block_method;
  j["fenceOffset"] = fence_offset;
  j["promotedOffset"] = promoted_offset;
  j["sealedOffset"] = sealed_offset;
  j["blockStartedUnixMs"] = block_started_unix_ms;
  j["writeBlockedMs"] = write_blocked_ms;
  j["clientsKilled"] = clients_killed;
  j["lastError"] = last_error;
  j["replicationSource"] = replication_source;
  j["sourceRunId"] = source_run_id;
  j["promotedReplid"] = promoted_replid;
  j["resumeNotice"] = resume_notice;
  return j;
}

StatusOr<SwitchRecord> SwitchRecord::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return BadRecord("not a JSON object");
  SwitchRecord r;
  // nlohmann throws on type mismatches; this is a library edge.
  try {
    r.attempt = j.value("attempt", 0);
    auto step = ParseSwitchStep(j.value("step", std::string("Idle")));
    if (!step.ok()) return step.status();
    r.step = *step;
    r.old_master = j.value("oldMaster", std::string());
    r.new_master = j.value("newMaster", std::string());
    r.source_version = j.value("sourceVersion", std::string());
    if (j.contains("savedConfig") && !j.at("savedConfig").is_null()) {
      r.saved_config = j.at("savedConfig").get<std::map<std::string, std::string>>();
    }
    r.block_method = j.value("blockMethod", std::string());
    r.fence_offset = j.value("fenceOffset", int64_t{-1});
    r.promoted_offset = j.value("promotedOffset", int64_t{-1});
    r.sealed_offset = j.value("sealedOffset", int64_t{-1});
    r.block_started_unix_ms = j.value("blockStartedUnixMs", int64_t{0});
    r.write_blocked_ms = j.value("writeBlockedMs", int64_t{-1});
    r.clients_killed = j.value("clientsKilled", int64_t{0});
    r.last_error = j.value("lastError", std::string());
    r.replication_source = j.value("replicationSource", std::string());
    // Absent in records stored before they existed: a finish then proves less.
    r.source_run_id = j.value("sourceRunId", std::string());
    r.promoted_replid = j.value("promotedReplid", std::string());
    r.resume_notice = j.value("resumeNotice", std::string());
  } catch (const nlohmann::json::exception& e) {
    return BadRecord(e.what());
  }
  return r;
}

}  // namespace ruo::engine
