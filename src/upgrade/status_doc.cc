#include "upgrade/status_doc.h"

#include <array>
#include <string_view>

namespace ruo::upgrade {
namespace {

using nlohmann::json;

// Every top-level status field written by StatusToJson or here: these are
// replaced as a whole; anything else in the previous status is carried over.
constexpr std::array<std::string_view, 16> kOwnedFields = {
    "phase",        "reason",         "message",      "sourceVersion",      "targetVersion",
    "oldMasterPod", "newStatefulSet", "newMasterPod", "originalSelector",   "phaseTimes",
    "sync",         "switch",         "conditions",   "observedGeneration", "source",
    "readService",
};

}  // namespace

StatusOr<StatusDoc> StatusDocFromJson(const json& status) {
  StatusDoc doc;
  RUO_ASSIGN_OR_RETURN(doc.s, StatusFromJson(status));
  if (!status.is_object()) return doc;
  auto it = status.find("source");
  if (it == status.end() || !it->is_object()) return doc;
  try {
    const json& src = *it;
    doc.source.pod_uid = src.value("podUID", "");
    doc.source.pod_ip = src.value("podIP", "");
    doc.source.port = src.value("port", 0);
    doc.source.replicas = src.value("replicas", -1);
    doc.source.run_id = src.value("runID", "");
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("status.source: ") + e.what(), "InvalidStatus");
  }
  return doc;
}

json StatusDocToJson(const StatusDoc& doc, const json& previous) {
  json out = json::object();
  if (previous.is_object()) {
    for (auto it = previous.begin(); it != previous.end(); ++it) {
      bool owned = false;
      for (std::string_view f : kOwnedFields) owned = owned || it.key() == f;
      if (!owned) out[it.key()] = it.value();
    }
  }
  const json base = StatusToJson(doc.s);
  for (auto it = base.begin(); it != base.end(); ++it) out[it.key()] = it.value();
  const SourceRecord& src = doc.source;
  if (!src.pod_uid.empty() || !src.pod_ip.empty() || src.port != 0 || src.replicas >= 0 ||
      !src.run_id.empty()) {
    json j = json::object();
    if (!src.pod_uid.empty()) j["podUID"] = src.pod_uid;
    if (!src.pod_ip.empty()) j["podIP"] = src.pod_ip;
    if (src.port != 0) j["port"] = src.port;
    if (src.replicas >= 0) j["replicas"] = src.replicas;
    if (!src.run_id.empty()) j["runID"] = src.run_id;
    out["source"] = j;
  }
  return out;
}

}  // namespace ruo::upgrade
