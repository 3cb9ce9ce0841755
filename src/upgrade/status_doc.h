// The status document the reconciler owns: the shared RedisUpgradeStatus
// (types.h) plus what Validating records about the old master (status.source),
// which types.h does not model. Writing keeps top-level status fields this code
// does not know, so a newer field added elsewhere is never wiped.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "upgrade/types.h"

namespace ruo::upgrade {

// status.source: the old master as Validating found it.
struct SourceRecord {
  std::string pod_uid;  // a pod with the same name but another uid is another server
  std::string pod_ip;
  int port = 0;
  int replicas = -1;  // the old master's connected replicas; -1 = not recorded
  // INFO run_id of the old master at the first sync poll: another run_id is a
  // restarted server (same pod, its data gone), see replication_poll.cc.
  std::string run_id;
  friend bool operator==(const SourceRecord&, const SourceRecord&) = default;
};

struct StatusDoc {
  RedisUpgradeStatus s;
  SourceRecord source;
  friend bool operator==(const StatusDoc&, const StatusDoc&) = default;
};

StatusOr<StatusDoc> StatusDocFromJson(const nlohmann::json& status);
// `previous` is the status as read; its top-level fields unknown here are kept.
nlohmann::json StatusDocToJson(const StatusDoc& doc, const nlohmann::json& previous);

}  // namespace ruo::upgrade
