// A small Kubernetes API client over JSON objects (nlohmann::json), behind an
// interface so that controller logic can be tested against a fake.
//
// Errors are ruo::Status values mapped from the API's own Status (see errors.h):
// NotFound, AlreadyExists, Conflict (stale resourceVersion → kAborted), Gone,
// Forbidden, Invalid... with the API server's message.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "k8s/config.h"
#include "k8s/errors.h"
#include "k8s/http.h"
#include "k8s/resource.h"

namespace ruo::k8s {

struct ListOptions {
  std::string label_selector;  // "app=redis,role in (master)"
  std::string field_selector;  // "metadata.name=foo"
  int64_t limit = 0;           // page size; 0: no paging
  std::string continue_token;  // resume a paged list (with all_pages=false)
  // "" reads the latest state from etcd (consistent); "0" accepts the cache.
  std::string resource_version;
  bool all_pages = true;  // follow continue tokens and return every item
  CancelTokenPtr cancel;  // optional
};

struct ListResult {
  // Each item carries apiVersion and kind (the server omits them in lists).
  std::vector<nlohmann::json> items;
  std::string resource_version;  // of the collection: where a watch continues
  std::string continue_token;    // non-empty when more pages remain (all_pages=false)
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902): an array of operations
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in kinds only)
  kApply,           // server-side apply (application/apply-patch+yaml; JSON is valid YAML)
};

struct PatchOptions {
  std::string subresource;    // e.g. "status"
  std::string field_manager;  // default: ClientOptions::field_manager
  bool force = false;         // server-side apply: take over conflicting fields
};

struct DeleteOptions {
  // Preconditions: the delete fails with Conflict when the object differs.
  std::string precondition_uid;
  std::string precondition_resource_version;
  std::string propagation_policy;  // "Foreground" | "Background" | "Orphan"; "": server default
  std::optional<int64_t> grace_period_seconds;
};

struct WatchOptions {
  std::string resource_version;  // start after this version; "" = from now
  std::string label_selector;
  std::string field_selector;
  int timeout_seconds = 290;  // the server ends the watch after this; the client then resumes
  bool allow_bookmarks = true;
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark };
  Type type = Type::kAdded;
  nlohmann::json object;
};

std::string_view WatchEventTypeName(WatchEvent::Type type);

// The events of one watch request.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // The next event; std::nullopt when the server closed the watch normally
  // (timeoutSeconds elapsed). An ERROR event comes back as its Status (410
  // Expired/Gone → reason "Gone"); a broken connection as kUnavailable or
  // kDeadlineExceeded; Cancel() as kCancelled.
  virtual StatusOr<std::optional<WatchEvent>> Next() = 0;
  // Thread-safe: unblocks Next().
  virtual void Cancel() = 0;
};

class Client {
 public:
  virtual ~Client() = default;

  // `ns` is ignored for cluster-scoped resources. For Create/Update/UpdateStatus
  // an empty `ns` means the object's metadata.namespace.
  virtual StatusOr<nlohmann::json> Get(const ResourceRef& ref, std::string_view ns,
                                       std::string_view name) = 0;
  // An empty `ns` lists across all namespaces.
  virtual StatusOr<ListResult> List(const ResourceRef& ref, std::string_view ns,
                                    const ListOptions& options) = 0;
  virtual StatusOr<nlohmann::json> Create(const ResourceRef& ref, std::string_view ns,
                                          const nlohmann::json& obj) = 0;
  // PUT of the whole object. A metadata.resourceVersion makes it conditional:
  // stale → kAborted with reason "Conflict".
  virtual StatusOr<nlohmann::json> Update(const ResourceRef& ref, std::string_view ns,
                                          const nlohmann::json& obj) = 0;
  // PUT of the status subresource (only .status is taken from `obj`).
  virtual StatusOr<nlohmann::json> UpdateStatus(const ResourceRef& ref, std::string_view ns,
                                                const nlohmann::json& obj) = 0;
  virtual StatusOr<nlohmann::json> Patch(const ResourceRef& ref, std::string_view ns,
                                         std::string_view name, PatchType type,
                                         const nlohmann::json& patch,
                                         const PatchOptions& options) = 0;
  virtual Status Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                        const DeleteOptions& options) = 0;
  // POST to a subresource: serviceaccounts/token (TokenRequest), pods/eviction...
  virtual StatusOr<nlohmann::json> CreateSubresource(const ResourceRef& ref, std::string_view ns,
                                                     std::string_view name,
                                                     std::string_view subresource,
                                                     const nlohmann::json& body) = 0;
  // Starts a watch; returns once the server accepted it. `cancel` may be null.
  virtual StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceRef& ref, std::string_view ns,
                                                       const WatchOptions& options,
                                                       const CancelTokenPtr& cancel) = 0;

  // Conveniences over Patch.
  StatusOr<nlohmann::json> MergePatch(const ResourceRef& ref, std::string_view ns,
                                      std::string_view name, const nlohmann::json& patch) {
    return Patch(ref, ns, name, PatchType::kMerge, patch, {});
  }
  StatusOr<nlohmann::json> JsonPatch(const ResourceRef& ref, std::string_view ns,
                                     std::string_view name, const nlohmann::json& ops) {
    return Patch(ref, ns, name, PatchType::kJson, ops, {});
  }
  StatusOr<nlohmann::json> StrategicMergePatch(const ResourceRef& ref, std::string_view ns,
                                               std::string_view name, const nlohmann::json& patch) {
    return Patch(ref, ns, name, PatchType::kStrategicMerge, patch, {});
  }
  // A merge patch of the status subresource: {"status": {...}}.
  StatusOr<nlohmann::json> PatchStatus(const ResourceRef& ref, std::string_view ns,
                                       std::string_view name, const nlohmann::json& patch) {
    PatchOptions options;
    options.subresource = "status";
    return Patch(ref, ns, name, PatchType::kMerge, patch, options);
  }
};

struct ClientOptions {
  std::chrono::milliseconds request_timeout{30000};
  // Recorded in managedFields for every write; required by server-side apply.
  std::string field_manager = "redis-upgrade-operator";
};

// A client for the API server described by `config` (over cpprestsdk).
StatusOr<std::unique_ptr<Client>> NewClient(const RestConfig& config,
                                            const ClientOptions& options = {});

// A client over any transport (tests use a fake one).
std::unique_ptr<Client> NewClientWithTransport(std::unique_ptr<HttpTransport> transport,
                                               const ClientOptions& options = {});

}  // namespace ruo::k8s
