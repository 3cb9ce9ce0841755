#include "upgrade/status_writer.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "k8s/errors.h"
#include "k8s/resource.h"

namespace ruo::upgrade {

StatusOr<std::unique_ptr<StatusWriter>> StatusWriter::FromObject(k8s::Client& client,
                                                                 nlohmann::json object) {
  std::unique_ptr<StatusWriter> w(new StatusWriter(client));
  RUO_RETURN_IF_ERROR(w->Adopt(std::move(object)));
  return w;
}

Status StatusWriter::Adopt(nlohmann::json object) {
  RUO_ASSIGN_OR_RETURN(RedisUpgrade u, RedisUpgradeFromJson(object));
  const nlohmann::json status =
      object.contains("status") ? object["status"] : nlohmann::json::object();
  RUO_ASSIGN_OR_RETURN(StatusDoc d, StatusDocFromJson(status));
  object_ = std::move(object);
  upgrade_ = std::move(u);
  doc_ = std::move(d);
  return Status::Ok();
}

Status StatusWriter::Reload() {
  RUO_ASSIGN_OR_RETURN(nlohmann::json obj,
                       client_.Get(k8s::resources::RedisUpgrades(), upgrade_.ns, upgrade_.name));
  return Adopt(std::move(obj));
}

Status StatusWriter::Commit(const StatusTx& tx) {
  for (int attempt = 0;; ++attempt) {
    StatusDoc next = doc_;
    tx(next);
    // What this status describes: the spec generation it was computed from.
    next.s.observed_generation = upgrade_.generation;
    for (auto& c : next.s.conditions) c.observed_generation = upgrade_.generation;
    if (next == doc_) return Status::Ok();
    Status s = Write(next);
    if (s.ok() || !k8s::IsConflict(s) || attempt > 0) return s;
    // Someone else wrote the object (an annotation, metadata): re-read, re-apply.
    spdlog::debug("status write conflict on {}; re-reading", upgrade_.Key());
    RUO_RETURN_IF_ERROR(Reload());
  }
}

Status StatusWriter::Write(const StatusDoc& next) {
  nlohmann::json body = object_;
  const nlohmann::json previous =
      object_.contains("status") ? object_["status"] : nlohmann::json::object();
  body["status"] = StatusDocToJson(next, previous);
  body["metadata"]["resourceVersion"] = upgrade_.resource_version;
  auto r = client_.UpdateStatus(k8s::resources::RedisUpgrades(), upgrade_.ns, body);
  if (!r.ok()) return r.status();
  ++writes_;
  if (Status s = Adopt(std::move(r).value()); !s.ok()) {
    // The server stored `body`; read back what it holds.
    spdlog::warn("status write of {}: unreadable response: {}", upgrade_.Key(), s.ToString());
    return Reload();
  }
  return Status::Ok();
}

}  // namespace ruo::upgrade
