// An in-memory k8s::Client for reconciler tests: objects keyed by resource,
// namespace and name, resourceVersion bumps on every write, conditional writes
// (409 Conflict on a stale resourceVersion), merge and JSON patches,
// finalizer-aware deletion, equality label selectors. Every call is logged.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "k8s/client.h"

namespace ruo::upgrade::testing {

class FakeK8sClient : public k8s::Client {
 public:
  using json = nlohmann::json;

  // Called before every operation: a non-OK Status is returned instead.
  std::function<Status(const std::string& verb, const std::string& resource,
                       const std::string& name)>
      fault;
  std::string now = "2026-01-01T00:00:00Z";  // creationTimestamp of created objects
  // Plays the EndpointSlice controller with no delay: a List of endpointslices
  // returns one slice per Service, of the pods its selector picks now (ready
  // as the pod's Ready condition), instead of stored slices.
  bool endpoint_slice_controller = false;

  // Stores `obj` as is (apiVersion/kind/metadata given), assigning uid and
  // resourceVersion when absent.
  json Put(const k8s::ResourceRef& ref, json obj) {
    auto& md = obj["metadata"];
    if (!md.contains("uid")) md["uid"] = "uid-" + std::to_string(++uid_);
    if (!md.contains("creationTimestamp")) md["creationTimestamp"] = now;
    md["resourceVersion"] = std::to_string(++rv_);
    if (ref.resource == "redisupgrades" && !md.contains("generation")) md["generation"] = 1;
    store_[Key(ref, k8s::NamespaceOf(obj), k8s::NameOf(obj))] = obj;
    return obj;
  }
  bool Has(const k8s::ResourceRef& ref, const std::string& ns, const std::string& name) const {
    return store_.count(Key(ref, ns, name)) > 0;
  }
  json& At(const k8s::ResourceRef& ref, const std::string& ns, const std::string& name) {
    return store_.at(Key(ref, ns, name));
  }
  void Erase(const k8s::ResourceRef& ref, const std::string& ns, const std::string& name) {
    store_.erase(Key(ref, ns, name));
  }
  std::vector<json> All(const k8s::ResourceRef& ref, const std::string& ns) const {
    std::vector<json> out;
    const std::string prefix = ref.resource + "/" + ns + "/";
    for (const auto& [k, v] : store_) {
      if (k.rfind(prefix, 0) == 0) out.push_back(v);
    }
    return out;
  }
  int Count(const std::string& verb_resource) const {
    int n = 0;
    for (const auto& c : calls) n += c.rfind(verb_resource, 0) == 0;
    return n;
  }
  std::vector<std::string> calls;  // "Verb resource/name"

  StatusOr<json> Get(const k8s::ResourceRef& ref, std::string_view ns,
                     std::string_view name) override {
    RUO_RETURN_IF_ERROR(Enter("Get", ref, name));
    auto it = store_.find(Key(ref, ns, name));
    if (it == store_.end()) return NotFoundStatus(ref, name);
    return it->second;
  }

  StatusOr<k8s::ListResult> List(const k8s::ResourceRef& ref, std::string_view ns,
                                 const k8s::ListOptions& options) override {
    RUO_RETURN_IF_ERROR(Enter("List", ref, ""));
    k8s::ListResult r;
    const auto want = ParseSelector(options.label_selector);
    std::map<std::string, json> derived;
    const bool derive = endpoint_slice_controller && ref.resource == "endpointslices";
    if (derive) derived = DerivedEndpointSlices();
    for (const auto& [k, v] : derive ? derived : store_) {
      if (k.rfind(ref.resource + "/", 0) != 0) continue;
      if (!ns.empty() && k8s::NamespaceOf(v) != ns) continue;
      const auto labels = k8s::LabelsOf(v);
      bool match = true;
      for (const auto& [lk, lv] : want) {
        auto it = labels.find(lk);
        match = match && it != labels.end() && it->second == lv;
      }
      if (match) r.items.push_back(v);
    }
    r.resource_version = std::to_string(rv_);
    return r;
  }

  StatusOr<json> Create(const k8s::ResourceRef& ref, std::string_view ns,
                        const json& obj) override {
    RUO_RETURN_IF_ERROR(Enter("Create", ref, k8s::NameOf(obj)));
    json o = obj;
    if (!ns.empty()) o["metadata"]["namespace"] = std::string(ns);
    if (ref.resource == "events") {
      // Real Event names carry a nanosecond timestamp; a fake clock repeats them.
      o["metadata"]["name"] = k8s::NameOf(o) + "-" + std::to_string(++uid_);
    }
    if (store_.count(Key(ref, k8s::NamespaceOf(o), k8s::NameOf(o)))) {
      return Status(StatusCode::kAlreadyExists,
                    ref.resource + " \"" + k8s::NameOf(o) + "\" already exists", "AlreadyExists");
    }
    o["metadata"].erase("uid");
    return Put(ref, o);
  }

  StatusOr<json> Update(const k8s::ResourceRef& ref, std::string_view ns,
                        const json& obj) override {
    RUO_RETURN_IF_ERROR(Enter("Update", ref, k8s::NameOf(obj)));
    return Replace(ref, ns, obj, /*status_only=*/false);
  }

  StatusOr<json> UpdateStatus(const k8s::ResourceRef& ref, std::string_view ns,
                              const json& obj) override {
    RUO_RETURN_IF_ERROR(Enter("UpdateStatus", ref, k8s::NameOf(obj)));
    return Replace(ref, ns, obj, /*status_only=*/true);
  }

  StatusOr<json> Patch(const k8s::ResourceRef& ref, std::string_view ns, std::string_view name,
                       k8s::PatchType type, const json& patch, const k8s::PatchOptions&) override {
    RUO_RETURN_IF_ERROR(Enter("Patch", ref, name));
    auto it = store_.find(Key(ref, ns, name));
    if (it == store_.end()) return NotFoundStatus(ref, name);
    json obj = it->second;
    if (type == k8s::PatchType::kJson) {
      try {
        obj = obj.patch(patch);
      } catch (const json::exception& e) {
        return Status(StatusCode::kInvalidArgument, e.what(), "Invalid");
      }
    } else {
      json p = patch;
      if (p.contains("metadata") && p["metadata"].contains("resourceVersion")) {
        if (p["metadata"]["resourceVersion"] != obj["metadata"]["resourceVersion"]) {
          return ConflictStatus(name);
        }
        p["metadata"].erase("resourceVersion");
      }
      obj.merge_patch(p);
    }
    obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
    // The API server deletes an object being deleted once its finalizers are gone.
    if (obj["metadata"].contains("deletionTimestamp") &&
        obj["metadata"].value("finalizers", json::array()).empty()) {
      store_.erase(it);
      return obj;
    }
    it->second = obj;
    return obj;
  }

  Status Delete(const k8s::ResourceRef& ref, std::string_view ns, std::string_view name,
                const k8s::DeleteOptions& options) override {
    RUO_RETURN_IF_ERROR(Enter("Delete", ref, name));
    auto it = store_.find(Key(ref, ns, name));
    if (it == store_.end()) return NotFoundStatus(ref, name);
    if (!options.precondition_uid.empty() &&
        it->second["metadata"].value("uid", "") != options.precondition_uid) {
      return ConflictStatus(name);
    }
    if (!it->second["metadata"].value("finalizers", json::array()).empty()) {
      it->second["metadata"]["deletionTimestamp"] = now;
      it->second["metadata"]["resourceVersion"] = std::to_string(++rv_);
      return Status::Ok();
    }
    store_.erase(it);
    // Background propagation: dependents (pods of a StatefulSet) go too.
    if (ref.resource == "statefulsets") {
      for (auto p = store_.begin(); p != store_.end();) {
        const bool pod_of =
            p->first.rfind("pods/" + std::string(ns) + "/" + std::string(name) + "-", 0) == 0;
        p = pod_of ? store_.erase(p) : std::next(p);
      }
    }
    return Status::Ok();
  }

  StatusOr<json> CreateSubresource(const k8s::ResourceRef&, std::string_view, std::string_view,
                                   std::string_view, const json&) override {
    return Status(StatusCode::kUnimplemented, "fake");
  }
  StatusOr<std::unique_ptr<k8s::WatchStream>> Watch(const k8s::ResourceRef&, std::string_view,
                                                    const k8s::WatchOptions&,
                                                    const k8s::CancelTokenPtr&) override {
    return Status(StatusCode::kUnimplemented, "fake");
  }

 private:
  static std::string Key(const k8s::ResourceRef& ref, std::string_view ns, std::string_view name) {
    return ref.resource + "/" + std::string(ns) + "/" + std::string(name);
  }
  static Status NotFoundStatus(const k8s::ResourceRef& ref, std::string_view name) {
    return Status(StatusCode::kNotFound, ref.resource + " \"" + std::string(name) + "\" not found",
                  "NotFound");
  }
  static Status ConflictStatus(std::string_view name) {
    return Status(StatusCode::kAborted,
                  "Operation cannot be fulfilled on \"" + std::string(name) +
                      "\": the object has been modified",
                  "Conflict");
  }
  static std::map<std::string, std::string> ParseSelector(const std::string& s) {
    std::map<std::string, std::string> out;
    size_t start = 0;
    while (start < s.size()) {
      size_t comma = s.find(',', start);
      if (comma == std::string::npos) comma = s.size();
      const std::string term = s.substr(start, comma - start);
      const size_t eq = term.find('=');
      if (eq != std::string::npos) out[term.substr(0, eq)] = term.substr(eq + 1);
      start = comma + 1;
    }
    return out;
  }

  // endpoint_slice_controller's slices, keyed as stored ones would be.
  std::map<std::string, json> DerivedEndpointSlices() const {
    std::map<std::string, json> out;
    for (const auto& [k, svc] : store_) {
      if (k.rfind("services/", 0) != 0) continue;
      const auto selector = svc.value("/spec/selector"_json_pointer, json::object());
      if (selector.empty()) continue;
      json endpoints = json::array();
      for (const auto& [pk, pod] : store_) {
        if (pk.rfind("pods/", 0) != 0 || k8s::NamespaceOf(pod) != k8s::NamespaceOf(svc)) continue;
        const auto labels = k8s::LabelsOf(pod);
        bool match = true;
        for (const auto& [lk, lv] : selector.items()) {
          auto it = labels.find(lk);
          match = match && it != labels.end() && it->second == lv.get<std::string>();
        }
        const std::string ip = pod.value("/status/podIP"_json_pointer, "");
        if (!match || ip.empty()) continue;
        bool ready = false;
        for (const auto& c : pod.value("/status/conditions"_json_pointer, json::array())) {
          if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
        }
        endpoints.push_back({{"addresses", json::array({ip})},
                             {"conditions", {{"ready", ready}}},
                             {"targetRef", {{"kind", "Pod"}, {"name", k8s::NameOf(pod)}}}});
      }
      const std::string name = k8s::NameOf(svc) + "-fake";
      out[Key(k8s::resources::EndpointSlices(), k8s::NamespaceOf(svc), name)] = {
          {"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name},
            {"namespace", k8s::NamespaceOf(svc)},
            {"labels", {{"kubernetes.io/service-name", k8s::NameOf(svc)}}}}},
          {"addressType", "IPv4"},
          {"endpoints", endpoints}};
    }
    return out;
  }

  Status Enter(const std::string& verb, const k8s::ResourceRef& ref, std::string_view name) {
    calls.push_back(verb + " " + ref.resource + "/" + std::string(name));
    if (fault) return fault(verb, ref.resource, std::string(name));
    return Status::Ok();
  }

  StatusOr<json> Replace(const k8s::ResourceRef& ref, std::string_view ns, const json& obj,
                         bool status_only) {
    const std::string name = k8s::NameOf(obj);
    auto it = store_.find(Key(ref, ns.empty() ? k8s::NamespaceOf(obj) : ns, name));
    if (it == store_.end()) return NotFoundStatus(ref, name);
    const std::string rv = obj.value("/metadata/resourceVersion"_json_pointer, "");
    if (!rv.empty() && rv != it->second["metadata"].value("resourceVersion", "")) {
      return ConflictStatus(name);
    }
    json next = it->second;
    if (status_only) {
      next["status"] = obj.value("status", json::object());
    } else {
      next = obj;
      next["status"] = it->second.value("status", json::object());
    }
    next["metadata"]["resourceVersion"] = std::to_string(++rv_);
    it->second = next;
    return next;
  }

  std::map<std::string, json> store_;
  int rv_ = 0;
  int uid_ = 0;
};

}  // namespace ruo::upgrade::testing
