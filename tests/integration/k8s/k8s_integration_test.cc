// The Kubernetes client against the real local control plane (hack/cluster).
// RUO_KUBECONFIG names the admin kubeconfig; CTest provides it through the
// k8s_cluster fixture. Each test works in its own namespace, deleted at the end.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/events.h"
#include "k8s/watch.h"
#include "support/wait.h"

namespace ruo::k8s {
namespace {

using ::ruo::testing::RandomSuffix;
// Every 200 ms: the cluster is shared by the whole run.
bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  return ::ruo::testing::WaitUntil(pred, timeout, std::chrono::milliseconds(200));
}

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

Status ToStatus(const Status& s) {
  return s;
}
template <typename T>
Status ToStatus(const StatusOr<T>& s) {
  return s.status();
}

// Works for Status and StatusOr alike.
#define ASSERT_OK(expr)                                            \
  do {                                                             \
    ::ruo::Status ruo_it_status_ = ToStatus(expr);                 \
    ASSERT_TRUE(ruo_it_status_.ok()) << ruo_it_status_.ToString(); \
  } while (0)

std::string Kubeconfig() {
  const char* kc = std::getenv("RUO_KUBECONFIG");
  return kc ? kc : "";
}

std::string ClusterDir() {
  if (const char* d = std::getenv("RUO_CLUSTER_DIR"); d && *d) return d;
  return std::filesystem::path(Kubeconfig()).parent_path().string();
}

// ---- a hand-written RESP client (no dependency on src/redis) ---------------

class RespConn {
 public:
  RespConn(const std::string& ip, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RespConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  // Returns the reply as text ("-ERR..." for errors, "" on I/O failure).
  std::string Command(const std::vector<std::string>& args) {
    if (fd_ < 0) return "";
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    if (::send(fd_, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
      return "";
    }
    std::string line;
    if (!ReadLine(&line) || line.empty()) return "";
    switch (line[0]) {
      case '+':
      case ':':
        return line.substr(1);
      case '-':
        return line;
      case '$': {
        long n = std::stol(line.substr(1));
        if (n < 0) return "(nil)";
        std::string data;
        if (!ReadN(static_cast<size_t>(n) + 2, &data)) return "";
        return data.substr(0, static_cast<size_t>(n));
      }
      default:
        return line;
    }
  }

 private:
  bool Fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    char tmp[4096];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  bool ReadLine(std::string* line) {
    size_t pos;
    while ((pos = buf_.find("\r\n")) == std::string::npos) {
      if (!Fill()) return false;
    }
    *line = buf_.substr(0, pos);
    buf_.erase(0, pos + 2);
    return true;
  }
  bool ReadN(size_t n, std::string* data) {
    while (buf_.size() < n) {
      if (!Fill()) return false;
    }
    *data = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }

  int fd_ = -1;
  std::string buf_;
};

std::string RedisCommand(const std::string& ip, const std::vector<std::string>& args) {
  RespConn conn(ip, 6379);
  return conn.Command(args);
}

// ---- a Client decorator: counts calls and can cut watches short -------------

class InjectingClient final : public Client {
 public:
  explicit InjectingClient(Client& inner) : inner_(inner) {}

  // Odd-numbered watch streams (the 1st, 3rd, ...) fail with kUnavailable
  // after this many events (0: never); the others run until the server ends
  // them, so both ways a watch ends are exercised.
  std::atomic<int> drop_after_events{0};
  std::atomic<int> lists{0};
  std::atomic<int> watches{0};
  std::atomic<int> drops{0};
  std::atomic<int> server_ends{0};  // streams the server closed (timeoutSeconds)

  StatusOr<json> Get(const ResourceRef& r, std::string_view ns, std::string_view n) override {
    return inner_.Get(r, ns, n);
  }
  StatusOr<ListResult> List(const ResourceRef& r, std::string_view ns,
                            const ListOptions& o) override {
    ++lists;
    return inner_.List(r, ns, o);
  }
  StatusOr<json> Create(const ResourceRef& r, std::string_view ns, const json& o) override {
    return inner_.Create(r, ns, o);
  }
  StatusOr<json> Update(const ResourceRef& r, std::string_view ns, const json& o) override {
    return inner_.Update(r, ns, o);
  }
  StatusOr<json> UpdateStatus(const ResourceRef& r, std::string_view ns, const json& o) override {
    return inner_.UpdateStatus(r, ns, o);
  }
  StatusOr<json> Patch(const ResourceRef& r, std::string_view ns, std::string_view n, PatchType t,
                       const json& p, const PatchOptions& o) override {
    return inner_.Patch(r, ns, n, t, p, o);
  }
  Status Delete(const ResourceRef& r, std::string_view ns, std::string_view n,
                const DeleteOptions& o) override {
    return inner_.Delete(r, ns, n, o);
  }
  StatusOr<json> CreateSubresource(const ResourceRef& r, std::string_view ns, std::string_view n,
                                   std::string_view sub, const json& b) override {
    return inner_.CreateSubresource(r, ns, n, sub, b);
  }
  StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceRef& r, std::string_view ns,
                                               const WatchOptions& o,
                                               const CancelTokenPtr& c) override {
    int n = ++watches;
    RUO_ASSIGN_OR_RETURN(std::unique_ptr<WatchStream> stream, inner_.Watch(r, ns, o, c));
    int limit = n % 2 == 1 && drop_after_events.load() > 0 ? drop_after_events.load() : -1;
    return std::unique_ptr<WatchStream>(std::make_unique<Stream>(std::move(stream), limit, this));
  }

 private:
  class Stream final : public WatchStream {
   public:
    Stream(std::unique_ptr<WatchStream> inner, int limit, InjectingClient* owner)
        : inner_(std::move(inner)), left_(limit), owner_(owner) {}
    StatusOr<std::optional<WatchEvent>> Next() override {
      if (left_ == 0) {
        // Tear the real connection down, as a network failure would.
        inner_->Cancel();
        ++owner_->drops;
        return Unavailable("injected connection drop");
      }
      auto ev = inner_->Next();
      if (ev.ok() && !ev->has_value()) ++owner_->server_ends;
      if (ev.ok() && ev->has_value() && (*ev)->type != WatchEvent::Type::kBookmark && left_ > 0) {
        --left_;
      }
      return ev;
    }
    void Cancel() override { inner_->Cancel(); }

   private:
    std::unique_ptr<WatchStream> inner_;
    int left_;  // events before the injected drop; negative: never
    InjectingClient* owner_;
  };

  Client& inner_;
};

// ---- a watch handler that records what it saw --------------------------------

class Recorder : public WatchHandler {
 public:
  void OnSync(const std::vector<json>& items, const std::string& rv) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++syncs_;
    sync_sizes_.push_back(items.size());
    last_sync_rv_ = rv;
    cv_.notify_all();
  }
  void OnEvent(const WatchEvent& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::string(WatchEventTypeName(e.type)) + ":" + NameOf(e.object));
    cv_.notify_all();
  }
  void OnError(const Status& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(s);
  }
  bool WaitForEvent(const std::string& event, milliseconds timeout = milliseconds(20000)) {
    return WaitFor(
        [&] { return std::find(events_.begin(), events_.end(), event) != events_.end(); }, timeout);
  }
  // `pred` runs with the lock held: it reads the fields, not the accessors.
  bool WaitFor(const std::function<bool()>& pred, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, pred);
  }
  bool WaitSyncs(int n, milliseconds timeout = milliseconds(20000)) {
    return WaitFor([&] { return syncs_ >= n; }, timeout);
  }
  bool WaitEvents(size_t n, milliseconds timeout = milliseconds(30000)) {
    return WaitFor([&] { return events_.size() >= n; }, timeout);
  }
  std::vector<std::string> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::vector<Status> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  int syncs() {
    std::lock_guard<std::mutex> lock(mu_);
    return syncs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int syncs_ = 0;
  std::vector<size_t> sync_sizes_;
  std::string last_sync_rv_;
  std::vector<std::string> events_;
  std::vector<Status> errors_;
};

// ---- the fixture --------------------------------------------------------------

json ConfigMap(const std::string& name, const json& data, const json& labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"data", data}};
}

class K8sIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Kubeconfig().empty())
        << "RUO_KUBECONFIG is not set. These tests need the local cluster: run them through "
           "ctest (the k8s_cluster fixture runs hack/cluster/up.sh and sets it), or run "
           "hack/cluster/up.sh and export RUO_KUBECONFIG=/tmp/ruo-cluster/kubeconfig.";
    auto config = LoadKubeconfig(Kubeconfig());
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;
    auto client = NewClient(config_);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();

    std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string slug;
    for (char c : test_name) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        slug += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    ns_ = "it-" + slug.substr(0, 40) + "-" + RandomSuffix();
    json ns = {{"apiVersion", "v1"},
               {"kind", "Namespace"},
               {"metadata", {{"name", ns_}, {"labels", {{"ruo-test", "k8s-integration"}}}}}};
    auto created = client_->Create(resources::Namespaces(), "", ns);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  void TearDown() override {
    for (const auto& crd : crds_) {
      Status s = client_->Delete(resources::CustomResourceDefinitions(), "", crd, {});
      if (!s.ok() && !IsNotFound(s))
        ADD_FAILURE() << "deleting CRD " << crd << ": " << s.ToString();
    }
    if (client_ && !ns_.empty()) {
      DeleteOptions options;
      options.propagation_policy = "Background";
      Status s = client_->Delete(resources::Namespaces(), "", ns_, options);
      if (!s.ok() && !IsNotFound(s)) ADD_FAILURE() << "deleting namespace: " << s.ToString();
    }
  }

  // A headless Service and a StatefulSet of `replicas` redis:7.0 pods, and a
  // wait until all are Ready. Returns pod name → podIP.
  std::map<std::string, std::string> StartRedisStatefulSet(const std::string& name, int replicas) {
    json headless = {{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata", {{"name", name + "-headless"}}},
                     {"spec",
                      {{"clusterIP", "None"},
                       {"selector", {{"app", name}}},
                       {"ports", json::array({{{"name", "redis"}, {"port", 6379}}})}}}};
    auto svc = client_->Create(resources::Services(), ns_, headless);
    EXPECT_TRUE(svc.ok()) << svc.status().ToString();
    json sts = {{"apiVersion", "apps/v1"},
                {"kind", "StatefulSet"},
                {"metadata", {{"name", name}}},
                {"spec",
                 {{"replicas", replicas},
                  {"serviceName", name + "-headless"},
                  {"podManagementPolicy", "Parallel"},
                  {"selector", {{"matchLabels", {{"app", name}}}}},
                  {"template",
                   {{"metadata", {{"labels", {{"app", name}}}}},
                    {"spec",
                     {{"containers",
                       json::array({{{"name", "redis"},
                                     {"image", "redis:7.0"},
                                     {"ports", json::array({{{"name", "redis"},
                                                             {"containerPort", 6379}}})}}})}}}}}}}};
    auto created = client_->Create(resources::StatefulSets(), ns_, sts);
    EXPECT_TRUE(created.ok()) << created.status().ToString();

    std::map<std::string, std::string> ips;
    bool ready = WaitUntil(
        [&] {
          ListOptions options;
          options.label_selector = "app=" + name;
          auto pods = client_->List(resources::Pods(), ns_, options);
          if (!pods.ok()) return false;
          ips.clear();
          for (const auto& pod : pods->items) {
            bool pod_ready = false;
            for (const auto& c : pod["status"].value("conditions", json::array())) {
              if (c.value("type", "") == "Ready" && c.value("status", "") == "True") {
                pod_ready = true;
              }
            }
            std::string ip = pod["status"].value("podIP", "");
            if (pod_ready && !ip.empty()) ips[NameOf(pod)] = ip;
          }
          return static_cast<int>(ips.size()) == replicas;
        },
        seconds(120));
    EXPECT_TRUE(ready) << "pods of " << name << " not Ready in time; ready: " << ips.size();
    return ips;
  }

  // The Service's loopback VIP from the node agent's vips file.
  std::string WaitForVip(const std::string& service) {
    std::string path = ClusterDir() + "/vips";
    std::string key = ns_ + "/" + service;
    std::string vip;
    WaitUntil(
        [&] {
          std::ifstream in(path);
          std::string line;
          while (std::getline(in, line)) {
            std::istringstream ss(line);
            std::string k, ip;
            if (ss >> k >> ip && k == key) {
              vip = ip;
              return true;
            }
          }
          return false;
        },
        seconds(30));
    return vip;
  }

  // Creates a namespaced CRD "widgets.<random group>" with a status
  // subresource, waits until it is Established, and deletes it in TearDown.
  ResourceRef CreateWidgetCrd() {
    std::string group = "it" + RandomSuffix() + ".ruo.dev";
    std::string crd_name = "widgets." + group;
    json crd = {
        {"apiVersion", "apiextensions.k8s.io/v1"},
        {"kind", "CustomResourceDefinition"},
        {"metadata", {{"name", crd_name}}},
        {"spec",
         {{"group", group},
          {"scope", "Namespaced"},
          {"names",
           {{"plural", "widgets"},
            {"singular", "widget"},
            {"kind", "Widget"},
            {"listKind", "WidgetList"}}},
          {"versions",
           json::array(
               {{{"name", "v1"},
                 {"served", true},
                 {"storage", true},
                 {"subresources", {{"status", json::object()}}},
                 {"schema",
                  {{"openAPIV3Schema",
                    {{"type", "object"},
                     {"properties",
                      {{"spec",
                        {{"type", "object"}, {"properties", {{"size", {{"type", "integer"}}}}}}},
                       {"status",
                        {{"type", "object"},
                         {"properties",
                          {{"phase", {{"type", "string"}}},
                           {"observed", {{"type", "integer"}}}}}}}}}}}}}}})}}}};
    auto created = client_->Create(resources::CustomResourceDefinitions(), "", crd);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    if (!created.ok()) return {};
    crds_.push_back(crd_name);
    bool established = WaitUntil(
        [&] {
          auto got = client_->Get(resources::CustomResourceDefinitions(), "", crd_name);
          if (!got.ok()) return false;
          for (const auto& c : (*got)["status"].value("conditions", json::array())) {
            if (c.value("type", "") == "Established" && c.value("status", "") == "True") {
              return true;
            }
          }
          return false;
        },
        seconds(30));
    EXPECT_TRUE(established) << "CRD " << crd_name << " not Established";
    if (!established) return {};
    return {group, "v1", "widgets", true};
  }

  // Creates a Widget, retrying while the new resource is not served yet
  // (Established can precede that by a moment).
  StatusOr<json> CreateWidget(const ResourceRef& widgets, const json& widget) {
    StatusOr<json> created = Internal("not tried");
    WaitUntil(
        [&] {
          created = client_->Create(widgets, ns_, widget);
          return created.ok();
        },
        seconds(30));
    return created;
  }

  RestConfig config_;
  std::unique_ptr<Client> client_;
  std::string ns_;
  std::vector<std::string> crds_;
};

// ---- CRUD ----------------------------------------------------------------------

TEST_F(K8sIntegrationTest, ConfigMapCrud) {
  auto created =
      client_->Create(resources::ConfigMaps(), ns_, ConfigMap("cm", {{"a", "1"}}, {{"t", "x"}}));
  ASSERT_OK(created);
  EXPECT_EQ(NamespaceOf(*created), ns_);
  EXPECT_FALSE(UidOf(*created).empty());

  auto dup = client_->Create(resources::ConfigMaps(), ns_, ConfigMap("cm", {{"a", "1"}}));
  EXPECT_TRUE(IsAlreadyExists(dup.status())) << dup.status().ToString();
  EXPECT_EQ(dup.status().reason(), "AlreadyExists");

  auto got = client_->Get(resources::ConfigMaps(), ns_, "cm");
  ASSERT_OK(got);
  EXPECT_EQ((*got)["data"]["a"], "1");

  json updated = *got;
  updated["data"]["b"] = "2";
  auto put = client_->Update(resources::ConfigMaps(), ns_, updated);
  ASSERT_OK(put);
  EXPECT_NE(ResourceVersionOf(*put), ResourceVersionOf(*got));

  ASSERT_OK(client_->MergePatch(resources::ConfigMaps(), ns_, "cm",
                                {{"data", {{"c", "3"}, {"a", nullptr}}}}));
  ASSERT_OK(client_->JsonPatch(
      resources::ConfigMaps(), ns_, "cm",
      json::array({{{"op", "replace"}, {"path", "/data/b"}, {"value", "two"}}})));
  auto smp = client_->StrategicMergePatch(resources::ConfigMaps(), ns_, "cm",
                                          {{"metadata", {{"labels", {{"u", "y"}}}}}});
  ASSERT_OK(smp);
  EXPECT_EQ((*smp)["data"], json({{"b", "two"}, {"c", "3"}}));
  EXPECT_EQ(LabelsOf(*smp), (std::map<std::string, std::string>{{"t", "x"}, {"u", "y"}}));

  ASSERT_OK(client_->Create(resources::ConfigMaps(), ns_, ConfigMap("other", {}, {{"t", "z"}})));
  ListOptions options;
  options.label_selector = "t in (x),u=y";
  auto list = client_->List(resources::ConfigMaps(), ns_, options);
  ASSERT_OK(list);
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(NameOf(list->items[0]), "cm");
  EXPECT_EQ(KindOf(list->items[0]), "ConfigMap");
  EXPECT_FALSE(list->resource_version.empty());

  ASSERT_OK(client_->Delete(resources::ConfigMaps(), ns_, "cm", {}));
  auto gone = client_->Get(resources::ConfigMaps(), ns_, "cm");
  EXPECT_TRUE(IsNotFound(gone.status()));
  EXPECT_EQ(gone.status().message(), R"(configmaps "cm" not found)");
  EXPECT_TRUE(IsNotFound(client_->Delete(resources::ConfigMaps(), ns_, "cm", {})));
}

TEST_F(K8sIntegrationTest, ListPagingAgainstServer) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_OK(client_->Create(resources::ConfigMaps(), ns_,
                              ConfigMap("p" + std::to_string(i), {}, {{"page", "y"}})));
  }
  ListOptions options;
  options.label_selector = "page=y";
  options.limit = 2;
  auto all = client_->List(resources::ConfigMaps(), ns_, options);
  ASSERT_OK(all);
  EXPECT_EQ(all->items.size(), 7u);
  options.all_pages = false;
  auto page = client_->List(resources::ConfigMaps(), ns_, options);
  ASSERT_OK(page);
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_FALSE(page->continue_token.empty());
}

TEST_F(K8sIntegrationTest, ServiceCrud) {
  json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", {{"name", "db"}, {"labels", {{"tier", "cache"}}}}},
              {"spec",
               {{"selector", {{"app", "a"}}},
                {"ports", json::array({{{"name", "redis"}, {"port", 6379}}})}}}};
  auto created = client_->Create(resources::Services(), ns_, svc);
  ASSERT_OK(created);
  EXPECT_FALSE((*created)["spec"].value("clusterIP", "").empty());

  auto patched = client_->MergePatch(resources::Services(), ns_, "db",
                                     {{"spec", {{"selector", {{"app", "b"}}}}}});
  ASSERT_OK(patched);
  EXPECT_EQ((*patched)["spec"]["selector"], json({{"app", "b"}}));

  auto smp = client_->StrategicMergePatch(
      resources::Services(), ns_, "db",
      {{"spec", {{"ports", json::array({{{"name", "sentinel"}, {"port", 26379}}})}}}});
  ASSERT_OK(smp);
  EXPECT_EQ((*smp)["spec"]["ports"].size(), 2u) << "strategic merge keys ports by port";

  ListOptions options;
  options.label_selector = "tier=cache";
  auto list = client_->List(resources::Services(), ns_, options);
  ASSERT_OK(list);
  ASSERT_EQ(list->items.size(), 1u);

  ASSERT_OK(client_->Delete(resources::Services(), ns_, "db", {}));
  EXPECT_TRUE(IsNotFound(client_->Get(resources::Services(), ns_, "db").status()));
}

TEST_F(K8sIntegrationTest, StatefulSetCrud) {
  json sts = {
      {"apiVersion", "apps/v1"},
      {"kind", "StatefulSet"},
      {"metadata", {{"name", "s"}}},
      {"spec",
       {{"replicas", 0},
        {"serviceName", "s"},
        {"selector", {{"matchLabels", {{"app", "s"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "s"}}}}},
          {"spec",
           {{"containers", json::array({{{"name", "redis"}, {"image", "redis:7.0"}}})}}}}}}}};
  auto created = client_->Create(resources::StatefulSets(), ns_, sts);
  ASSERT_OK(created);
  auto selector = LabelSelectorToString((*created)["spec"]["selector"]);
  ASSERT_TRUE(selector.ok());
  EXPECT_EQ(*selector, "app=s");

  // The StatefulSet controller writes status concurrently, so read-modify-write
  // retries on Conflict, as every controller must.
  StatusOr<json> put = Internal("not tried");
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto current = client_->Get(resources::StatefulSets(), ns_, "s");
    ASSERT_OK(current);
    json changed = *current;
    changed["metadata"]["annotations"]["ruo/touched"] = "yes";
    put = client_->Update(resources::StatefulSets(), ns_, changed);
    if (!IsConflict(put.status())) break;
  }
  ASSERT_OK(put);
  EXPECT_EQ((*put)["metadata"]["annotations"]["ruo/touched"], "yes");

  DeleteOptions wrong;
  wrong.precondition_uid = "00000000-0000-0000-0000-000000000000";
  Status refused = client_->Delete(resources::StatefulSets(), ns_, "s", wrong);
  EXPECT_TRUE(IsConflict(refused)) << refused.ToString();
  EXPECT_NE(refused.message().find("does not match the UID in record"), std::string::npos)
      << refused.message();

  Status deleted = Internal("not tried");
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto current = client_->Get(resources::StatefulSets(), ns_, "s");
    ASSERT_OK(current);
    DeleteOptions right;
    right.precondition_uid = UidOf(*created);
    right.precondition_resource_version = ResourceVersionOf(*current);
    right.propagation_policy = "Background";
    deleted = client_->Delete(resources::StatefulSets(), ns_, "s", right);
    if (!IsConflict(deleted)) break;
  }
  ASSERT_OK(deleted);
  EXPECT_TRUE(WaitUntil(
      [&] { return IsNotFound(client_->Get(resources::StatefulSets(), ns_, "s").status()); },
      seconds(20)));
}

TEST_F(K8sIntegrationTest, StaleUpdateIsConflict) {
  ASSERT_OK(client_->Create(resources::ConfigMaps(), ns_, ConfigMap("c", {{"v", "0"}})));
  auto first = client_->Get(resources::ConfigMaps(), ns_, "c");
  ASSERT_OK(first);
  json a = *first;
  a["data"]["v"] = "1";
  ASSERT_OK(client_->Update(resources::ConfigMaps(), ns_, a));
  json stale = *first;  // still carries the old resourceVersion
  stale["data"]["v"] = "2";
  auto conflict = client_->Update(resources::ConfigMaps(), ns_, stale);
  EXPECT_EQ(conflict.status().code(), StatusCode::kAborted);
  EXPECT_EQ(conflict.status().reason(), "Conflict");
  EXPECT_NE(conflict.status().message().find("the object has been modified"), std::string::npos)
      << conflict.status().message();
  EXPECT_EQ(ClassifyForRetry(conflict.status()), RetryClass::kReread);
}

// ---- CRD with a status subresource ----------------------------------------------

TEST_F(K8sIntegrationTest, CrdStatusSubresource) {
  ResourceRef widgets = CreateWidgetCrd();
  ASSERT_FALSE(widgets.group.empty());
  const std::string& group = widgets.group;
  json widget = {{"apiVersion", group + "/v1"},
                 {"kind", "Widget"},
                 {"metadata", {{"name", "w"}}},
                 {"spec", {{"size", 1}}},
                 {"status", {{"phase", "ignored-on-create"}}}};
  auto created = CreateWidget(widgets, widget);
  ASSERT_OK(created);
  EXPECT_FALSE(created->contains("status") && (*created)["status"].contains("phase"))
      << "status is ignored on create with a status subresource: " << created->dump();

  json with_status = *created;
  with_status["status"] = {{"phase", "Ready"}, {"observed", 1}};
  with_status["spec"]["size"] = 99;  // ignored by the status endpoint
  auto updated = client_->UpdateStatus(widgets, ns_, with_status);
  ASSERT_OK(updated);
  EXPECT_EQ((*updated)["status"]["phase"], "Ready");
  EXPECT_EQ((*updated)["spec"]["size"], 1);

  auto patched = client_->PatchStatus(widgets, ns_, "w", {{"status", {{"observed", 2}}}});
  ASSERT_OK(patched);
  EXPECT_EQ((*patched)["status"], json({{"phase", "Ready"}, {"observed", 2}}));

  json main = *patched;
  main["spec"]["size"] = 3;
  main["status"]["phase"] = "ignored-by-main-resource";
  auto put = client_->Update(widgets, ns_, main);
  ASSERT_OK(put);
  EXPECT_EQ((*put)["spec"]["size"], 3);
  EXPECT_EQ((*put)["status"]["phase"], "Ready");

  // A stale status update is a conflict too.
  auto stale = client_->UpdateStatus(widgets, ns_, with_status);
  EXPECT_TRUE(IsConflict(stale.status())) << stale.status().ToString();

  ASSERT_OK(client_->Delete(widgets, ns_, "w", {}));
}

// ---- watch ---------------------------------------------------------------------

TEST_F(K8sIntegrationTest, WatchSeesAddModifyDeleteInOrder) {
  Recorder recorder;
  WatcherOptions options;
  options.label_selector = "w=1";
  Watcher watcher(*client_, resources::ConfigMaps(), ns_, options, recorder);
  watcher.Start();
  ASSERT_TRUE(recorder.WaitSyncs(1));

  ASSERT_OK(client_->Create(resources::ConfigMaps(), ns_, ConfigMap("a", {}, {{"w", "1"}})));
  ASSERT_OK(client_->Create(resources::ConfigMaps(), ns_, ConfigMap("ignored", {})));
  ASSERT_OK(client_->MergePatch(resources::ConfigMaps(), ns_, "a", {{"data", {{"k", "v"}}}}));
  ASSERT_OK(client_->Delete(resources::ConfigMaps(), ns_, "a", {}));
  ASSERT_TRUE(recorder.WaitEvents(3)) << ::testing::PrintToString(recorder.events());
  auto start = std::chrono::steady_clock::now();
  watcher.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2)) << "Stop() is prompt";
  EXPECT_EQ(recorder.events(), (std::vector<std::string>{"ADDED:a", "MODIFIED:a", "DELETED:a"}));
  EXPECT_EQ(watcher.state(), WatchStateMachine::State::kStopped);
}

TEST_F(K8sIntegrationTest, WatchResumesAfterServerTimeoutAndDroppedConnection) {
  InjectingClient injecting(*client_);
  injecting.drop_after_events = 3;
  Recorder recorder;
  WatcherOptions options;
  options.label_selector = "r=1";
  options.timeout_seconds = 2;  // the server ends each watch after 2 s
  options.initial_backoff = milliseconds(50);
  Watcher watcher(injecting, resources::ConfigMaps(), ns_, options, recorder);
  watcher.Start();
  ASSERT_TRUE(recorder.WaitSyncs(1));

  constexpr int kCount = 20;
  std::vector<std::string> want;
  for (int i = 0; i < kCount; ++i) {
    char name[8];
    std::snprintf(name, sizeof(name), "r%02d", i);
    ASSERT_OK(client_->Create(resources::ConfigMaps(), ns_, ConfigMap(name, {}, {{"r", "1"}})));
    want.push_back(std::string("ADDED:") + name);
    // Spread over several server-side timeouts.
    std::this_thread::sleep_for(milliseconds(350));
  }
  ASSERT_TRUE(recorder.WaitEvents(kCount)) << ::testing::PrintToString(recorder.events());
  std::this_thread::sleep_for(milliseconds(500));  // any duplicate would show up now
  watcher.Stop();

  EXPECT_EQ(recorder.events(), want) << "every event exactly once, in order";
  EXPECT_EQ(recorder.syncs(), 1) << "resumed from the last resourceVersion, never relisted";
  EXPECT_EQ(injecting.lists.load(), 1);
  EXPECT_GE(injecting.drops.load(), 2) << "connection drops were injected";
  EXPECT_GE(injecting.server_ends.load(), 2) << "the server ended watches (timeoutSeconds)";
  std::cout << "watch requests: " << injecting.watches.load()
            << ", injected drops: " << injecting.drops.load()
            << ", ended by the server: " << injecting.server_ends.load() << "\n";
}

// A watch from a resourceVersion the server no longer keeps gets 410 Gone and
// the watcher relists. The resource is a fresh CRD: its watch cache starts at
// the current revision, so "1" is certainly too old. (On a young cluster a
// built-in resource's cache may still reach back to "1", and etcd compacts only
// every 5 minutes.)
TEST_F(K8sIntegrationTest, WatchRelistsAfterGone) {
  ResourceRef widgets = CreateWidgetCrd();
  ASSERT_FALSE(widgets.group.empty());
  json widget = {
      {"apiVersion", widgets.ApiVersion()}, {"kind", "Widget"}, {"metadata", {{"name", "before"}}}};
  ASSERT_OK(CreateWidget(widgets, widget));

  InjectingClient injecting(*client_);
  Recorder recorder;
  WatcherOptions options;
  options.start_resource_version = "1";
  options.initial_backoff = milliseconds(50);
  Watcher watcher(injecting, widgets, ns_, options, recorder);
  watcher.Start();
  ASSERT_TRUE(recorder.WaitSyncs(1)) << "the watcher relisted";
  widget["metadata"]["name"] = "after";
  ASSERT_OK(client_->Create(widgets, ns_, widget));
  ASSERT_TRUE(recorder.WaitForEvent("ADDED:after")) << ::testing::PrintToString(recorder.events());
  watcher.Stop();
  auto errors = recorder.errors();
  ASSERT_FALSE(errors.empty());
  EXPECT_TRUE(IsGone(errors[0])) << errors[0].ToString();
  std::cout << "apiserver's answer to a watch from rv=1: " << errors[0].ToString() << "\n";
  EXPECT_EQ(injecting.lists.load(), 1);
  EXPECT_EQ(recorder.events(), std::vector<std::string>{"ADDED:after"})
      << "\"before\" arrives through the relist, not as an event";
}

// ---- authn / authz ----------------------------------------------------------------

TEST_F(K8sIntegrationTest, ForbiddenSurfacedWithApiMessage) {
  json sa = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "limited"}}}};
  ASSERT_OK(client_->Create(resources::ServiceAccounts(), ns_, sa));
  json request = {{"apiVersion", "authentication.k8s.io/v1"},
                  {"kind", "TokenRequest"},
                  {"spec", {{"expirationSeconds", 600}}}};
  auto issued =
      client_->CreateSubresource(resources::ServiceAccounts(), ns_, "limited", "token", request);
  ASSERT_OK(issued);
  std::string token = (*issued)["status"].value("token", "");
  ASSERT_FALSE(token.empty());

  RestConfig limited = config_;
  limited.client_cert_pem.clear();
  limited.client_key_pem.clear();
  limited.token_source = std::make_shared<StaticTokenSource>(token);
  auto limited_client = NewClient(limited);
  ASSERT_OK(limited_client);
  auto secrets = (*limited_client)->List(resources::Secrets(), ns_, {});
  EXPECT_EQ(secrets.status().code(), StatusCode::kPermissionDenied) << secrets.status().ToString();
  EXPECT_EQ(secrets.status().reason(), "Forbidden");
  std::string want = "secrets is forbidden: User \"system:serviceaccount:" + ns_ +
                     ":limited\" cannot list resource \"secrets\" in API group \"\" in the "
                     "namespace \"" +
                     ns_ + "\"";
  EXPECT_EQ(secrets.status().message(), want);

  RestConfig bogus = limited;
  bogus.token_source = std::make_shared<StaticTokenSource>("not-a-token");
  auto bogus_client = NewClient(bogus);
  ASSERT_OK(bogus_client);
  auto denied = (*bogus_client)->List(resources::Secrets(), ns_, {});
  EXPECT_EQ(denied.status().code(), StatusCode::kUnauthenticated) << denied.status().ToString();
}

TEST_F(K8sIntegrationTest, InClusterConfigWithRotatedToken) {
  json sa = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "op"}}}};
  ASSERT_OK(client_->Create(resources::ServiceAccounts(), ns_, sa));
  auto issued = client_->CreateSubresource(resources::ServiceAccounts(), ns_, "op", "token",
                                           {{"apiVersion", "authentication.k8s.io/v1"},
                                            {"kind", "TokenRequest"},
                                            {"spec", json::object()}});
  ASSERT_OK(issued);
  std::string token = (*issued)["status"].value("token", "");

  // A service-account directory as the node agent writes it, with a token
  // that is about to be "rotated".
  auto dir = std::filesystem::temp_directory_path() / ("ruo-sa-" + RandomSuffix());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "expired-token";
  std::ofstream(dir / "ca.crt") << config_.ca_pem;
  std::ofstream(dir / "namespace") << ns_;
  std::string host_port = config_.server.substr(config_.server.find("://") + 3);
  std::string host = host_port.substr(0, host_port.rfind(':'));
  std::string port = host_port.substr(host_port.rfind(':') + 1);
  auto config = LoadInClusterFrom(host, port, dir.string());
  ASSERT_OK(config);
  EXPECT_EQ(config->namespace_name, ns_);
  std::ofstream(dir / "token") << token;  // the rotation
  auto client = NewClient(*config);
  ASSERT_OK(client);
  // 401 with the cached token → re-read the file → 403 as the service account.
  auto secrets = (*client)->List(resources::Secrets(), ns_, {});
  EXPECT_EQ(secrets.status().code(), StatusCode::kPermissionDenied) << secrets.status().ToString();
  EXPECT_NE(secrets.status().message().find("system:serviceaccount:" + ns_ + ":op"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

// ---- events ----------------------------------------------------------------------

TEST_F(K8sIntegrationTest, EventsAreAcceptedAndFolded) {
  auto cm = client_->Create(resources::ConfigMaps(), ns_, ConfigMap("subject", {}));
  ASSERT_OK(cm);
  auto event = CreateEvent(*client_, *cm, {"Normal", "Tested", "created by a test"}, "ruo-it");
  ASSERT_OK(event);
  EventRecorder recorder(*client_, "ruo-it");
  ASSERT_OK(recorder.Record(*cm, {"Warning", "Repeated", "same message"}));
  ASSERT_OK(recorder.Record(*cm, {"Warning", "Repeated", "same message"}));
  ListOptions options;
  options.field_selector = "involvedObject.name=subject,reason=Repeated";
  auto events = client_->List(resources::Events(), ns_, options);
  ASSERT_OK(events);
  ASSERT_EQ(events->items.size(), 1u);
  EXPECT_EQ(events->items[0]["count"], 2);
  EXPECT_EQ(events->items[0]["type"], "Warning");
  EXPECT_EQ(events->items[0]["involvedObject"]["uid"], UidOf(*cm));
}

// ---- pods and the Service VIP ----------------------------------------------------------

TEST_F(K8sIntegrationTest, StatefulSetPodsBecomeReadyWithDistinctIps) {
  auto ips = StartRedisStatefulSet("redis", 2);
  ASSERT_EQ(ips.size(), 2u);
  EXPECT_NE(ips["redis-0"], ips["redis-1"]);
  for (const auto& [pod, ip] : ips) {
    EXPECT_EQ(RedisCommand(ip, {"PING"}), "PONG") << pod << " at " << ip;
  }
  auto sts = client_->Get(resources::StatefulSets(), ns_, "redis");
  ASSERT_OK(sts);
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto s = client_->Get(resources::StatefulSets(), ns_, "redis");
        return s.ok() && (*s)["status"].value("readyReplicas", 0) == 2;
      },
      seconds(30)));
}

TEST_F(K8sIntegrationTest, ServiceVipReachesMasterAndFollowsSelector) {
  auto ips = StartRedisStatefulSet("redis", 2);
  ASSERT_EQ(ips.size(), 2u);
  // Tell the pods apart, and make redis-1 a replica so "the master" means something.
  ASSERT_EQ(RedisCommand(ips["redis-0"], {"SET", "whoami", "redis-0"}), "OK");
  ASSERT_EQ(RedisCommand(ips["redis-1"], {"SET", "whoami", "redis-1"}), "OK");

  json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", {{"name", "redis"}}},
              {"spec",
               {{"selector", {{"app", "redis"}, {"statefulset.kubernetes.io/pod-name", "redis-0"}}},
                {"ports", json::array({{{"name", "redis"}, {"port", 6379}}})}}}};
  ASSERT_OK(client_->Create(resources::Services(), ns_, svc));
  std::string vip = WaitForVip("redis");
  ASSERT_FALSE(vip.empty()) << "no VIP for " << ns_ << "/redis in " << ClusterDir() << "/vips";

  std::string who;
  ASSERT_TRUE(WaitUntil(
      [&] {
        who = RedisCommand(vip, {"GET", "whoami"});
        return who == "redis-0";
      },
      seconds(20)))
      << "via VIP " << vip << ": " << who;
  RespConn old_conn(vip, 6379);
  ASSERT_TRUE(old_conn.ok());
  std::string info = old_conn.Command({"INFO", "replication"});
  EXPECT_NE(info.find("role:master"), std::string::npos) << info;
  EXPECT_EQ(old_conn.Command({"GET", "whoami"}), "redis-0");

  ASSERT_OK(client_->MergePatch(
      resources::Services(), ns_, "redis",
      {{"spec", {{"selector", {{"statefulset.kubernetes.io/pod-name", "redis-1"}}}}}}));
  auto moved_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil(
      [&] {
        who = RedisCommand(vip, {"GET", "whoami"});
        return who == "redis-1";
      },
      seconds(20)))
      << "new connections still reach " << who;
  std::cout << "VIP moved after "
            << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - moved_at)
                   .count()
            << " ms\n";
  EXPECT_EQ(old_conn.Command({"GET", "whoami"}), "redis-0")
      << "established connections stay on their backend";
}

}  // namespace
}  // namespace ruo::k8s
