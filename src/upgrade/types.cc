#include "upgrade/types.h"

#include <algorithm>
#include <array>
#include <ctime>
#include <exception>

namespace ruo::upgrade {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<Phase, std::string_view>, 8> kPhaseNames{{
    {Phase::kPending, "Pending"},
    {Phase::kValidating, "Validating"},
    {Phase::kProvisioning, "Provisioning"},
    {Phase::kSyncing, "Syncing"},
    {Phase::kWaitingForSwitch, "WaitingForSwitch"},
    {Phase::kSwitching, "Switching"},
    {Phase::kCompleted, "Completed"},
    {Phase::kFailed, "Failed"},
}};

// Optional typed field access; a present field of the wrong type throws
// json::type_error, turned into InvalidSpec at the edge below.
template <typename T>
void Get(const json& obj, const char* key, T& out) {
  auto it = obj.find(key);
  if (it != obj.end() && !it->is_null()) out = it->get<T>();
}

template <typename T>
void GetOpt(const json& obj, const char* key, std::optional<T>& out) {
  auto it = obj.find(key);
  if (it != obj.end() && !it->is_null()) out = it->get<T>();
}

const json& Child(const json& obj, const char* key) {
  static const json kEmpty = json::object();
  auto it = obj.find(key);
  return (it != obj.end() && it->is_object()) ? *it : kEmpty;
}

}  // namespace

std::string_view PhaseName(Phase p) {
  for (const auto& [phase, name] : kPhaseNames) {
    if (phase == p) return name;
  }
  return "Unknown";
}

StatusOr<Phase> ParsePhase(std::string_view name) {
  if (name.empty()) return Phase::kPending;
  for (const auto& [phase, n] : kPhaseNames) {
    if (n == name) return phase;
  }
  return InvalidArgument("unknown phase \"" + std::string(name) + "\"", "InvalidStatus");
}

bool IsTerminal(Phase p) {
  return p == Phase::kCompleted || p == Phase::kFailed;
}

bool IsBeforeSwitch(Phase p) {
  return p == Phase::kPending || p == Phase::kValidating || p == Phase::kProvisioning ||
         p == Phase::kSyncing || p == Phase::kWaitingForSwitch;
}

bool RedisUpgrade::HasFinalizer() const {
  return std::find(finalizers.begin(), finalizers.end(), kFinalizer) != finalizers.end();
}

bool RedisUpgrade::SwitchNowRequested() const {
  auto it = annotations.find(kSwitchNowAnnotation);
  return it != annotations.end() && it->second == "true";
}

StatusOr<RedisUpgradeStatus> StatusFromJson(const json& j) {
  RedisUpgradeStatus s;
  if (!j.is_object()) return s;
  try {
    std::string phase;
    Get(j, "phase", phase);
    auto p = ParsePhase(phase);
    if (!p.ok()) return p.status();
    s.phase = *p;
    Get(j, "reason", s.reason);
    Get(j, "message", s.message);
    Get(j, "sourceVersion", s.source_version);
    Get(j, "targetVersion", s.target_version);
    Get(j, "oldMasterPod", s.old_master_pod);
    Get(j, "newStatefulSet", s.new_stateful_set);
    Get(j, "newMasterPod", s.new_master_pod);
    Get(j, "readService", s.read_service);
    Get(j, "originalSelector", s.original_selector);
    Get(j, "phaseTimes", s.phase_times);
    Get(j, "observedGeneration", s.observed_generation);
    const json& sync = Child(j, "sync");
    GetOpt(sync, "lagBytes", s.sync.lag_bytes);
    Get(sync, "masterLinkStatus", s.sync.master_link_status);
    Get(sync, "fullSyncDone", s.sync.full_sync_done);
    GetOpt(sync, "syncLeftBytes", s.sync.sync_left_bytes);
    Get(sync, "savedConfig", s.sync.saved_config);
    const json& sw = Child(j, "switch");
    Get(sw, "attempts", s.sw.attempts);
    Get(sw, "step", s.sw.step);
    Get(sw, "startedAt", s.sw.started_at);
    Get(sw, "completedAt", s.sw.completed_at);
    GetOpt(sw, "writeBlockedMillis", s.sw.write_blocked_millis);
    Get(sw, "lastError", s.sw.last_error);
    if (auto it = sw.find("record"); it != sw.end()) s.sw.record = *it;
    if (auto it = j.find("conditions"); it != j.end() && it->is_array()) {
      for (const auto& c : *it) {
        Condition cond;
        Get(c, "type", cond.type);
        Get(c, "status", cond.status);
        Get(c, "reason", cond.reason);
        Get(c, "message", cond.message);
        Get(c, "lastTransitionTime", cond.last_transition_time);
        Get(c, "observedGeneration", cond.observed_generation);
        s.conditions.push_back(std::move(cond));
      }
    }
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("status: ") + e.what(), "InvalidStatus");
  }
  return s;
}

StatusOr<RedisUpgrade> RedisUpgradeFromJson(const json& obj) {
  RedisUpgrade u;
  try {
    const json& md = Child(obj, "metadata");
    Get(md, "name", u.name);
    Get(md, "namespace", u.ns);
    Get(md, "uid", u.uid);
    Get(md, "resourceVersion", u.resource_version);
    Get(md, "generation", u.generation);
    Get(md, "annotations", u.annotations);
    Get(md, "finalizers", u.finalizers);
    u.being_deleted = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();

    const json& spec = Child(obj, "spec");
    Get(Child(spec, "instance"), "service", u.spec.service);
    Get(spec, "targetVersion", u.spec.target_version);
    Get(spec, "image", u.spec.image);
    GetOpt(spec, "replicas", u.spec.replicas);
    Get(spec, "allowSameVersion", u.spec.allow_same_version);
    if (spec.contains("auth")) {
      const json& ref = Child(Child(spec, "auth"), "secretRef");
      SecretKeyRef r;
      Get(ref, "name", r.name);
      Get(ref, "key", r.key);
      u.spec.auth = r;
    }
    const json& sw = Child(spec, "switchover");
    Get(sw, "mode", u.spec.mode);
    if (sw.contains("maintenanceWindow")) {
      const json& w = Child(sw, "maintenanceWindow");
      WindowSpec ws;
      Get(w, "start", ws.start);
      Get(w, "duration", ws.duration);
      Get(w, "timeZone", ws.time_zone);
      u.spec.window = ws;
    }
    Get(sw, "maxLagBytes", u.spec.max_lag_bytes);
    Get(sw, "maxReadOnlySeconds", u.spec.max_read_only_seconds);
    if (spec.contains("readService")) {
      ReadServiceSpec rs;
      Get(Child(spec, "readService"), "name", rs.name);
      u.spec.read_service = rs;
    }
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("spec: ") + e.what(), "InvalidSpec");
  }
  auto st = StatusFromJson(obj.contains("status") ? obj["status"] : json::object());
  if (!st.ok()) return st.status();
  u.status = std::move(st).value();
  return u;
}

json SpecToJson(const RedisUpgradeSpec& spec) {
  json j = {{"instance", {{"service", spec.service}}},
            {"targetVersion", spec.target_version},
            {"allowSameVersion", spec.allow_same_version}};
  if (!spec.image.empty()) j["image"] = spec.image;
  if (spec.replicas) j["replicas"] = *spec.replicas;
  if (spec.auth) j["auth"] = {{"secretRef", {{"name", spec.auth->name}, {"key", spec.auth->key}}}};
  json sw = {{"mode", spec.mode},
             {"maxLagBytes", spec.max_lag_bytes},
             {"maxReadOnlySeconds", spec.max_read_only_seconds}};
  if (spec.window) {
    sw["maintenanceWindow"] = {{"start", spec.window->start},
                               {"duration", spec.window->duration},
                               {"timeZone", spec.window->time_zone}};
  }
  j["switchover"] = sw;
  if (spec.read_service) j["readService"] = {{"name", spec.read_service->name}};
  return j;
}

json StatusToJson(const RedisUpgradeStatus& s) {
  json j = json::object();
  j["phase"] = std::string(PhaseName(s.phase));
  auto put = [&j](const char* k, const std::string& v) {
    if (!v.empty()) j[k] = v;
  };
  put("reason", s.reason);
  put("message", s.message);
  put("sourceVersion", s.source_version);
  put("targetVersion", s.target_version);
  put("oldMasterPod", s.old_master_pod);
  put("newStatefulSet", s.new_stateful_set);
  put("newMasterPod", s.new_master_pod);
  put("readService", s.read_service);
  if (!s.original_selector.empty()) j["originalSelector"] = s.original_selector;
  if (!s.phase_times.empty()) j["phaseTimes"] = s.phase_times;

  json sync = json::object();
  if (s.sync.lag_bytes) sync["lagBytes"] = *s.sync.lag_bytes;
  if (!s.sync.master_link_status.empty()) sync["masterLinkStatus"] = s.sync.master_link_status;
  sync["fullSyncDone"] = s.sync.full_sync_done;
  if (s.sync.sync_left_bytes) sync["syncLeftBytes"] = *s.sync.sync_left_bytes;
  if (!s.sync.saved_config.empty()) sync["savedConfig"] = s.sync.saved_config;
  j["sync"] = sync;

  json sw = json::object();
  sw["attempts"] = s.sw.attempts;
  if (!s.sw.step.empty()) sw["step"] = s.sw.step;
  if (!s.sw.started_at.empty()) sw["startedAt"] = s.sw.started_at;
  if (!s.sw.completed_at.empty()) sw["completedAt"] = s.sw.completed_at;
  if (s.sw.write_blocked_millis) sw["writeBlockedMillis"] = *s.sw.write_blocked_millis;
  if (!s.sw.last_error.empty()) sw["lastError"] = s.sw.last_error;
  if (!s.sw.record.is_null()) sw["record"] = s.sw.record;
  j["switch"] = sw;

  json conds = json::array();
  for (const auto& c : s.conditions) {
    conds.push_back({{"type", c.type},
                     {"status", c.status},
                     {"reason", c.reason},
                     {"message", c.message},
                     {"lastTransitionTime", c.last_transition_time},
                     {"observedGeneration", c.observed_generation}});
  }
  j["conditions"] = conds;
  j["observedGeneration"] = s.observed_generation;
  return j;
}

bool SetCondition(std::vector<Condition>& conditions, Condition c, const std::string& now_rfc3339) {
  for (auto& existing : conditions) {
    if (existing.type != c.type) continue;
    c.last_transition_time =
        existing.status == c.status ? existing.last_transition_time : now_rfc3339;
    if (existing == c) return false;
    existing = std::move(c);
    return true;
  }
  c.last_transition_time = now_rfc3339;
  conditions.push_back(std::move(c));
  return true;
}

const Condition* FindCondition(const std::vector<Condition>& conditions, const std::string& type) {
  for (const auto& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace ruo::upgrade
