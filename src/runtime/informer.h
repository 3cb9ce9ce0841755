// A shared informer, as client-go's: a thread-safe cache of one collection
// (key "namespace/name" → object) kept current by a k8s::Watcher, and event
// handlers told of every add, update and delete. Controllers read the cache
// instead of the API server and turn the events into work-queue keys.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/client.h"
#include "k8s/watch.h"

namespace ruo::runtime {

// "namespace/name", or "name" for a cluster-scoped object: the work-queue key form.
std::string ObjectKey(const nlohmann::json& obj);

// Callbacks run on the informer's watcher thread, one event at a time and in
// order; they must not block for long. Each may be null.
struct ResourceEventHandler {
  std::function<void(const nlohmann::json& obj)> on_add;
  std::function<void(const nlohmann::json& old_obj, const nlohmann::json& new_obj)> on_update;
  // The object's last state: the DELETED event's, or the cached copy when the
  // delete was only noticed by a relist.
  std::function<void(const nlohmann::json& obj)> on_delete;
};

struct InformerOptions {
  std::string ns;  // "" = every namespace
  std::string label_selector;
  std::string field_selector;
  // managedFields are often the larger half of an object and nothing here reads them.
  bool strip_managed_fields = true;
  // When not empty, the cache keeps only these fields (JSON pointers such as
  // "/spec/selector") plus the identity the informer itself needs (apiVersion,
  // kind, metadata name, namespace, uid, resourceVersion, deletionTimestamp):
  // handlers and lookups then see only those. A watch that feeds only a
  // mapping needs a few fields of objects that are otherwise kilobytes each.
  std::vector<std::string> keep_fields;
  // Backoff and paging of the list/watch (its selectors are taken from above).
  k8s::WatcherOptions watcher;
};

class Informer final : public k8s::WatchHandler {
 public:
  // `client` must outlive the informer.
  Informer(k8s::Client& client, k8s::ResourceRef resource, InformerOptions options = {});
  ~Informer() override;  // Stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers added after objects are cached first get an add for each of them.
  void AddEventHandler(ResourceEventHandler handler);

  // Lists and watches on a background thread until Stop().
  void Start();
  void Stop();

  // True once the first complete listing is in the cache (and its handlers ran).
  bool HasSynced() const;
  // Waits for HasSynced() up to `timeout`; false on timeout.
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  std::vector<nlohmann::json> List() const;
  std::vector<nlohmann::json> ListNamespace(std::string_view ns) const;
  std::optional<nlohmann::json> Get(const std::string& key) const;
  size_t Size() const;
  // Of the last listing or event applied.
  std::string LastResourceVersion() const;

  const k8s::ResourceRef& resource() const { return resource_; }
  const std::string& ns() const { return options_.ns; }
  // "pods" or "pods in shop", for logs and readiness messages.
  std::string Describe() const;

  // k8s::WatchHandler: called by the watcher's thread (tests call them directly).
  void OnSync(const std::vector<nlohmann::json>& items,
              const std::string& resource_version) override;
  void OnEvent(const k8s::WatchEvent& event) override;
  void OnError(const Status& status) override;

 private:
  struct Notification {
    enum class Kind { kAdd, kUpdate, kDelete } kind;
    nlohmann::json old_obj;  // kUpdate
    nlohmann::json obj;
  };
  nlohmann::json Transform(const nlohmann::json& obj) const;
  // Applies to the store under mu_ and returns what the handlers must hear.
  void Apply(const std::string& key, nlohmann::json obj, std::vector<Notification>& out);
  void Remove(const std::string& key, const nlohmann::json& last, std::vector<Notification>& out);
  void Dispatch(const std::vector<Notification>& notifications);

  k8s::Client& client_;
  const k8s::ResourceRef resource_;
  const InformerOptions options_;

  // Held by the watcher thread across "apply to store + run handlers", and by
  // AddEventHandler, so a new handler sees each object exactly once in order.
  // Readers do not take it, so handlers may read any informer's cache.
  std::mutex dispatch_mu_;
  std::vector<ResourceEventHandler> handlers_;

  mutable std::shared_mutex mu_;  // guards store_ and resource_version_
  std::map<std::string, nlohmann::json> store_;
  std::string resource_version_;

  mutable std::mutex sync_mu_;
  mutable std::condition_variable sync_cv_;
  std::atomic<bool> synced_{false};

  std::unique_ptr<k8s::Watcher> watcher_;
};

// Waits until every informer has synced; false when `timeout` passes first or
// `stop` (may be null) is cancelled.
bool WaitForCacheSync(const std::vector<const Informer*>& informers,
                      std::chrono::milliseconds timeout, const k8s::CancelTokenPtr& stop = nullptr);

}  // namespace ruo::runtime
