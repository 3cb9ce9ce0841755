// Kubernetes Events (core/v1) about an object, as `kubectl describe` shows them.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "k8s/client.h"

namespace ruo::k8s {

struct EventInfo {
  std::string type = "Normal";  // "Normal" | "Warning"
  std::string reason;           // CamelCase, e.g. "SwitchCompleted"
  std::string message;
};

// The core/v1 Event object for `involved` (which needs apiVersion, kind and
// metadata), without sending it. count=1, first/lastTimestamp = now.
nlohmann::json MakeEvent(const nlohmann::json& involved, const EventInfo& info,
                         const std::string& component, std::chrono::system_clock::time_point now);

// Creates one Event.
StatusOr<nlohmann::json> CreateEvent(Client& client, const nlohmann::json& involved,
                                     const EventInfo& info, const std::string& component,
                                     Clock& clock = RealClock());

// Records events and folds repeats (same object, type, reason and message)
// into the existing Event by bumping its count and lastTimestamp, as
// client-go's recorder does, so a retry loop does not flood the namespace.
// Thread-safe.
class EventRecorder {
 public:
  EventRecorder(Client& client, std::string component, Clock& clock = RealClock());
  Status Record(const nlohmann::json& involved, const EventInfo& info);

 private:
  struct Seen {
    std::string ns;
    std::string name;
    int64_t count = 0;
  };
  Client& client_;
  const std::string component_;
  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;
};

// RFC 3339 in UTC with second precision, as metav1.Time serializes.
std::string FormatTimestamp(std::chrono::system_clock::time_point t);

}  // namespace ruo::k8s
