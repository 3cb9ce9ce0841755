// An in-memory API server behind k8s::Client for the runtime's unit tests:
// objects with resourceVersions (a global counter, as etcd's revision),
// conditional updates (stale → Conflict), list with simple label selectors,
// and watches that replay every change after a resourceVersion.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "k8s/client.h"
#include "k8s/errors.h"
#include "k8s/resource.h"

namespace ruo::runtime::testing {

class FakeApi final : public k8s::Client {
 public:
  // Every call fails with this while set (an API server that is down).
  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
    cv_.notify_all();
  }
  // Ends every open watch (as the server's timeoutSeconds would) with `status`
  // (OK: a normal end).
  void EndWatches(Status status = Status::Ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    end_watches_ = std::move(status);
    ++end_generation_;
    cv_.notify_all();
  }
  int calls(const std::string& verb) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[verb];
  }

  // Test-side writes (bypass `down`).
  nlohmann::json Put(const k8s::ResourceRef& ref, nlohmann::json obj) {
    std::lock_guard<std::mutex> lock(mu_);
    return Store(ref, std::move(obj));
  }
  void Remove(const k8s::ResourceRef& ref, const std::string& ns, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    RemoveLocked(ref, ns, name);
  }
  // Removes without a watch event: a change the watch history no longer holds
  // (compacted), which only a relist reveals.
  void RemoveUnwatched(const k8s::ResourceRef& ref, const std::string& ns,
                       const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_.erase(Key(ref, ns, name));
    ++revision_;
  }
  std::optional<nlohmann::json> Peek(const k8s::ResourceRef& ref, const std::string& ns,
                                     const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(Key(ref, ns, name));
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }

  StatusOr<nlohmann::json> Get(const k8s::ResourceRef& ref, std::string_view ns,
                               std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["get"];
    if (down_) return Unavailable("api down");
    auto it = objects_.find(Key(ref, std::string(ns), std::string(name)));
    if (it == objects_.end()) return k8s::StatusFromHttp(404, NotFoundBody(name));
    return it->second;
  }

  StatusOr<k8s::ListResult> List(const k8s::ResourceRef& ref, std::string_view ns,
                                 const k8s::ListOptions& options) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["list"];
    if (down_) return Unavailable("api down");
    k8s::ListResult result;
    for (const auto& [key, obj] : objects_) {
      if (!InScope(key, obj, ref, std::string(ns))) continue;
      if (!Selects(options.label_selector, obj)) continue;
      result.items.push_back(obj);
    }
    result.resource_version = std::to_string(revision_);
    return result;
  }

  StatusOr<nlohmann::json> Create(const k8s::ResourceRef& ref, std::string_view ns,
                                  const nlohmann::json& obj) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["create"];
    if (down_) return Unavailable("api down");
    std::string n = ns.empty() ? k8s::NamespaceOf(obj) : std::string(ns);
    if (objects_.count(Key(ref, n, k8s::NameOf(obj)))) {
      return k8s::StatusFromHttp(409, R"({"kind":"Status","reason":"AlreadyExists","code":409})");
    }
    nlohmann::json copy = obj;
    copy["metadata"]["namespace"] = n;
    copy["metadata"].erase("resourceVersion");
    return Store(ref, std::move(copy));
  }

  StatusOr<nlohmann::json> Update(const k8s::ResourceRef& ref, std::string_view ns,
                                  const nlohmann::json& obj) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["update"];
    if (down_) return Unavailable("api down");
    std::string n = ns.empty() ? k8s::NamespaceOf(obj) : std::string(ns);
    auto it = objects_.find(Key(ref, n, k8s::NameOf(obj)));
    if (it == objects_.end()) return k8s::StatusFromHttp(404, NotFoundBody(k8s::NameOf(obj)));
    std::string rv = k8s::ResourceVersionOf(obj);
    if (!rv.empty() && rv != k8s::ResourceVersionOf(it->second)) {
      return k8s::StatusFromHttp(
          409, R"({"kind":"Status","reason":"Conflict","code":409,"message":"stale"})");
    }
    nlohmann::json copy = obj;
    copy["metadata"]["namespace"] = n;
    return Store(ref, std::move(copy));
  }

  StatusOr<nlohmann::json> UpdateStatus(const k8s::ResourceRef&, std::string_view,
                                        const nlohmann::json&) override {
    return Unimplemented();
  }
  StatusOr<nlohmann::json> Patch(const k8s::ResourceRef&, std::string_view, std::string_view,
                                 k8s::PatchType, const nlohmann::json&,
                                 const k8s::PatchOptions&) override {
    return Unimplemented();
  }
  Status Delete(const k8s::ResourceRef& ref, std::string_view ns, std::string_view name,
                const k8s::DeleteOptions&) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (down_) return Unavailable("api down");
    if (!objects_.count(Key(ref, std::string(ns), std::string(name)))) {
      return k8s::StatusFromHttp(404, NotFoundBody(name));
    }
    RemoveLocked(ref, std::string(ns), std::string(name));
    return Status::Ok();
  }
  StatusOr<nlohmann::json> CreateSubresource(const k8s::ResourceRef&, std::string_view,
                                             std::string_view, std::string_view,
                                             const nlohmann::json&) override {
    return Unimplemented();
  }

  StatusOr<std::unique_ptr<k8s::WatchStream>> Watch(const k8s::ResourceRef& ref,
                                                    std::string_view ns,
                                                    const k8s::WatchOptions& options,
                                                    const k8s::CancelTokenPtr& cancel) override {
    int64_t from;
    int generation;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_["watch"];
      if (down_) return Unavailable("api down");
      from = options.resource_version.empty() ? revision_ : std::stoll(options.resource_version);
      generation = end_generation_;
    }
    // Built unlocked: an already-cancelled token runs Stream::Cancel at once.
    return std::unique_ptr<k8s::WatchStream>(std::make_unique<Stream>(
        *this, ref, std::string(ns), options.label_selector, from, cancel, generation));
  }

 private:
  struct Change {
    int64_t revision;
    std::string key;
    k8s::WatchEvent event;
  };

  class Stream final : public k8s::WatchStream {
   public:
    Stream(FakeApi& api, k8s::ResourceRef ref, std::string ns, std::string selector, int64_t from,
           k8s::CancelTokenPtr cancel, int generation)
        : api_(api),
          ref_(std::move(ref)),
          ns_(std::move(ns)),
          selector_(std::move(selector)),
          next_(from),
          cancel_(std::move(cancel)),
          generation_(generation) {
      if (cancel_) {
        cancel_id_ = cancel_->OnCancel([this] { Cancel(); });
      }
    }
    ~Stream() override {
      if (cancel_) cancel_->Unregister(cancel_id_);
    }

    StatusOr<std::optional<k8s::WatchEvent>> Next() override {
      std::unique_lock<std::mutex> lock(api_.mu_);
      while (true) {
        if (cancelled_) return Cancelled("watch cancelled");
        if (api_.down_) return Unavailable("connection reset");
        if (api_.end_generation_ != generation_) {
          Status s = api_.end_watches_;
          if (s.ok()) return std::optional<k8s::WatchEvent>();
          return s;
        }
        for (const auto& c : api_.log_) {
          if (c.revision <= next_) continue;
          next_ = c.revision;
          if (!FakeApi::InScope(c.key, c.event.object, ref_, ns_)) continue;
          if (!FakeApi::Selects(selector_, c.event.object)) continue;
          return std::optional<k8s::WatchEvent>(c.event);
        }
        api_.cv_.wait(lock);
      }
    }

    void Cancel() override {
      std::lock_guard<std::mutex> lock(api_.mu_);
      cancelled_ = true;
      api_.cv_.notify_all();
    }

   private:
    FakeApi& api_;
    k8s::ResourceRef ref_;
    std::string ns_;
    std::string selector_;
    int64_t next_;
    k8s::CancelTokenPtr cancel_;
    uint64_t cancel_id_ = 0;
    int generation_;
    bool cancelled_ = false;
  };

  static Status Unimplemented() { return {StatusCode::kUnimplemented, "not in the fake"}; }
  static std::string NotFoundBody(std::string_view name) {
    return R"({"kind":"Status","reason":"NotFound","code":404,"message":")" + std::string(name) +
           R"( not found"})";
  }
  static std::string Key(const k8s::ResourceRef& ref, const std::string& ns,
                         const std::string& name) {
    return ref.resource + "|" + ns + "|" + name;
  }
  static bool InScope(const std::string& key, const nlohmann::json& obj,
                      const k8s::ResourceRef& ref, const std::string& ns) {
    if (key.rfind(ref.resource + "|", 0) != 0) return false;
    return ns.empty() || k8s::NamespaceOf(obj) == ns;
  }
  // "a", "a=b", comma-separated: all must hold.
  static bool Selects(const std::string& selector, const nlohmann::json& obj) {
    if (selector.empty()) return true;
    auto labels = k8s::LabelsOf(obj);
    std::stringstream ss(selector);
    std::string term;
    while (std::getline(ss, term, ',')) {
      auto eq = term.find('=');
      if (eq == std::string::npos) {
        if (!labels.count(term)) return false;
      } else {
        auto it = labels.find(term.substr(0, eq));
        if (it == labels.end() || it->second != term.substr(eq + 1)) return false;
      }
    }
    return true;
  }

  nlohmann::json Store(const k8s::ResourceRef& ref, nlohmann::json obj) {
    std::string key = Key(ref, k8s::NamespaceOf(obj), k8s::NameOf(obj));
    bool existed = objects_.count(key) > 0;
    obj["metadata"]["resourceVersion"] = std::to_string(++revision_);
    objects_[key] = obj;
    k8s::WatchEvent e;
    e.type = existed ? k8s::WatchEvent::Type::kModified : k8s::WatchEvent::Type::kAdded;
    e.object = obj;
    log_.push_back({revision_, key, std::move(e)});
    cv_.notify_all();
    return obj;
  }

  void RemoveLocked(const k8s::ResourceRef& ref, const std::string& ns, const std::string& name) {
    std::string key = Key(ref, ns, name);
    auto it = objects_.find(key);
    if (it == objects_.end()) return;
    nlohmann::json obj = it->second;
    objects_.erase(it);
    obj["metadata"]["resourceVersion"] = std::to_string(++revision_);
    log_.push_back({revision_, key, {k8s::WatchEvent::Type::kDeleted, obj}});
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, nlohmann::json> objects_;
  std::deque<Change> log_;
  int64_t revision_ = 100;
  bool down_ = false;
  Status end_watches_;
  int end_generation_ = 0;
  std::map<std::string, int> calls_;
};

inline nlohmann::json Obj(const std::string& kind, const std::string& ns, const std::string& name,
                          nlohmann::json labels = nlohmann::json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}}};
}

}  // namespace ruo::runtime::testing
