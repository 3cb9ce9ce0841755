// The RedisUpgrade resource (redisupgrade.dev/v1alpha1) as C++ types, with JSON
// conversion. Parsing is lenient about absent fields (the CRD schema already
// applied defaults) and strict about types.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ruo::upgrade {

inline constexpr const char* kGroup = "redisupgrade.dev";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kPlural = "redisupgrades";
inline constexpr const char* kKind = "RedisUpgrade";
inline constexpr const char* kFinalizer = "redisupgrade.dev/cleanup";
inline constexpr const char* kSwitchNowAnnotation = "redisupgrade.dev/switch-now";
// Labels on everything the operator creates.
inline constexpr const char* kOwnerLabel = "redisupgrade.dev/upgrade";
inline constexpr const char* kRoleLabel = "redisupgrade.dev/role";  // master | replica

enum class Phase {
  kPending,
  kValidating,
  kProvisioning,
  kSyncing,
  kWaitingForSwitch,
  kSwitching,
  kCompleted,
  kFailed,
};

std::string_view PhaseName(Phase p);
StatusOr<Phase> ParsePhase(std::string_view name);  // "" → kPending
bool IsTerminal(Phase p);
// Before the point where the old instance was touched for the switch: deletion
// removes everything created and leaves the old instance as it was.
bool IsBeforeSwitch(Phase p);

struct SecretKeyRef {
  std::string name;
  std::string key;
  friend bool operator==(const SecretKeyRef&, const SecretKeyRef&) = default;
};

struct WindowSpec {
  std::string start;     // "HH:MM"
  std::string duration;  // "1h"
  std::string time_zone = "UTC";
  friend bool operator==(const WindowSpec&, const WindowSpec&) = default;
};

// spec.readService: an optional ClusterIP Service over every new pod (master and
// replicas), for reads.
struct ReadServiceSpec {
  std::string name;  // DNS-1035 label
  friend bool operator==(const ReadServiceSpec&, const ReadServiceSpec&) = default;
};

struct RedisUpgradeSpec {
  std::string service;
  std::string target_version;
  std::string image;                // empty = derived from target_version
  std::optional<int32_t> replicas;  // empty = old replica count
  bool allow_same_version = false;
  std::optional<SecretKeyRef> auth;
  std::string mode = "Immediate";  // Immediate | MaintenanceWindow
  std::optional<WindowSpec> window;
  int64_t max_lag_bytes = 10 * 1024 * 1024;
  int32_t max_read_only_seconds = 60;
  std::optional<ReadServiceSpec> read_service;

  friend bool operator==(const RedisUpgradeSpec&, const RedisUpgradeSpec&) = default;
};

struct Condition {
  std::string type;    // Ready | Progressing | Degraded
  std::string status;  // True | False | Unknown
  std::string reason;
  std::string message;
  std::string last_transition_time;  // RFC 3339
  int64_t observed_generation = 0;
  friend bool operator==(const Condition&, const Condition&) = default;
};

struct SyncStatusFields {
  std::optional<int64_t> lag_bytes;
  std::string master_link_status;
  bool full_sync_done = false;
  std::optional<int64_t> sync_left_bytes;
  // Settings raised on the old master for the sync: real name → original value.
  std::map<std::string, std::string> saved_config;
  friend bool operator==(const SyncStatusFields&, const SyncStatusFields&) = default;
};

struct SwitchStatusFields {
  int attempts = 0;
  std::string step;
  std::string started_at;
  std::string completed_at;
  std::optional<int64_t> write_blocked_millis;
  std::string last_error;
  nlohmann::json record;  // engine::SwitchRecord as JSON; null when none
  friend bool operator==(const SwitchStatusFields&, const SwitchStatusFields&) = default;
};

struct RedisUpgradeStatus {
  Phase phase = Phase::kPending;
  std::string reason;
  std::string message;
  std::string source_version;
  std::string target_version;
  std::string old_master_pod;
  std::string new_stateful_set;
  std::string new_master_pod;
  std::string read_service;  // recorded before the read Service is created
  std::map<std::string, std::string> original_selector;
  std::map<std::string, std::string> phase_times;
  SyncStatusFields sync;
  SwitchStatusFields sw;
  std::vector<Condition> conditions;
  int64_t observed_generation = 0;
  friend bool operator==(const RedisUpgradeStatus&, const RedisUpgradeStatus&) = default;
};

struct RedisUpgrade {
  std::string name;
  std::string ns;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> finalizers;
  bool being_deleted = false;  // metadata.deletionTimestamp set
  RedisUpgradeSpec spec;
  RedisUpgradeStatus status;

  std::string Key() const { return ns + "/" + name; }
  bool HasFinalizer() const;
  bool SwitchNowRequested() const;
};

// InvalidArgument (reason "InvalidSpec") naming the bad field.
StatusOr<RedisUpgrade> RedisUpgradeFromJson(const nlohmann::json& obj);
nlohmann::json SpecToJson(const RedisUpgradeSpec& spec);
nlohmann::json StatusToJson(const RedisUpgradeStatus& status);
StatusOr<RedisUpgradeStatus> StatusFromJson(const nlohmann::json& j);

// Sets (or adds) a condition; lastTransitionTime changes only when status does.
// Returns true when anything changed.
bool SetCondition(std::vector<Condition>& conditions, Condition c, const std::string& now_rfc3339);
const Condition* FindCondition(const std::vector<Condition>& conditions, const std::string& type);

std::string Rfc3339(std::chrono::system_clock::time_point t);

}  // namespace ruo::upgrade
