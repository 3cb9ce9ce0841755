#include "k8s/client.h"

#include <utility>

#include "k8s/cpprest_transport.h"

namespace ruo::k8s {
namespace {

using nlohmann::json;

constexpr char kJsonContentType[] = "application/json";

// Serializes without throwing: invalid UTF-8 in a string is replaced rather
// than aborting the request with an exception.
std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

StatusOr<json> ParseBody(std::string_view body) {
  if (body.empty()) return json::object();
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Internal("API server sent a response that is not JSON");
  return j;
}

std::string_view PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

// The server omits apiVersion/kind on list items; restore them from the list
// ("ConfigMapList" → "ConfigMap") so items look like objects from Get.
void FillItemKinds(const json& list, std::vector<json>& items, size_t from) {
  std::string api_version = ApiVersionOf(list);
  std::string kind = KindOf(list);
  if (kind.size() > 4 && kind.ends_with("List")) kind.resize(kind.size() - 4);
  for (size_t i = from; i < items.size(); ++i) {
    if (!items[i].is_object()) continue;
    if (!api_version.empty() && !items[i].contains("apiVersion")) {
      items[i]["apiVersion"] = api_version;
    }
    if (!kind.empty() && !items[i].contains("kind")) items[i]["kind"] = kind;
  }
}

class RestWatchStream final : public WatchStream {
 public:
  explicit RestWatchStream(std::unique_ptr<StreamReader> reader) : reader_(std::move(reader)) {}

  StatusOr<std::optional<WatchEvent>> Next() override {
    while (true) {
      RUO_ASSIGN_OR_RETURN(std::optional<std::string> line, reader_->ReadLine());
      if (!line) return std::optional<WatchEvent>();
      if (line->find_first_not_of(" \t\r") == std::string::npos) continue;
      json j = json::parse(*line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
        // Resuming from the last good resourceVersion is the safe answer.
        return Unavailable("malformed watch event");
      }
      std::string type = j["type"].get<std::string>();
      json object = j.contains("object") ? std::move(j["object"]) : json::object();
      WatchEvent event;
      if (type == "ADDED") {
        event.type = WatchEvent::Type::kAdded;
      } else if (type == "MODIFIED") {
        event.type = WatchEvent::Type::kModified;
      } else if (type == "DELETED") {
        event.type = WatchEvent::Type::kDeleted;
      } else if (type == "BOOKMARK") {
        event.type = WatchEvent::Type::kBookmark;
      } else if (type == "ERROR") {
        return StatusFromApiStatus(object);
      } else {
        return Unavailable("unknown watch event type \"" + type + "\"");
      }
      event.object = std::move(object);
      return std::optional<WatchEvent>(std::move(event));
    }
  }

  void Cancel() override { reader_->Cancel(); }

 private:
  std::unique_ptr<StreamReader> reader_;
};

class RestClient final : public Client {
 public:
  RestClient(std::unique_ptr<HttpTransport> transport, ClientOptions options)
      : transport_(std::move(transport)), options_(std::move(options)) {}

  StatusOr<json> Get(const ResourceRef& ref, std::string_view ns, std::string_view name) override {
    RUO_RETURN_IF_ERROR(CheckNamespace(ref, ns));
    return Do("GET", ref.ObjectPath(ns, name), nullptr, "", nullptr);
  }

  StatusOr<ListResult> List(const ResourceRef& ref, std::string_view ns,
                            const ListOptions& options) override {
    ListResult result;
    std::string continue_token = options.continue_token;
    while (true) {
      std::vector<std::pair<std::string, std::string>> params = {
          {"labelSelector", options.label_selector},
          {"fieldSelector", options.field_selector},
          {"limit", options.limit > 0 ? std::to_string(options.limit) : ""},
          {"continue", continue_token},
          // resourceVersion may not be combined with a continue token.
          {"resourceVersion", continue_token.empty() ? options.resource_version : ""},
      };
      RUO_ASSIGN_OR_RETURN(json page, Do("GET", ref.CollectionPath(ns) + QueryString(params),
                                         nullptr, "", options.cancel));
      size_t before = result.items.size();
      if (auto it = page.find("items"); it != page.end() && it->is_array()) {
        for (auto& item : *it) result.items.push_back(std::move(item));
      }
      FillItemKinds(page, result.items, before);
      const json& meta = page.contains("metadata") ? page["metadata"] : json::object();
      if (auto it = meta.find("resourceVersion"); it != meta.end() && it->is_string()) {
        result.resource_version = it->get<std::string>();
      }
      continue_token.clear();
      if (auto it = meta.find("continue"); it != meta.end() && it->is_string()) {
        continue_token = it->get<std::string>();
      }
      if (continue_token.empty() || !options.all_pages) break;
    }
    result.continue_token = continue_token;
    return result;
  }

  StatusOr<json> Create(const ResourceRef& ref, std::string_view ns, const json& obj) override {
    std::string n = ns.empty() ? NamespaceOf(obj) : std::string(ns);
    RUO_RETURN_IF_ERROR(CheckNamespace(ref, n));
    return Do("POST", ref.CollectionPath(n) + WriteQuery(), &obj, kJsonContentType, nullptr);
  }

  StatusOr<json> Update(const ResourceRef& ref, std::string_view ns, const json& obj) override {
    return Put(ref, ns, obj, "");
  }

  StatusOr<json> UpdateStatus(const ResourceRef& ref, std::string_view ns,
                              const json& obj) override {
    return Put(ref, ns, obj, "status");
  }

  StatusOr<json> Patch(const ResourceRef& ref, std::string_view ns, std::string_view name,
                       PatchType type, const json& patch, const PatchOptions& options) override {
    RUO_RETURN_IF_ERROR(CheckNamespace(ref, ns));
    if (name.empty()) return InvalidArgument("patch: empty name");
    std::string manager =
        options.field_manager.empty() ? options_.field_manager : options.field_manager;
    std::vector<std::pair<std::string, std::string>> params = {{"fieldManager", manager}};
    if (type == PatchType::kApply && options.force) params.emplace_back("force", "true");
    return Do("PATCH", ref.ObjectPath(ns, name, options.subresource) + QueryString(params), &patch,
              PatchContentType(type), nullptr);
  }

  Status Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                const DeleteOptions& options) override {
    RUO_RETURN_IF_ERROR(CheckNamespace(ref, ns));
    if (name.empty()) return InvalidArgument("delete: empty name");
    json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
    if (!options.precondition_uid.empty()) {
      body["preconditions"]["uid"] = options.precondition_uid;
    }
    if (!options.precondition_resource_version.empty()) {
      body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
    }
    if (!options.propagation_policy.empty()) {
      body["propagationPolicy"] = options.propagation_policy;
    }
    if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
    return Do("DELETE", ref.ObjectPath(ns, name), &body, kJsonContentType, nullptr).status();
  }

  StatusOr<json> CreateSubresource(const ResourceRef& ref, std::string_view ns,
                                   std::string_view name, std::string_view subresource,
                                   const json& body) override {
    RUO_RETURN_IF_ERROR(CheckNamespace(ref, ns));
    return Do("POST", ref.ObjectPath(ns, name, subresource), &body, kJsonContentType, nullptr);
  }

  StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceRef& ref, std::string_view ns,
                                               const WatchOptions& options,
                                               const CancelTokenPtr& cancel) override {
    std::vector<std::pair<std::string, std::string>> params = {
        {"watch", "1"},
        {"resourceVersion", options.resource_version},
        {"allowWatchBookmarks", options.allow_bookmarks ? "true" : ""},
        {"timeoutSeconds",
         options.timeout_seconds > 0 ? std::to_string(options.timeout_seconds) : ""},
        {"labelSelector", options.label_selector},
        {"fieldSelector", options.field_selector},
    };
    HttpRequest request;
    request.method = "GET";
    request.path = ref.CollectionPath(ns) + QueryString(params);
    request.headers.emplace_back("Accept", kJsonContentType);
    // The server is silent between events (bookmarks come about once a minute)
    // and ends the watch at timeoutSeconds: only a longer silence is a failure.
    auto idle = std::chrono::seconds(std::max(options.timeout_seconds, 60) + 30);
    RUO_ASSIGN_OR_RETURN(std::unique_ptr<StreamReader> reader,
                         transport_->Stream(request, idle, cancel));
    if (reader->status() / 100 != 2) {
      std::string body;
      while (true) {
        auto line = reader->ReadLine();
        if (!line.ok() || !line->has_value()) break;
        body += **line;
        body += '\n';
      }
      return StatusFromHttp(reader->status(), body);
    }
    return std::unique_ptr<WatchStream>(std::make_unique<RestWatchStream>(std::move(reader)));
  }

 private:
  static Status CheckNamespace(const ResourceRef& ref, std::string_view ns) {
    if (ref.namespaced && ns.empty()) {
      return InvalidArgument("a namespace is required for " + ref.resource);
    }
    return Status::Ok();
  }

  std::string WriteQuery() const { return QueryString({{"fieldManager", options_.field_manager}}); }

  StatusOr<json> Put(const ResourceRef& ref, std::string_view ns, const json& obj,
                     std::string_view subresource) {
    std::string n = ns.empty() ? NamespaceOf(obj) : std::string(ns);
    RUO_RETURN_IF_ERROR(CheckNamespace(ref, n));
    std::string name = NameOf(obj);
    if (name.empty()) return InvalidArgument("update: object has no metadata.name");
    return Do("PUT", ref.ObjectPath(n, name, subresource) + WriteQuery(), &obj, kJsonContentType,
              nullptr);
  }

  StatusOr<json> Do(std::string_view method, std::string path, const json* body,
                    std::string_view content_type, const CancelTokenPtr& cancel) {
    HttpRequest request;
    request.method = std::string(method);
    request.path = std::move(path);
    request.headers.emplace_back("Accept", kJsonContentType);
    if (body != nullptr) {
      request.body = Dump(*body);
      request.headers.emplace_back("Content-Type", std::string(content_type));
    }
    RUO_ASSIGN_OR_RETURN(HttpResponse response,
                         transport_->Send(request, options_.request_timeout, cancel));
    // The API's message is kept verbatim: it already names the object and is
    // what users should see in conditions and events.
    if (response.status / 100 != 2) return StatusFromHttp(response.status, response.body);
    return ParseBody(response.body);
  }

  std::unique_ptr<HttpTransport> transport_;
  const ClientOptions options_;
};

}  // namespace

std::string_view WatchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
    case WatchEvent::Type::kBookmark:
      return "BOOKMARK";
  }
  return "UNKNOWN";
}

StatusOr<std::unique_ptr<Client>> NewClient(const RestConfig& config,
                                            const ClientOptions& options) {
  RUO_ASSIGN_OR_RETURN(std::unique_ptr<HttpTransport> transport, NewCppRestTransport(config));
  return NewClientWithTransport(std::move(transport), options);
}

std::unique_ptr<Client> NewClientWithTransport(std::unique_ptr<HttpTransport> transport,
                                               const ClientOptions& options) {
  return std::make_unique<RestClient>(std::move(transport), options);
}

}  // namespace ruo::k8s
