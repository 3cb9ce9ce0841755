#include "runtime/informer.h"

#include <chrono>
#include <exception>
#include <thread>

#include "common/log.h"
#include "k8s/resource.h"

namespace ruo::runtime {

std::string ObjectKey(const nlohmann::json& obj) {
  std::string ns = k8s::NamespaceOf(obj);
  std::string name = k8s::NameOf(obj);
  return ns.empty() ? name : ns + "/" + name;
}

Informer::Informer(k8s::Client& client, k8s::ResourceRef resource, InformerOptions options)
    : client_(client), resource_(std::move(resource)), options_(std::move(options)) {}

Informer::~Informer() {
  Stop();
}

std::string Informer::Describe() const {
  std::string d = resource_.resource;
  if (!options_.ns.empty()) d += " in " + options_.ns;
  if (!options_.label_selector.empty()) d += " (" + options_.label_selector + ")";
  return d;
}

void Informer::AddEventHandler(ResourceEventHandler handler) {
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  if (handler.on_add) {
    std::vector<nlohmann::json> existing = List();
    for (const auto& obj : existing) handler.on_add(obj);
  }
  handlers_.push_back(std::move(handler));
}

void Informer::Start() {
  if (watcher_) return;
  k8s::WatcherOptions w = options_.watcher;
  w.label_selector = options_.label_selector;
  w.field_selector = options_.field_selector;
  watcher_ = std::make_unique<k8s::Watcher>(client_, resource_, options_.ns, w, *this);
  watcher_->Start();
}

void Informer::Stop() {
  if (watcher_) watcher_->Stop();
}

bool Informer::HasSynced() const {
  return synced_.load();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(sync_mu_);
  return sync_cv_.wait_for(lock, timeout, [this] { return synced_.load(); });
}

std::vector<nlohmann::json> Informer::List() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<nlohmann::json> out;
  out.reserve(store_.size());
  for (const auto& [key, obj] : store_) out.push_back(obj);
  return out;
}

std::vector<nlohmann::json> Informer::ListNamespace(std::string_view ns) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<nlohmann::json> out;
  // Keys are "ns/name" and the map is ordered: one namespace is one range.
  std::string prefix = std::string(ns) + "/";
  for (auto it = store_.lower_bound(prefix);
       it != store_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out.push_back(it->second);
  }
  return out;
}

std::optional<nlohmann::json> Informer::Get(const std::string& key) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = store_.find(key);
  if (it == store_.end()) return std::nullopt;
  return it->second;
}

size_t Informer::Size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return store_.size();
}

std::string Informer::LastResourceVersion() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return resource_version_;
}

namespace {

// The fields every cached object keeps when InformerOptions::keep_fields is set.
const std::vector<std::string>& IdentityFields() {
  static const std::vector<std::string> fields = {"/apiVersion",
                                                  "/kind",
                                                  "/metadata/name",
                                                  "/metadata/namespace",
                                                  "/metadata/uid",
                                                  "/metadata/resourceVersion",
                                                  "/metadata/deletionTimestamp"};
  return fields;
}

void CopyField(const nlohmann::json& from, const std::string& pointer, nlohmann::json& to) {
  const nlohmann::json::json_pointer p(pointer);
  // contains() is false for a pointer through a non-object, so at() cannot throw.
  if (from.contains(p)) to[p] = from.at(p);
}

}  // namespace

nlohmann::json Informer::Transform(const nlohmann::json& obj) const {
  if (!options_.keep_fields.empty() && obj.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& f : IdentityFields()) CopyField(obj, f, out);
    for (const auto& f : options_.keep_fields) CopyField(obj, f, out);
    return out;
  }
  nlohmann::json out = obj;
  if (options_.strip_managed_fields && out.is_object()) {
    auto meta = out.find("metadata");
    if (meta != out.end() && meta->is_object()) meta->erase("managedFields");
  }
  return out;
}

void Informer::Apply(const std::string& key, nlohmann::json obj, std::vector<Notification>& out) {
  auto it = store_.find(key);
  if (it == store_.end()) {
    out.push_back({Notification::Kind::kAdd, nullptr, obj});
    store_.emplace(key, std::move(obj));
    return;
  }
  // Same resourceVersion: the very same object (a relist, a replayed event);
  // telling the handlers again would only cause a spurious reconcile.
  if (k8s::ResourceVersionOf(it->second) == k8s::ResourceVersionOf(obj) &&
      !k8s::ResourceVersionOf(obj).empty()) {
    return;
  }
  out.push_back({Notification::Kind::kUpdate, it->second, obj});
  it->second = std::move(obj);
}

void Informer::Remove(const std::string& key, const nlohmann::json& last,
                      std::vector<Notification>& out) {
  auto it = store_.find(key);
  if (it == store_.end()) {
    // Unknown to the cache (deleted before we saw it): handlers still hear it,
    // as client-go's do, since the final state may matter to them.
    out.push_back({Notification::Kind::kDelete, nullptr, last});
    return;
  }
  out.push_back({Notification::Kind::kDelete, nullptr, last.is_null() ? it->second : last});
  store_.erase(it);
}

void Informer::OnSync(const std::vector<nlohmann::json>& items,
                      const std::string& resource_version) {
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  std::vector<Notification> notifications;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::map<std::string, nlohmann::json> listed;
    for (const auto& item : items) listed.emplace(ObjectKey(item), Transform(item));
    // Objects missing from a complete listing were deleted while we were not
    // watching: synthesize their deletes from the cached copy.
    std::vector<std::string> vanished;
    for (const auto& [key, obj] : store_) {
      if (!listed.count(key)) vanished.push_back(key);
    }
    for (const auto& key : vanished) Remove(key, nullptr, notifications);
    for (auto& [key, obj] : listed) Apply(key, std::move(obj), notifications);
    resource_version_ = resource_version;
  }
  Dispatch(notifications);
  if (!synced_.exchange(true)) {
    spdlog::info("informer synced resource={} objects={} rv={}", Describe(), Size(),
                 resource_version);
    std::lock_guard<std::mutex> lock(sync_mu_);
    sync_cv_.notify_all();
  }
}

void Informer::OnEvent(const k8s::WatchEvent& event) {
  if (event.type == k8s::WatchEvent::Type::kBookmark) return;
  if (spdlog::should_log(spdlog::level::debug)) {
    // Wall clock in µs: with the controller's "reconcile start" line it splits
    // bench/reconcile_latency.py's figure into delivery and our own part.
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    spdlog::debug("watch event resource={} key={} unix_us={}", resource_.resource,
                  ObjectKey(event.object), us);
  }
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  std::vector<Notification> notifications;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::string key = ObjectKey(event.object);
    nlohmann::json obj = Transform(event.object);
    std::string rv = k8s::ResourceVersionOf(obj);
    if (event.type == k8s::WatchEvent::Type::kDeleted) {
      Remove(key, obj, notifications);
    } else {
      // ADDED of a cached key or MODIFIED of an unknown one are both just
      // "this is the object now".
      Apply(key, std::move(obj), notifications);
    }
    if (!rv.empty()) resource_version_ = rv;
  }
  Dispatch(notifications);
}

void Informer::OnError(const Status& status) {
  spdlog::debug("informer watch error resource={} error={}", Describe(), status.ToString());
}

void Informer::Dispatch(const std::vector<Notification>& notifications) {
  for (const auto& n : notifications) {
    for (const auto& h : handlers_) {
      try {
        switch (n.kind) {
          case Notification::Kind::kAdd:
            if (h.on_add) h.on_add(n.obj);
            break;
          case Notification::Kind::kUpdate:
            if (h.on_update) h.on_update(n.old_obj, n.obj);
            break;
          case Notification::Kind::kDelete:
            if (h.on_delete) h.on_delete(n.obj);
            break;
        }
      } catch (const std::exception& e) {
        // A handler bug must not end the watch for every other handler.
        spdlog::error("informer handler threw resource={} key={} error={}", Describe(),
                      ObjectKey(n.obj), e.what());
      }
    }
  }
}

bool WaitForCacheSync(const std::vector<const Informer*>& informers,
                      std::chrono::milliseconds timeout, const k8s::CancelTokenPtr& stop) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const Informer* informer : informers) {
    while (!informer->HasSynced()) {
      if (stop && stop->cancelled()) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      // Short slices so a cancelled `stop` is noticed promptly.
      informer->WaitForSync(std::min(left, std::chrono::milliseconds(100)));
    }
  }
  return true;
}

}  // namespace ruo::runtime
