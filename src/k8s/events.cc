#include "k8s/events.h"

#include <unistd.h>

#include <ctime>

namespace ruo::k8s {
namespace {

// Bound on remembered events; beyond it the cache starts over (a repeat then
// creates a fresh Event, which is harmless).
constexpr size_t kMaxSeen = 4096;

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return {};
  return buf;
}

}  // namespace

std::string FormatTimestamp(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json MakeEvent(const nlohmann::json& involved, const EventInfo& info,
                         const std::string& component, std::chrono::system_clock::time_point now) {
  std::string ns = NamespaceOf(involved);
  if (ns.empty()) ns = "default";  // events about cluster-scoped objects
  long long nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), ".%llx", nanos);
  nlohmann::json involved_ref = {{"apiVersion", ApiVersionOf(involved)},
                                 {"kind", KindOf(involved)},
                                 {"name", NameOf(involved)},
                                 {"uid", UidOf(involved)}};
  if (!NamespaceOf(involved).empty()) involved_ref["namespace"] = NamespaceOf(involved);
  if (!ResourceVersionOf(involved).empty()) {
    involved_ref["resourceVersion"] = ResourceVersionOf(involved);
  }
  std::string ts = FormatTimestamp(now);
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", NameOf(involved) + suffix}, {"namespace", ns}}},
          {"involvedObject", involved_ref},
          {"type", info.type},
          {"reason", info.reason},
          {"message", info.message},
          {"count", 1},
          {"firstTimestamp", ts},
          {"lastTimestamp", ts},
          {"source", {{"component", component}}},
          {"reportingComponent", component},
          {"reportingInstance", Hostname()}};
}

StatusOr<nlohmann::json> CreateEvent(Client& client, const nlohmann::json& involved,
                                     const EventInfo& info, const std::string& component,
                                     Clock& clock) {
  nlohmann::json event = MakeEvent(involved, info, component, clock.Now());
  return client.Create(resources::Events(), NamespaceOf(event), event);
}

EventRecorder::EventRecorder(Client& client, std::string component, Clock& clock)
    : client_(client), component_(std::move(component)), clock_(clock) {}

Status EventRecorder::Record(const nlohmann::json& involved, const EventInfo& info) {
  std::string key = UidOf(involved) + "\x1f" + NamespaceOf(involved) + "/" + NameOf(involved) +
                    "\x1f" + info.type + "\x1f" + info.reason + "\x1f" + info.message;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    Seen& seen = it->second;
    nlohmann::json patch = {{"count", seen.count + 1},
                            {"lastTimestamp", FormatTimestamp(clock_.Now())}};
    auto patched = client_.MergePatch(resources::Events(), seen.ns, seen.name, patch);
    if (patched.ok()) {
      ++seen.count;
      return Status::Ok();
    }
    seen_.erase(it);
    if (!IsNotFound(patched.status())) return patched.status();
    // The Event expired (default TTL 1h): create a new one below.
  }
  nlohmann::json event = MakeEvent(involved, info, component_, clock_.Now());
  auto created = client_.Create(resources::Events(), NamespaceOf(event), event);
  if (!created.ok()) return created.status();
  if (seen_.size() >= kMaxSeen) seen_.clear();
  seen_[key] = Seen{NamespaceOf(*created), NameOf(*created), 1};
  return Status::Ok();
}

}  // namespace ruo::k8s
