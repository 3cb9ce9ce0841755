#include "k8s/client.h"

#include <gtest/gtest.h>

#include "k8s/events.h"
#include "unit/k8s/fake_transport.h"

namespace ruo::k8s {
namespace {

using nlohmann::json;
using testing::FakeState;
using testing::FakeTransport;
using testing::Json;
using testing::Lines;

std::string ApiStatus(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
              {"code", code},     {"reason", reason},   {"message", message}}
      .dump();
}

// ---- error mapping ---------------------------------------------------------

TEST(ErrorsTest, MapsApiStatus) {
  struct Case {
    int http;
    std::string reason;
    StatusCode code;
    std::string want_reason;
  };
  const Case cases[] = {
      {404, "NotFound", StatusCode::kNotFound, "NotFound"},
      {409, "AlreadyExists", StatusCode::kAlreadyExists, "AlreadyExists"},
      {409, "Conflict", StatusCode::kAborted, "Conflict"},
      {410, "Expired", StatusCode::kAborted, "Gone"},
      {410, "Gone", StatusCode::kAborted, "Gone"},
      {401, "Unauthorized", StatusCode::kUnauthenticated, "Unauthorized"},
      {403, "Forbidden", StatusCode::kPermissionDenied, "Forbidden"},
      {422, "Invalid", StatusCode::kInvalidArgument, "Invalid"},
      {400, "BadRequest", StatusCode::kInvalidArgument, "BadRequest"},
      {429, "TooManyRequests", StatusCode::kUnavailable, "TooManyRequests"},
      {500, "InternalError", StatusCode::kUnavailable, "InternalError"},
      {503, "ServiceUnavailable", StatusCode::kUnavailable, "ServiceUnavailable"},
      {504, "Timeout", StatusCode::kDeadlineExceeded, "Timeout"},
      {500, "Timeout", StatusCode::kDeadlineExceeded, "Timeout"},
  };
  for (const auto& c : cases) {
    Status s = StatusFromHttp(c.http, ApiStatus(c.http, c.reason, "the message"));
    EXPECT_EQ(s.code(), c.code) << c.http << " " << c.reason;
    EXPECT_EQ(s.reason(), c.want_reason) << c.http << " " << c.reason;
    EXPECT_EQ(s.message(), "the message");
  }
  EXPECT_TRUE(IsGone(StatusFromHttp(410, ApiStatus(410, "Expired", "too old"))));
  EXPECT_TRUE(IsConflict(StatusFromHttp(409, ApiStatus(409, "Conflict", "stale"))));
  EXPECT_FALSE(IsConflict(StatusFromHttp(409, ApiStatus(409, "AlreadyExists", "x"))));
  EXPECT_EQ(ClassifyForRetry(StatusFromHttp(409, ApiStatus(409, "Conflict", "x"))),
            RetryClass::kReread);
}

TEST(ErrorsTest, NonStatusBodies) {
  Status s = StatusFromHttp(403, "forbidden by proxy\n");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.reason(), "Forbidden");
  EXPECT_EQ(s.message(), "forbidden by proxy");
  Status empty = StatusFromHttp(502, "");
  EXPECT_EQ(empty.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(empty.message().empty());
}

TEST(ErrorsTest, WatchErrorEventStatus) {
  json status = json::parse(ApiStatus(410, "Expired", "too old resource version: 1 (42)"));
  Status s = StatusFromApiStatus(status);
  EXPECT_TRUE(IsGone(s));
  EXPECT_EQ(s.message(), "too old resource version: 1 (42)");
}

// ---- URL and selector encoding ---------------------------------------------

TEST(EncodingTest, UrlEncodeAndQuery) {
  EXPECT_EQ(UrlEncode("a-b_c.d~9"), "a-b_c.d~9");
  EXPECT_EQ(UrlEncode("app=redis,tier in (a,b)"), "app%3Dredis%2Ctier%20in%20%28a%2Cb%29");
  EXPECT_EQ(UrlEncode("!x/y?z&"), "%21x%2Fy%3Fz%26");
  EXPECT_EQ(QueryString({{"a", "1"}, {"b", ""}, {"c", "x y"}}), "?a=1&c=x%20y");
  EXPECT_EQ(QueryString({{"a", ""}}), "");
}

TEST(EncodingTest, LabelSelectors) {
  EXPECT_EQ(LabelSelectorFromMap({{"b", "2"}, {"a", "1"}}), "a=1,b=2");
  json selector = json::parse(R"({
    "matchLabels": {"app": "redis"},
    "matchExpressions": [
      {"key": "tier", "operator": "In", "values": ["a", "b"]},
      {"key": "env", "operator": "NotIn", "values": ["dev"]},
      {"key": "role", "operator": "Exists"},
      {"key": "legacy", "operator": "DoesNotExist"}]})");
  auto s = LabelSelectorToString(selector);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "app=redis,tier in (a,b),env notin (dev),role,!legacy");
  EXPECT_FALSE(
      LabelSelectorToString(json::parse(R"({"matchExpressions":[{"key":"k","operator":"Gt"}]})"))
          .ok());
}

TEST(ResourceTest, Paths) {
  EXPECT_EQ(resources::Pods().ObjectPath("ns", "p", "status"),
            "/api/v1/namespaces/ns/pods/p/status");
  EXPECT_EQ(resources::StatefulSets().CollectionPath("ns"),
            "/apis/apps/v1/namespaces/ns/statefulsets");
  EXPECT_EQ(resources::StatefulSets().CollectionPath(""), "/apis/apps/v1/statefulsets");
  EXPECT_EQ(resources::CustomResourceDefinitions().ObjectPath("ignored", "x.y"),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.y");
  EXPECT_EQ(resources::Leases().ApiVersion(), "coordination.k8s.io/v1");
  EXPECT_EQ(resources::ConfigMaps().ApiVersion(), "v1");
}

// ---- client over a fake transport -------------------------------------------

class ClientTest : public ::testing::Test {
 protected:
  ClientTest()
      : state_(std::make_shared<FakeState>()),
        client_(NewClientWithTransport(std::make_unique<FakeTransport>(state_))) {}

  void Queue(int status, const std::string& body) {
    state_->responses.push_back(Json(status, body));
  }
  const HttpRequest& Request(size_t i) { return state_->requests.at(i); }

  std::shared_ptr<FakeState> state_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, GetAndNotFound) {
  Queue(200, R"({"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"5"}})");
  auto cm = client_->Get(resources::ConfigMaps(), "ns", "a");
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  EXPECT_EQ(ResourceVersionOf(*cm), "5");
  EXPECT_EQ(Request(0).method, "GET");
  EXPECT_EQ(Request(0).path, "/api/v1/namespaces/ns/configmaps/a");

  Queue(404, ApiStatus(404, "NotFound", R"(configmaps "b" not found)"));
  auto missing = client_->Get(resources::ConfigMaps(), "ns", "b");
  EXPECT_TRUE(IsNotFound(missing.status()));
  EXPECT_EQ(missing.status().message(), R"(configmaps "b" not found)");
}

TEST_F(ClientTest, NamespaceRequiredForNamespacedResources) {
  EXPECT_EQ(client_->Get(resources::Pods(), "", "p").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(state_->requests.empty());
}

TEST_F(ClientTest, ListFollowsContinueTokens) {
  Queue(200,
        R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"100","continue":"t1"},
                 "items":[{"metadata":{"name":"p1"}},{"metadata":{"name":"p2"}}]})");
  Queue(200,
        R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"100","continue":"t2"},
                 "items":[{"metadata":{"name":"p3"}},{"metadata":{"name":"p4"}}]})");
  Queue(200, R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"100"},
                 "items":[{"metadata":{"name":"p5"}}]})");
  ListOptions options;
  options.limit = 2;
  options.label_selector = "app=redis,role in (master)";
  auto list = client_->List(resources::Pods(), "ns", options);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->items.size(), 5u);
  EXPECT_EQ(NameOf(list->items[4]), "p5");
  EXPECT_EQ(KindOf(list->items[0]), "Pod");
  EXPECT_EQ(ApiVersionOf(list->items[0]), "v1");
  EXPECT_EQ(list->resource_version, "100");
  EXPECT_TRUE(list->continue_token.empty());
  ASSERT_EQ(state_->requests.size(), 3u);
  EXPECT_EQ(Request(0).path,
            "/api/v1/namespaces/ns/pods?labelSelector=app%3Dredis%2Crole%20in%20%28master%29"
            "&limit=2");
  EXPECT_EQ(Request(1).path,
            "/api/v1/namespaces/ns/pods?labelSelector=app%3Dredis%2Crole%20in%20%28master%29"
            "&limit=2&continue=t1");
  EXPECT_NE(Request(2).path.find("continue=t2"), std::string::npos);
}

TEST_F(ClientTest, ListSinglePage) {
  Queue(
      200,
      R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"c"},
                 "items":[{"metadata":{"name":"a"}}]})");
  ListOptions options;
  options.limit = 1;
  options.all_pages = false;
  options.resource_version = "0";
  options.field_selector = "metadata.name=a";
  auto list = client_->List(resources::ConfigMaps(), "", options);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->continue_token, "c");
  EXPECT_EQ(Request(0).path,
            "/api/v1/configmaps?fieldSelector=metadata.name%3Da&limit=1&resourceVersion=0");
}

TEST_F(ClientTest, ListExpiredContinueIsGone) {
  Queue(410, ApiStatus(410, "Expired", "The provided continue parameter is too old"));
  auto list = client_->List(resources::Pods(), "ns", {});
  EXPECT_TRUE(IsGone(list.status()));
}

TEST_F(ClientTest, CreateUpdateAndConflict) {
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "a"}, {"namespace", "ns"}}},
             {"data", {{"k", "v"}}}};
  Queue(201, R"({"metadata":{"name":"a","resourceVersion":"1"}})");
  ASSERT_TRUE(client_->Create(resources::ConfigMaps(), "", cm).ok());
  EXPECT_EQ(Request(0).method, "POST");
  EXPECT_EQ(Request(0).path,
            "/api/v1/namespaces/ns/configmaps?fieldManager=redis-upgrade-operator");
  EXPECT_EQ(json::parse(Request(0).body), cm);

  cm["metadata"]["resourceVersion"] = "1";
  Queue(409, ApiStatus(409, "Conflict",
                       "Operation cannot be fulfilled on configmaps \"a\": the object has been "
                       "modified; please apply your changes to the latest version and try again"));
  auto updated = client_->Update(resources::ConfigMaps(), "ns", cm);
  EXPECT_EQ(updated.status().code(), StatusCode::kAborted);
  EXPECT_TRUE(IsConflict(updated.status()));
  EXPECT_EQ(Request(1).method, "PUT");
  EXPECT_EQ(Request(1).path,
            "/api/v1/namespaces/ns/configmaps/a?fieldManager=redis-upgrade-operator");

  Queue(409, ApiStatus(409, "AlreadyExists", R"(configmaps "a" already exists)"));
  EXPECT_TRUE(IsAlreadyExists(client_->Create(resources::ConfigMaps(), "ns", cm).status()));
}

TEST_F(ClientTest, PatchesAndStatus) {
  Queue(200, "{}");
  Queue(200, "{}");
  Queue(200, "{}");
  Queue(200, "{}");
  Queue(200, "{}");
  ASSERT_TRUE(client_->MergePatch(resources::Services(), "ns", "s", {{"spec", {{"x", 1}}}}).ok());
  ASSERT_TRUE(client_
                  ->JsonPatch(resources::Services(), "ns", "s",
                              json::array({{{"op", "replace"}, {"path", "/a"}, {"value", 1}}}))
                  .ok());
  ASSERT_TRUE(client_->StrategicMergePatch(resources::Services(), "ns", "s", json::object()).ok());
  ASSERT_TRUE(
      client_
          ->PatchStatus(resources::RedisUpgrades(), "ns", "u", {{"status", {{"phase", "Syncing"}}}})
          .ok());
  ASSERT_TRUE(client_
                  ->UpdateStatus(resources::RedisUpgrades(), "ns",
                                 {{"metadata", {{"name", "u"}}}, {"status", json::object()}})
                  .ok());
  auto content_type = [&](size_t i) {
    for (const auto& [k, v] : Request(i).headers) {
      if (k == "Content-Type") return v;
    }
    return std::string();
  };
  EXPECT_EQ(Request(0).method, "PATCH");
  EXPECT_EQ(content_type(0), "application/merge-patch+json");
  EXPECT_EQ(content_type(1), "application/json-patch+json");
  EXPECT_EQ(content_type(2), "application/strategic-merge-patch+json");
  EXPECT_EQ(Request(3).path,
            "/apis/redisupgrade.dev/v1alpha1/namespaces/ns/redisupgrades/u/status"
            "?fieldManager=redis-upgrade-operator");
  EXPECT_EQ(Request(4).method, "PUT");
  EXPECT_EQ(Request(4).path,
            "/apis/redisupgrade.dev/v1alpha1/namespaces/ns/redisupgrades/u/status"
            "?fieldManager=redis-upgrade-operator");
}

TEST_F(ClientTest, DeleteWithPreconditions) {
  Queue(200, R"({"kind":"Status","status":"Success"})");
  DeleteOptions options;
  options.precondition_uid = "uid-1";
  options.precondition_resource_version = "9";
  options.propagation_policy = "Foreground";
  options.grace_period_seconds = 0;
  ASSERT_TRUE(client_->Delete(resources::StatefulSets(), "ns", "db", options).ok());
  EXPECT_EQ(Request(0).method, "DELETE");
  EXPECT_EQ(Request(0).path, "/apis/apps/v1/namespaces/ns/statefulsets/db");
  json body = json::parse(Request(0).body);
  EXPECT_EQ(body["preconditions"]["uid"], "uid-1");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "9");
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["gracePeriodSeconds"], 0);

  Queue(409, ApiStatus(409, "Conflict", "Precondition failed: UID in precondition: x"));
  EXPECT_TRUE(IsConflict(client_->Delete(resources::StatefulSets(), "ns", "db", options)));
}

TEST_F(ClientTest, CreateSubresource) {
  Queue(201, R"({"status":{"token":"jwt"}})");
  auto r = client_->CreateSubresource(
      resources::ServiceAccounts(), "ns", "sa", "token",
      {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["status"]["token"], "jwt");
  EXPECT_EQ(Request(0).path, "/api/v1/namespaces/ns/serviceaccounts/sa/token");
}

TEST_F(ClientTest, TransportErrorsPassThrough) {
  state_->responses.push_back(Unavailable("connection refused"));
  EXPECT_EQ(client_->Get(resources::Pods(), "ns", "p").status().code(), StatusCode::kUnavailable);
  Queue(200, "not json");
  EXPECT_EQ(client_->Get(resources::Pods(), "ns", "p").status().code(), StatusCode::kInternal);
}

TEST_F(ClientTest, WatchParsesEvents) {
  state_->streams.push_back(Lines({
      R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})",
      "",
      R"({"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"12"}}})",
      R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"15"}}})",
      R"({"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"16"}}})",
      R"js({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 1 (16)"}})js",
  }));
  WatchOptions options;
  options.resource_version = "10";
  options.label_selector = "app=x";
  options.timeout_seconds = 5;
  auto stream = client_->Watch(resources::ConfigMaps(), "ns", options, nullptr);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  EXPECT_EQ(Request(0).path,
            "/api/v1/namespaces/ns/configmaps?watch=1&resourceVersion=10&allowWatchBookmarks=true"
            "&timeoutSeconds=5&labelSelector=app%3Dx");
  std::vector<std::string> seen;
  while (true) {
    auto ev = (*stream)->Next();
    if (!ev.ok()) {
      EXPECT_TRUE(IsGone(ev.status())) << ev.status().ToString();
      EXPECT_EQ(ev.status().message(), "too old resource version: 1 (16)");
      break;
    }
    ASSERT_TRUE(ev->has_value());
    seen.push_back(std::string(WatchEventTypeName((*ev)->type)) + ":" +
                   ResourceVersionOf((*ev)->object));
  }
  EXPECT_EQ(seen,
            (std::vector<std::string>{"ADDED:11", "MODIFIED:12", "BOOKMARK:15", "DELETED:16"}));
}

TEST_F(ClientTest, WatchHttpErrorIsMapped) {
  state_->streams.push_back(
      Lines({ApiStatus(403, "Forbidden", "pods is forbidden: User \"x\" cannot watch")},
            testing::FakeStreamReader::End::kEof, 403));
  auto stream = client_->Watch(resources::Pods(), "ns", {}, nullptr);
  EXPECT_EQ(stream.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(stream.status().message(), "pods is forbidden: User \"x\" cannot watch");
}

TEST_F(ClientTest, WatchMalformedLineEndsStream) {
  state_->streams.push_back(Lines({"{not json"}));
  auto stream = client_->Watch(resources::Pods(), "ns", {}, nullptr);
  ASSERT_TRUE(stream.ok());
  EXPECT_EQ((*stream)->Next().status().code(), StatusCode::kUnavailable);
}

// ---- events -----------------------------------------------------------------

TEST(EventsTest, MakeEvent) {
  json owner = {{"apiVersion", "redisupgrade.dev/v1alpha1"},
                {"kind", "RedisUpgrade"},
                {"metadata", {{"name", "u"}, {"namespace", "shop"}, {"uid", "u-1"}}}};
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  json e = MakeEvent(owner, {"Warning", "CatchUpTimedOut", "lag stayed above 10MiB"}, "ruo", now);
  EXPECT_EQ(e["metadata"]["namespace"], "shop");
  EXPECT_EQ(e["metadata"]["name"].get<std::string>().rfind("u.", 0), 0u);
  EXPECT_EQ(e["involvedObject"]["uid"], "u-1");
  EXPECT_EQ(e["involvedObject"]["kind"], "RedisUpgrade");
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_EQ(e["reason"], "CatchUpTimedOut");
  EXPECT_EQ(e["count"], 1);
  EXPECT_EQ(e["firstTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(e["lastTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(e["reportingComponent"], "ruo");
  EXPECT_EQ(e["source"]["component"], "ruo");
}

TEST(EventsTest, RecorderFoldsRepeats) {
  auto state = std::make_shared<FakeState>();
  auto client = NewClientWithTransport(std::make_unique<FakeTransport>(state));
  FakeClock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)));
  EventRecorder recorder(*client, "ruo", clock);
  json owner = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", "s"}, {"namespace", "ns"}, {"uid", "1"}}}};
  state->responses.push_back(Json(201, R"({"metadata":{"name":"s.abc","namespace":"ns"}})"));
  state->responses.push_back(Json(200, "{}"));
  state->responses.push_back(Json(201, R"({"metadata":{"name":"s.def","namespace":"ns"}})"));
  ASSERT_TRUE(recorder.Record(owner, {"Normal", "Moved", "VIP moved"}).ok());
  clock.Advance(std::chrono::seconds(5));
  ASSERT_TRUE(recorder.Record(owner, {"Normal", "Moved", "VIP moved"}).ok());
  ASSERT_TRUE(recorder.Record(owner, {"Normal", "Other", "different"}).ok());
  ASSERT_EQ(state->requests.size(), 3u);
  EXPECT_EQ(state->requests[0].method, "POST");
  EXPECT_EQ(state->requests[1].method, "PATCH");
  EXPECT_EQ(state->requests[1].path,
            "/api/v1/namespaces/ns/events/s.abc?fieldManager=redis-upgrade-operator");
  json patch = json::parse(state->requests[1].body);
  EXPECT_EQ(patch["count"], 2);
  EXPECT_EQ(patch["lastTimestamp"], "2023-11-14T22:13:25Z");
  EXPECT_EQ(state->requests[2].method, "POST");
}

}  // namespace
}  // namespace ruo::k8s
