#include "runtime/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "unit/runtime/fake_api.h"

namespace ruo::runtime {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::FakeApi;
using testing::Obj;

json WithRv(json obj, const std::string& rv) {
  obj["metadata"]["resourceVersion"] = rv;
  return obj;
}

k8s::WatchEvent Event(k8s::WatchEvent::Type type, json obj) {
  k8s::WatchEvent e;
  e.type = type;
  e.object = std::move(obj);
  return e;
}

// Records handler calls as "add ns/a", "update ns/a 1->2", "delete ns/a".
class Recorder {
 public:
  ResourceEventHandler Handler() {
    ResourceEventHandler h;
    h.on_add = [this](const json& o) { Push("add " + ObjectKey(o)); };
    h.on_update = [this](const json& o, const json& n) {
      Push("update " + ObjectKey(n) + " " + k8s::ResourceVersionOf(o) + "->" +
           k8s::ResourceVersionOf(n));
    };
    h.on_delete = [this](const json& o) { Push("delete " + ObjectKey(o)); };
    return h;
  }
  std::vector<std::string> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    auto out = std::move(calls_);
    calls_.clear();
    return out;
  }
  bool WaitFor(const std::string& call, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& c : calls_) {
        if (c == call) return true;
      }
      return false;
    });
  }

 private:
  void Push(std::string s) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(s));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
};

using Calls = std::vector<std::string>;

// The informer's watch request has reached the fake (so EndWatches hits it).
bool WatchOpened(FakeApi& api) {
  for (int i = 0; i < 500 && api.calls("watch") == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  return api.calls("watch") > 0;
}

TEST(ObjectKeyTest, NamespacedAndClusterScoped) {
  EXPECT_EQ(ObjectKey(Obj("Pod", "shop", "a")), "shop/a");
  EXPECT_EQ(ObjectKey(json{{"metadata", {{"name", "n1"}}}}), "n1");
}

TEST(InformerStoreTest, SyncAddsEverythingAndMarksSynced) {
  FakeApi api;
  Informer inf(api, k8s::resources::Pods());
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  EXPECT_FALSE(inf.HasSynced());
  inf.OnSync({WithRv(Obj("Pod", "ns", "b"), "2"), WithRv(Obj("Pod", "ns", "a"), "1")}, "10");
  EXPECT_TRUE(inf.HasSynced());
  EXPECT_EQ(rec.Take(), (Calls{"add ns/a", "add ns/b"}));
  EXPECT_EQ(inf.Size(), 2u);
  EXPECT_EQ(inf.LastResourceVersion(), "10");
  ASSERT_TRUE(inf.Get("ns/a").has_value());
  EXPECT_EQ(k8s::ResourceVersionOf(*inf.Get("ns/a")), "1");
  EXPECT_FALSE(inf.Get("ns/zz").has_value());
}

TEST(InformerStoreTest, RelistEmitsDeletesForVanishedAndUpdatesForChangedOnly) {
  FakeApi api;
  Informer inf(api, k8s::resources::Pods());
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.OnSync({WithRv(Obj("Pod", "ns", "a"), "1"), WithRv(Obj("Pod", "ns", "b"), "2"),
              WithRv(Obj("Pod", "ns", "c"), "3")},
             "10");
  rec.Take();
  // After a 410 the watcher relists: b vanished, c changed, a is the same, d is new.
  inf.OnSync({WithRv(Obj("Pod", "ns", "a"), "1"), WithRv(Obj("Pod", "ns", "c"), "7"),
              WithRv(Obj("Pod", "ns", "d"), "8")},
             "20");
  EXPECT_EQ(rec.Take(), (Calls{"delete ns/b", "update ns/c 3->7", "add ns/d"}));
  EXPECT_FALSE(inf.Get("ns/b").has_value());
  EXPECT_EQ(inf.Size(), 3u);
  EXPECT_EQ(inf.LastResourceVersion(), "20");
}

TEST(InformerStoreTest, EventsApplyInOrder) {
  FakeApi api;
  Informer inf(api, k8s::resources::Pods());
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.OnSync({}, "1");
  using T = k8s::WatchEvent::Type;
  inf.OnEvent(Event(T::kAdded, WithRv(Obj("Pod", "ns", "a"), "2")));
  inf.OnEvent(Event(T::kModified, WithRv(Obj("Pod", "ns", "a"), "3")));
  // Same resourceVersion again (a replay): no handler call.
  inf.OnEvent(Event(T::kModified, WithRv(Obj("Pod", "ns", "a"), "3")));
  // MODIFIED of an object never seen is an add; ADDED of a known one an update.
  inf.OnEvent(Event(T::kModified, WithRv(Obj("Pod", "ns", "x"), "4")));
  inf.OnEvent(Event(T::kAdded, WithRv(Obj("Pod", "ns", "x"), "5")));
  inf.OnEvent(Event(T::kDeleted, WithRv(Obj("Pod", "ns", "a"), "6")));
  inf.OnEvent(Event(T::kBookmark, WithRv(json{{"kind", "Pod"}}, "7")));
  EXPECT_EQ(rec.Take(),
            (Calls{"add ns/a", "update ns/a 2->3", "add ns/x", "update ns/x 4->5", "delete ns/a"}));
  EXPECT_EQ(inf.Size(), 1u);
  EXPECT_EQ(inf.LastResourceVersion(), "6");
}

TEST(InformerStoreTest, DeleteOfUnknownObjectStillNotifies) {
  FakeApi api;
  Informer inf(api, k8s::resources::Pods());
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.OnSync({}, "1");
  inf.OnEvent(Event(k8s::WatchEvent::Type::kDeleted, WithRv(Obj("Pod", "ns", "gone"), "2")));
  EXPECT_EQ(rec.Take(), (Calls{"delete ns/gone"}));
  EXPECT_EQ(inf.Size(), 0u);
}

TEST(InformerStoreTest, LateHandlerGetsAddsForCachedObjects) {
  FakeApi api;
  Informer inf(api, k8s::resources::Pods());
  inf.OnSync({WithRv(Obj("Pod", "ns", "a"), "1")}, "5");
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  EXPECT_EQ(rec.Take(), (Calls{"add ns/a"}));
}

TEST(InformerStoreTest, ListNamespaceReturnsOnlyThatNamespace) {
  FakeApi api;
  Informer inf(api, k8s::resources::Pods());
  inf.OnSync(
      {Obj("Pod", "a", "p1"), Obj("Pod", "ab", "p2"), Obj("Pod", "a", "p3"), Obj("Pod", "b", "p4")},
      "5");
  auto a = inf.ListNamespace("a");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(k8s::NameOf(a[0]), "p1");
  EXPECT_EQ(k8s::NameOf(a[1]), "p3");
  EXPECT_EQ(inf.ListNamespace("ab").size(), 1u);
  EXPECT_TRUE(inf.ListNamespace("zz").empty());
  EXPECT_EQ(inf.List().size(), 4u);
}

TEST(InformerStoreTest, StripsManagedFields) {
  FakeApi api;
  Informer inf(api, k8s::resources::Pods());
  json pod = Obj("Pod", "ns", "a");
  pod["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  inf.OnSync({pod}, "1");
  EXPECT_FALSE(inf.Get("ns/a")->at("metadata").contains("managedFields"));
}

TEST(InformerStoreTest, KeepFieldsKeepsOnlyThoseAndTheIdentity) {
  FakeApi api;
  InformerOptions o;
  o.keep_fields = {"/metadata/labels", "/spec/selector", "/status/missing"};
  Informer inf(api, k8s::resources::Services(), o);
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  json svc = WithRv(Obj("Service", "ns", "a"), "1");
  svc["metadata"]["uid"] = "u1";
  svc["metadata"]["labels"] = {{"app", "x"}};
  svc["metadata"]["annotations"] = {{"big", std::string(4096, 'x')}};
  svc["spec"] = {{"selector", {{"app", "x"}}}, {"ports", json::array({{{"port", 6379}}})}};
  svc["status"] = "not an object";  // a pointer through a non-object is skipped
  inf.OnSync({svc}, "1");
  json want = {{"apiVersion", svc["apiVersion"]},
               {"kind", "Service"},
               {"metadata",
                {{"name", "a"},
                 {"namespace", "ns"},
                 {"uid", "u1"},
                 {"resourceVersion", "1"},
                 {"labels", {{"app", "x"}}}}},
               {"spec", {{"selector", {{"app", "x"}}}}}};
  EXPECT_EQ(*inf.Get("ns/a"), want);
  EXPECT_EQ(rec.Take(), std::vector<std::string>{"add ns/a"});

  // A change to a dropped field is still an update (a new resourceVersion).
  json changed = WithRv(svc, "2");
  changed["metadata"]["annotations"]["big"] = "y";
  inf.OnEvent(Event(k8s::WatchEvent::Type::kModified, changed));
  EXPECT_EQ(rec.Take(), std::vector<std::string>{"update ns/a 1->2"});
  EXPECT_FALSE(inf.Get("ns/a")->at("metadata").contains("annotations"));
}

TEST(InformerStoreTest, HandlerMayReadTheCacheAndThrowWithoutBreakingOthers) {
  FakeApi api;
  Informer inf(api, k8s::resources::Pods());
  size_t seen_size = 0;
  ResourceEventHandler reader;
  reader.on_add = [&](const json&) {
    seen_size = inf.Size();  // no deadlock: handlers run without the store lock
    throw std::runtime_error("handler bug");
  };
  inf.AddEventHandler(reader);
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.OnSync({Obj("Pod", "ns", "a")}, "1");
  EXPECT_EQ(seen_size, 1u);
  EXPECT_EQ(rec.Take(), (Calls{"add ns/a"}));
}

// The informer driven by a real k8s::Watcher over the fake API server.
TEST(InformerWatchTest, ListsThenFollowsChanges) {
  FakeApi api;
  api.Put(k8s::resources::Pods(), Obj("Pod", "ns", "a"));
  api.Put(k8s::resources::Pods(), Obj("Pod", "other", "z"));
  InformerOptions opts;
  opts.ns = "ns";
  Informer inf(api, k8s::resources::Pods(), opts);
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(milliseconds(5000)));
  EXPECT_EQ(inf.Size(), 1u);  // namespace-scoped

  api.Put(k8s::resources::Pods(), Obj("Pod", "ns", "b"));
  ASSERT_TRUE(rec.WaitFor("add ns/b"));
  json a = *api.Peek(k8s::resources::Pods(), "ns", "a");
  a["metadata"]["labels"]["x"] = "y";
  api.Put(k8s::resources::Pods(), a);
  api.Remove(k8s::resources::Pods(), "ns", "b");
  ASSERT_TRUE(rec.WaitFor("delete ns/b"));
  EXPECT_EQ(k8s::LabelsOf(*inf.Get("ns/a")).at("x"), "y");
  EXPECT_EQ(inf.Size(), 1u);
  inf.Stop();
}

TEST(InformerWatchTest, ResumesAfterServerClosesWatchWithoutRelisting) {
  FakeApi api;
  api.Put(k8s::resources::Services(), Obj("Service", "ns", "s1"));
  Informer inf(api, k8s::resources::Services());
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(milliseconds(5000)));
  ASSERT_TRUE(WatchOpened(api));
  api.EndWatches();  // timeoutSeconds elapsed
  api.Put(k8s::resources::Services(), Obj("Service", "ns", "s2"));
  ASSERT_TRUE(rec.WaitFor("add ns/s2"));
  EXPECT_EQ(api.calls("list"), 1);
  EXPECT_GE(api.calls("watch"), 2);
  inf.Stop();
}

TEST(InformerWatchTest, GoneForcesRelistWithSyntheticDeletes) {
  FakeApi api;
  api.Put(k8s::resources::Pods(), Obj("Pod", "ns", "a"));
  api.Put(k8s::resources::Pods(), Obj("Pod", "ns", "b"));
  InformerOptions opts;
  opts.watcher.initial_backoff = milliseconds(1);
  opts.watcher.jitter = false;
  Informer inf(api, k8s::resources::Pods(), opts);
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(milliseconds(5000)));
  ASSERT_TRUE(WatchOpened(api));
  // b disappears in a change the watch history lost; the server says 410 Gone.
  api.RemoveUnwatched(k8s::resources::Pods(), "ns", "b");
  api.EndWatches(k8s::StatusFromHttp(410, R"({"kind":"Status","reason":"Expired","code":410})"));
  ASSERT_TRUE(rec.WaitFor("delete ns/b"));
  EXPECT_GE(api.calls("list"), 2);
  EXPECT_TRUE(inf.Get("ns/a").has_value());
  inf.Stop();
}

TEST(InformerWatchTest, LabelSelectorRestrictsTheCache) {
  FakeApi api;
  api.Put(k8s::resources::StatefulSets(),
          Obj("StatefulSet", "ns", "ours", {{"redisupgrade.dev/upgrade", "u1"}}));
  api.Put(k8s::resources::StatefulSets(), Obj("StatefulSet", "ns", "theirs"));
  InformerOptions opts;
  opts.label_selector = "redisupgrade.dev/upgrade";
  Informer inf(api, k8s::resources::StatefulSets(), opts);
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(milliseconds(5000)));
  EXPECT_EQ(inf.Size(), 1u);
  EXPECT_TRUE(inf.Get("ns/ours").has_value());
  inf.Stop();
}

TEST(WaitForCacheSyncTest, TimesOutAndHonoursStop) {
  FakeApi api;
  api.SetDown(true);
  Informer inf(api, k8s::resources::Pods());
  inf.Start();
  EXPECT_FALSE(WaitForCacheSync({&inf}, milliseconds(100)));
  auto stop = k8s::CancelToken::Create();
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(50));
    stop->Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(WaitForCacheSync({&inf}, milliseconds(10000), stop));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
  canceller.join();
  api.SetDown(false);
  EXPECT_TRUE(WaitForCacheSync({&inf}, milliseconds(10000)));
  inf.Stop();
}

}  // namespace
}  // namespace ruo::runtime
