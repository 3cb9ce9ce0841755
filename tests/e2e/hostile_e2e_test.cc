// Hostile input (issue 6 §2): malformed manifests and hostile instance states
// against the real local cluster. Each case is refused by the CRD (schema or
// CEL: `kubectl apply` fails and names the field or rule) or by the operator
// (phase Failed, status.reason, the Ready/Degraded conditions and a Warning
// Event with that reason), and afterwards the old instance holds the same keys,
// still takes a write, and nothing was created for the refused upgrade.
//
// Budget: one namespace and one shared set of old instances per test, one
// operator, cases on the same instance one after another (an active upgrade
// of a Service would turn later cases into UpgradeInProgress), the slow cases
// (a BGSAVE waited out, an image the node cannot pull) running meanwhile.
#include <sstream>

#include "e2e/upgrade_fixture.h"

namespace ruo::e2e {
namespace {

// ---- manifests ----

// A RedisUpgrade with `spec` given as YAML lines (indented under spec:).
std::string Rup(const std::string& ns, const std::string& name, const std::string& spec) {
  return "apiVersion: redisupgrade.dev/v1alpha1\nkind: RedisUpgrade\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec;
}

// The common spec lines: instance Service, target 7.0, allowSameVersion.
std::string Spec(const std::string& service, const std::string& extra = "",
                 const std::string& target = "\"7.0\"", bool allow_same = true) {
  return "  instance: {service: " + service + "}\n  targetVersion: " + target +
         "\n  allowSameVersion: " + (allow_same ? "true" : "false") + "\n  replicas: 0\n" + extra;
}

// A StatefulSet of `replicas` standalone Redis pods (each its own master unless
// `args` says otherwise) and a Service selecting all of them.
std::string RedisSetYaml(const std::string& ns, const std::string& name, int replicas,
                         const std::string& args = "") {
  std::ostringstream y;
  y << "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: " << name << ", namespace: " << ns
    << "}\nspec:\n  replicas: " << replicas << "\n  serviceName: " << name
    << "\n  selector: {matchLabels: {app: " << name
    << "}}\n  template:\n    metadata: {labels: {app: " << name
    << "}}\n    spec:\n      containers:\n      - name: redis\n        image: redis:7.0\n"
    << "        args: [\"--port\", \"6379\", \"--save\", \"\"" << args << "]\n"
    << "        ports: [{name: redis, containerPort: 6379}]\n"
    << "        resources: {limits: {memory: 512Mi}}\n---\n"
    << "apiVersion: v1\nkind: Service\nmetadata: {name: " << name << ", namespace: " << ns
    << "}\nspec:\n  selector: {app: " << name
    << "}\n  ports: [{name: redis, port: 6379, targetPort: redis}]\n";
  return y.str();
}

class HostileE2ETest : public UpgradeE2ETest {
 protected:
  // An old instance as a test sees it: its pod addresses, password and keys.
  struct Instance {
    std::vector<std::string> addrs;
    std::optional<std::string> password;
    int64_t keys = 0;
    // A replica, or a cluster-mode node without slots, takes no writes by design.
    bool writable = true;
  };

  // StatefulSets labelled for RedisUpgrade `name` (what it created); "" = for any.
  size_t StatefulSetsOf(const std::string& name) {
    k8s::ListOptions lo;
    lo.label_selector = std::string("redisupgrade.dev/upgrade") + (name.empty() ? "" : "=" + name);
    auto list = cluster_->client().List(res::StatefulSets(), ns_, lo);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? list->items.size() : 0;
  }

  static std::string ConditionReason(const json& u, const std::string& type,
                                     const std::string& want_status = "") {
    for (const auto& c : u.value("/status/conditions"_json_pointer, json::array())) {
      if (c.value("type", "") != type) continue;
      if (!want_status.empty() && c.value("status", "") != want_status) return "";
      return c.value("reason", "");
    }
    return "";
  }

  // The old instance holds its keys and takes a write (then the check key goes).
  void ExpectUntouched(const Instance& in) {
    for (const std::string& addr : in.addrs) {
      SCOPED_TRACE("instance pod " + addr);
      auto keys = DbSize(addr, in.password);
      ASSERT_TRUE(keys.ok()) << keys.status().ToString();
      EXPECT_EQ(*keys, in.keys);
      auto role = Role(addr, in.password);
      ASSERT_TRUE(role.ok()) << role.status().ToString();
      if (!in.writable) continue;
      EXPECT_EQ(*role, "master");
      auto set = RedisCmd(addr, {"SET", "hostile-write-check", "1"}, in.password);
      ASSERT_TRUE(set.ok()) << set.status().ToString();
      EXPECT_TRUE(set->IsOk()) << redis::DebugString(*set);
      auto del = RedisCmd(addr, {"DEL", "hostile-write-check"}, in.password);
      ASSERT_TRUE(del.ok());
      EXPECT_EQ(*DbSize(addr, in.password), in.keys);
    }
  }

  // A refusal by the operator: Failed, the reason in status, conditions and an
  // Event, nothing created, the instance untouched.
  void ExpectRefused(const std::string& name, const std::string& reason, const Instance& in,
                     seconds timeout = seconds(40)) {
    SCOPED_TRACE("RedisUpgrade " + name + " → " + reason);
    const json u = WaitPhase({"Failed", "Completed", "WaitingForSwitch"}, timeout, name);
    EXPECT_EQ(u.value("/status/phase"_json_pointer, ""), "Failed") << u.dump(2);
    EXPECT_EQ(u.value("/status/reason"_json_pointer, ""), reason) << u.dump(2);
    EXPECT_FALSE(u.value("/status/message"_json_pointer, "").empty());
    EXPECT_EQ(ConditionReason(u, "Ready", "False"), reason);
    EXPECT_EQ(ConditionReason(u, "Degraded", "True"), reason);
    EXPECT_TRUE(HasEvent("Warning/" + reason, name));
    EXPECT_EQ(StatefulSetsOf(name), 0u);
    ExpectUntouched(in);
  }
};

// ---- the CRD: schema and CEL ----

TEST_F(HostileE2ETest, SchemaAndCelRefuseMalformedManifests) {
  Instance orders;
  orders.addrs = {DeployOld()};
  ASSERT_TRUE(LoadKeys(orders.addrs[0], 500, "seed").ok());
  orders.keys = 500;
  const std::string svc = kService;
  const std::string window = "  switchover:\n    mode: MaintenanceWindow\n";

  struct Case {
    std::string name;  // RedisUpgrade name
    std::string spec;  // the spec lines
    std::string says;  // what kubectl's error must name (field or rule)
  };
  const std::vector<Case> cases = {
      {"version-empty", Spec(svc, "", "\"\""), "spec.targetVersion"},
      {"version-garbage", Spec(svc, "", "\"banana\""), "spec.targetVersion"},
      {"version-junk", Spec(svc, "", "\"7.0junk\""), "spec.targetVersion"},
      {"version-major-only", Spec(svc, "", "\"7\""), "spec.targetVersion"},
      {"version-huge", Spec(svc, "", "\"99999999999.0\""), "spec.targetVersion"},
      {"version-unquoted", Spec(svc, "", "7.0"), "spec.targetVersion"},
      {"replicas-negative",
       "  instance: {service: orders-redis}\n  targetVersion: \"7.0\"\n  replicas: -1\n",
       "spec.replicas"},
      {"replicas-huge",
       "  instance: {service: orders-redis}\n  targetVersion: \"7.0\"\n  replicas: 100000\n",
       "spec.replicas"},
      {"replicas-text",
       "  instance: {service: orders-redis}\n  targetVersion: \"7.0\"\n  replicas: two\n",
       "spec.replicas"},
      {"lag-negative", Spec(svc, "  switchover: {maxLagBytes: -1}\n"),
       "spec.switchover.maxLagBytes"},
      {"lag-absurd", Spec(svc, "  switchover: {maxLagBytes: 99999999999999999999999}\n"),
       "spec.switchover.maxLagBytes"},
      {"readonly-zero", Spec(svc, "  switchover: {maxReadOnlySeconds: 0}\n"),
       "spec.switchover.maxReadOnlySeconds"},
      {"readonly-negative", Spec(svc, "  switchover: {maxReadOnlySeconds: -5}\n"),
       "spec.switchover.maxReadOnlySeconds"},
      {"readonly-absurd", Spec(svc, "  switchover: {maxReadOnlySeconds: 86400000}\n"),
       "spec.switchover.maxReadOnlySeconds"},
      {"window-bad-start",
       Spec(svc, window + "    maintenanceWindow: {start: \"25:61\", duration: 1h}\n"),
       "spec.switchover.maintenanceWindow.start"},
      {"window-negative",
       Spec(svc, window + "    maintenanceWindow: {start: \"03:00\", duration: \"-1h\"}\n"),
       "spec.switchover.maintenanceWindow.duration"},
      {"window-zone-too-long",
       Spec(svc, window + "    maintenanceWindow: {start: \"03:00\", duration: 1h, timeZone: " +
                     std::string(100, 'Z') + "}\n"),
       "spec.switchover.maintenanceWindow.timeZone"},
      {"window-missing", Spec(svc, window),
       "switchover.maintenanceWindow is required when switchover.mode is MaintenanceWindow"},
      {"mode-unknown", Spec(svc, "  switchover: {mode: Sometimes}\n"), "spec.switchover.mode"},
      {"unknown-field", Spec(svc, "  foo: bar\n"), "unknown field \"spec.foo\""},
      {"unknown-field-typo", Spec(svc, "  switchover: {maxLag: 5}\n"),
       "unknown field \"spec.switchover.maxLag\""},
      {std::string(64, 'n'), Spec(svc), "metadata.name must be at most 63 characters"},
      {"service-bad-chars", Spec("Orders_Redis"), "spec.instance.service"},
      {"service-too-long", Spec(std::string(64, 's')), "spec.instance.service"},
      {"service-missing", "  targetVersion: \"7.0\"\n", "spec.instance"},
      {"image-injection", Spec(svc, "  image: \"redis:7.0; rm -rf /\"\n"), "spec.image"},
      {"read-service-bad-name", Spec(svc, "  readService: {name: Bad_Name}\n"),
       "spec.readService.name"},
      {"secret-ref-without-key", Spec(svc, "  auth: {secretRef: {name: orders-redis-auth}}\n"),
       "spec.auth.secretRef.key"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("schema case " + c.name.substr(0, 30));
    CmdResult r = cluster_->Apply(Rup(ns_, c.name, c.spec));
    EXPECT_NE(r.rc, 0) << "accepted: " << c.spec;
    EXPECT_THAT(r.err, HasSubstr(c.says));
    EXPECT_TRUE(
        k8s::IsNotFound(cluster_->client().Get(res::RedisUpgrades(), ns_, c.name).status()));
  }
  // The limits themselves are accepted (replicas 0 = the new master alone).
  const std::string limits = cluster_->tmp().File("hostile-limits.yaml");
  testing::WriteFileAtomic(
      limits, Rup(ns_, std::string(63, 'n'),
                  Spec(svc,
                       "  switchover: {maxLagBytes: 0, maxReadOnlySeconds: 3600, mode: "
                       "MaintenanceWindow, maintenanceWindow: {start: \"23:59\", duration: "
                       "24h, timeZone: America/Argentina/ComodRivadavia}}\n")));
  CmdResult ok = cluster_->Kubectl({"apply", "--dry-run=server", "-f", limits});
  EXPECT_EQ(ok.rc, 0) << ok.err;
  std::cout << "[hostile] " << cases.size() << " manifests refused by the CRD" << std::endl;
  EXPECT_EQ(StatefulSetsOf(""), 0u);
  ExpectUntouched(orders);
}

// ---- the operator: instance states and specs the schema cannot judge ----

TEST_F(HostileE2ETest, OperatorRefusesHostileInstanceStatesWithANamedReason) {
  // The old instances, all at once.
  OldInstance auth_o;
  auth_o.name = "auth-redis";
  auth_o.password = "correct-horse";
  OldInstance cluster_o;
  cluster_o.name = "cluster-redis";
  cluster_o.cluster_enabled = true;
  OldInstance busy_o;
  busy_o.name = "busy-redis";
  OldInstance image_o;
  image_o.name = "image-redis";
  OldInstance orders_o;
  std::string all;
  for (OldInstance* o : {&orders_o, &auth_o, &cluster_o, &busy_o, &image_o}) {
    o->ns = ns_;
    all += OldInstanceYaml(*o) + "---\n";
  }
  // Two standalone masters behind one Service; a Service in front of a replica.
  all += RedisSetYaml(ns_, "twin-redis", 2) + "---\n";
  all += RedisSetYaml(ns_, "replica-redis", 1, ", \"--replicaof\", \"127.0.0.1\", \"1\"") + "---\n";
  all += "apiVersion: v1\nkind: Service\nmetadata: {name: ext-redis, namespace: " + ns_ +
         "}\nspec: {type: ExternalName, externalName: redis.example.com}\n---\n";
  all += "apiVersion: v1\nkind: Service\nmetadata: {name: manual-redis, namespace: " + ns_ +
         "}\nspec:\n  ports: [{port: 6379}]\n---\n";
  all += "apiVersion: v1\nkind: Service\nmetadata: {name: empty-redis, namespace: " + ns_ +
         "}\nspec:\n  selector: {app: nothing-here}\n  ports: [{port: 6379}]\n---\n";
  // A Service name of 63 characters: valid, but "<name>-7-2" would not be.
  const std::string long_service = "long-" + std::string(58, 'x');
  all += "apiVersion: v1\nkind: Service\nmetadata: {name: " + long_service + ", namespace: " + ns_ +
         "}\nspec:\n  selector: {app: orders-redis}\n  ports: [{port: 6379}]\n---\n";
  all += "apiVersion: v1\nkind: Secret\nmetadata: {name: wrong-key, namespace: " + ns_ +
         "}\nstringData: {pass: correct-horse}\n---\n";
  all += "apiVersion: v1\nkind: Secret\nmetadata: {name: wrong-password, namespace: " + ns_ +
         "}\nstringData: {password: battery-staple}\n";
  Apply(all);

  Instance orders, auth, cluster, busy, image, twin, replica;
  orders.addrs = {WaitPodAddr("orders-redis-0")};
  auth.addrs = {WaitPodAddr("auth-redis-0")};
  auth.password = auth_o.password;
  cluster.addrs = {WaitPodAddr("cluster-redis-0")};
  busy.addrs = {WaitPodAddr("busy-redis-0")};
  image.addrs = {WaitPodAddr("image-redis-0")};
  twin.addrs = {WaitPodAddr("twin-redis-0"), WaitPodAddr("twin-redis-1")};
  replica.addrs = {WaitPodAddr("replica-redis-0")};
  replica.writable = false;
  cluster.writable = false;
  ASSERT_FALSE(HasFailure());
  for (auto [in, n] : {std::pair{&orders, 1000}, std::pair{&auth, 100}, std::pair{&busy, 1000},
                       std::pair{&image, 100}, std::pair{&twin, 0}}) {
    for (const auto& a : in->addrs) ASSERT_TRUE(LoadKeys(a, n, "seed", in->password).ok());
    in->keys = n;
  }
  StartOperator();

  // Slow case 1: an image the node cannot pull. Provisioning names it at once
  // (Degraded ImagePullFailed, Warning Event) and refuses after the grace period.
  Apply(Rup(ns_, "image-unrunnable", Spec("image-redis", "  image: nosuch/redis:7.0\n")));

  // Slow case 2: the source mid-BGSAVE (10 ms per key: ~10 s). Validating waits
  // with reason SourceBusy and creates nothing; it carries on when it ends.
  const std::string busy_addr = busy.addrs[0];
  ASSERT_TRUE(RedisCmd(busy_addr, {"CONFIG", "SET", "rdb-key-save-delay", "10000"}).ok());
  auto bg = RedisCmd(busy_addr, {"BGSAVE"});
  ASSERT_TRUE(bg.ok() && !bg->IsError()) << (bg.ok() ? bg->str : bg.status().ToString());
  // The running child keeps its delay; the source's own setting goes back now.
  ASSERT_TRUE(RedisCmd(busy_addr, {"CONFIG", "SET", "rdb-key-save-delay", "0"}).ok());
  const auto busy_config = OldConfig(busy_addr);
  Apply(Rup(ns_, "busy-source",
            Spec("busy-redis",
                 "  switchover:\n    mode: MaintenanceWindow\n"
                 "    maintenanceWindow: {start: \"" +
                     UtcClock(std::chrono::minutes(180)) + "\", duration: 1h}\n")));
  {
    SCOPED_TRACE("busy-source while the BGSAVE runs");
    json u;
    const bool named = WaitUntil(
        [&] {
          u = Upgrade("busy-source");
          return u.value("/status/reason"_json_pointer, "") == "SourceBusy";
        },
        seconds(8), milliseconds(50));
    EXPECT_TRUE(named) << u.dump(2);
    EXPECT_EQ(u.value("/status/phase"_json_pointer, ""), "Validating");
    EXPECT_EQ(ConditionReason(u, "Degraded", "True"), "SourceBusy");
    EXPECT_EQ(ConditionReason(u, "Progressing", "True"), "SourceBusy");
    EXPECT_THAT(u.value("/status/message"_json_pointer, ""), HasSubstr("BGSAVE"));
    EXPECT_TRUE(HasEvent("Warning/SourceBusy", "busy-source"));
    EXPECT_EQ(StatefulSetsOf("busy-source"), 0u);
    auto persistence = RedisCmd(busy_addr, {"INFO", "persistence"});
    ASSERT_TRUE(persistence.ok());
    EXPECT_THAT(persistence->str, HasSubstr("rdb_bgsave_in_progress:1"))
        << "the BGSAVE ended before the checks: they proved nothing";
  }
  {
    SCOPED_TRACE("image-unrunnable while the pod cannot pull");
    json u;
    const bool named = WaitUntil(
        [&] {
          u = Upgrade("image-unrunnable");
          return ConditionReason(u, "Degraded", "True") == "ImagePullFailed";
        },
        seconds(20), milliseconds(100));
    EXPECT_TRUE(named) << u.dump(2);
    EXPECT_EQ(u.value("/status/phase"_json_pointer, ""), "Provisioning");
    EXPECT_EQ(u.value("/status/reason"_json_pointer, ""), "ImagePullFailed");
    EXPECT_THAT(u.value("/status/message"_json_pointer, ""), HasSubstr("nosuch/redis:7.0"));
    EXPECT_TRUE(HasEvent("Warning/ImagePullFailed", "image-unrunnable"));
  }

  // The fast cases, one after another.
  struct Case {
    std::string name;
    std::string yaml;  // the RedisUpgrade
    std::string reason;
    Instance* instance;
  };
  const std::string svc = kService;
  const std::string window = "  switchover:\n    mode: MaintenanceWindow\n";
  const std::vector<Case> cases = {
      // Any release from 2.8 on is a valid target (a newer-than-checked one with a
      // warning); older ones lack what the switch needs.
      {"target-older-than-2-8", Rup(ns_, "target-older-than-2-8", Spec(svc, "", "\"2.6\"")),
       "InvalidTargetVersion", &orders},
      {"downgrade", Rup(ns_, "downgrade", Spec(svc, "", "\"6.2\"", false)), "DowngradeRefused",
       &orders},
      {"same-version", Rup(ns_, "same-version", Spec(svc, "", "\"7.0\"", false)),
       "SameVersionRefused", &orders},
      {"window-zero",
       Rup(ns_, "window-zero",
           Spec(svc, window + "    maintenanceWindow: {start: \"03:00\", duration: 0m}\n")),
       "InvalidMaintenanceWindow", &orders},
      {"window-over-a-day",
       Rup(ns_, "window-over-a-day",
           Spec(svc, window + "    maintenanceWindow: {start: \"03:00\", duration: 25h}\n")),
       "InvalidMaintenanceWindow", &orders},
      {"window-mars",
       Rup(ns_, "window-mars",
           Spec(svc, window + "    maintenanceWindow: {start: \"03:00\", duration: 1h, "
                              "timeZone: Mars/Olympus}\n")),
       "UnknownTimeZone", &orders},
      {"service-missing", Rup(ns_, "service-missing", Spec("no-such-redis")), "ServiceNotFound",
       &orders},
      {"service-externalname", Rup(ns_, "service-externalname", Spec("ext-redis")),
       "ServiceHasNoSelector", &orders},
      {"service-no-selector", Rup(ns_, "service-no-selector", Spec("manual-redis")),
       "ServiceHasNoSelector", &orders},
      {"no-endpoints", Rup(ns_, "no-endpoints", Spec("empty-redis")), "NoReadyMaster", &orders},
      {"two-masters", Rup(ns_, "two-masters", Spec("twin-redis")), "MultipleMasters", &twin},
      {"replica-only", Rup(ns_, "replica-only", Spec("replica-redis")), "NotAMaster", &replica},
      {"secret-missing",
       Rup(ns_, "secret-missing",
           Spec(svc, "  auth: {secretRef: {name: no-such-secret, key: password}}\n")),
       "SecretNotFound", &orders},
      {"secret-wrong-key",
       Rup(ns_, "secret-wrong-key",
           Spec("auth-redis", "  auth: {secretRef: {name: wrong-key, key: password}}\n")),
       "SecretKeyNotFound", &auth},
      {"wrong-password",
       Rup(ns_, "wrong-password",
           Spec("auth-redis", "  auth: {secretRef: {name: wrong-password, key: password}}\n")),
       "AuthFailed", &auth},
      {"no-password", Rup(ns_, "no-password", Spec("auth-redis")), "AuthRequired", &auth},
      {"cluster-mode", Rup(ns_, "cluster-mode", Spec("cluster-redis")), "ClusterModeNotSupported",
       &cluster},
      {"read-service-is-the-vip",
       Rup(ns_, "read-service-is-the-vip", Spec(svc, "  readService: {name: orders-redis}\n")),
       "ReadServiceConflict", &orders},
      {"read-service-is-headless",
       Rup(ns_, "read-service-is-headless",
           Spec(svc, "  readService: {name: orders-redis-7-0-hl}\n")),
       "ReadServiceConflict", &orders},
      // The image runs real Redis 8.2.3, not the 7.2 asked for: the new pods run, but the
      // wrong version. Through the 63-character Service: the new StatefulSet's name is
      // hash-shortened.
      {"version-not-in-image",
       Rup(ns_, "version-not-in-image", Spec(long_service, "  image: redis:8.2\n", "\"7.2\"")),
       "TargetVersionMismatch", &orders},
  };
  const auto orders_config = OldConfig(orders.addrs[0]);
  for (const Case& c : cases) {
    Apply(c.yaml);
    ExpectRefused(c.name, c.reason, *c.instance);
  }
  EXPECT_EQ(OldConfig(orders.addrs[0]), orders_config);
  {
    const std::string sts =
        Upgrade("version-not-in-image").value("/status/newStatefulSet"_json_pointer, "");
    EXPECT_LE(sts.size(), 52u) << sts;
    EXPECT_EQ(sts.rfind("long-xxxx", 0), 0u) << sts;
  }
  // Nothing refused showed the passwords.
  const std::string shown = cluster_->Kubectl({"get", "rup", "-n", ns_, "-o", "json"}).out +
                            cluster_->Kubectl({"get", "events", "-n", ns_, "-o", "json"}).out;
  EXPECT_THAT(shown, ::testing::Not(HasSubstr("battery-staple")));
  EXPECT_THAT(shown, ::testing::Not(HasSubstr("correct-horse")));

  // A spec edit after the start: the CRD's CEL rule rejects it (a Failed one has started).
  {
    SCOPED_TRACE("spec edit after start");
    CmdResult edit = cluster_->Apply(Rup(ns_, "downgrade", Spec(svc, "", "\"7.2\"", false)));
    EXPECT_NE(edit.rc, 0);
    EXPECT_THAT(edit.err, HasSubstr("spec is immutable once the upgrade has started"));
    EXPECT_EQ(Upgrade("downgrade").value("/spec/targetVersion"_json_pointer, ""), "6.2");
  }

  // The BGSAVE is over: busy-source carried on to WaitingForSwitch (outside its window).
  {
    SCOPED_TRACE("busy-source after the BGSAVE");
    const json u =
        WaitPhase({"WaitingForSwitch", "Failed", "Completed"}, seconds(60), "busy-source");
    EXPECT_EQ(u.value("/status/phase"_json_pointer, ""), "WaitingForSwitch") << u.dump(2);
    EXPECT_EQ(ConditionReason(u, "Degraded", "True"), "");
    EXPECT_EQ(StatefulSetsOf("busy-source"), 1u);
    // A second upgrade of the same Service while it is active.
    Apply(Rup(ns_, "second-upgrade", Spec("busy-redis")));
    Instance busy_now = busy;  // the first upgrade's sync is running: writes still work
    ExpectRefused("second-upgrade", "UpgradeInProgress", busy_now);
    // Deleting the first leaves the source as it was.
    CmdResult del = cluster_->Kubectl({"delete", "-n", ns_, "rup/busy-source", "--timeout=90s"});
    ASSERT_EQ(del.rc, 0) << del.err;
    EXPECT_EQ(StatefulSetsOf("busy-source"), 0u);
    EXPECT_EQ(OldConfig(busy_addr), busy_config);
    ExpectUntouched(busy);
  }

  // The image case reaches its grace period (60 s after it was first named).
  ExpectRefused("image-unrunnable", "ImagePullFailed", image, seconds(90));
  const json u = Upgrade("image-unrunnable");
  EXPECT_THAT(u.value("/status/message"_json_pointer, ""), HasSubstr("nosuch/redis:7.0"));
  std::cout << "[hostile] " << cases.size() + 3
            << " instance states refused by the operator; SourceBusy waited out" << std::endl;
}

}  // namespace
}  // namespace ruo::e2e
