#include "runtime/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "unit/runtime/fake_api.h"

namespace ruo::runtime {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeApi;

LeaderElectionConfig Config(const std::string& identity) {
  LeaderElectionConfig c;
  c.lease_namespace = "ops";
  c.lease_name = "ruo";
  c.identity = identity;
  return c;  // 15 s / 10 s / 2 s
}

json Lease(const std::string& holder, int64_t duration_s, int64_t transitions = 0,
           const std::string& rv = "7") {
  json spec = {{"holderIdentity", holder},
               {"leaseDurationSeconds", duration_s},
               {"leaseTransitions", transitions},
               {"acquireTime", "2024-01-01T00:00:00.000000Z"},
               {"renewTime", "2024-01-01T00:00:05.000000Z"}};
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", "ruo"}, {"namespace", "ops"}, {"resourceVersion", rv}}},
          {"spec", spec}};
}

TEST(LeaderElectionConfigTest, Validates) {
  EXPECT_TRUE(ValidateLeaderElectionConfig(Config("me")).ok());
  auto c = Config("");
  EXPECT_FALSE(ValidateLeaderElectionConfig(c).ok());
  c = Config("me");
  c.renew_deadline = c.lease_duration;
  EXPECT_FALSE(ValidateLeaderElectionConfig(c).ok());
  c = Config("me");
  c.retry_period = milliseconds(9000);  // 1.2 × 9 s > 10 s
  EXPECT_FALSE(ValidateLeaderElectionConfig(c).ok());
}

TEST(LeaderElectionConfigTest, DefaultIdentityPrefersPodName) {
  setenv("POD_NAME", "op-7d9-abc", 1);
  EXPECT_EQ(DefaultIdentity(), "op-7d9-abc");
  unsetenv("POD_NAME");
  std::string id = DefaultIdentity();
  EXPECT_NE(id.find('_'), std::string::npos);
  EXPECT_NE(id.find(std::to_string(getpid())), std::string::npos);
}

TEST(MicroTimeTest, FormatsWithMicroseconds) {
  std::chrono::system_clock::time_point t{std::chrono::microseconds(1714557600123456LL)};
  EXPECT_EQ(FormatMicroTime(t), "2024-05-01T10:00:00.123456Z");
  EXPECT_EQ(FormatMicroTime(std::chrono::system_clock::time_point{}),
            "1970-01-01T00:00:00.000000Z");
}

TEST(DecideLeaseTest, AbsentLeaseIsCreated) {
  FakeClock clock(std::chrono::system_clock::time_point{seconds(1714557600)});
  LeaseObservation obs;
  auto d = DecideLease(std::nullopt, Config("me"), obs, clock.Now(), clock.Monotonic());
  EXPECT_EQ(d.action, LeaseAction::kCreate);
  EXPECT_TRUE(d.acquiring);
  EXPECT_EQ(d.lease["metadata"]["name"], "ruo");
  EXPECT_EQ(d.lease["metadata"]["namespace"], "ops");
  EXPECT_EQ(d.lease["spec"]["holderIdentity"], "me");
  EXPECT_EQ(d.lease["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ(d.lease["spec"]["leaseTransitions"], 0);
  EXPECT_EQ(d.lease["spec"]["renewTime"], "2024-05-01T10:00:00.000000Z");
  EXPECT_EQ(d.lease["spec"]["acquireTime"], "2024-05-01T10:00:00.000000Z");
}

TEST(DecideLeaseTest, ForeignLeaseIsRespectedUntilItStopsChangingForItsDuration) {
  FakeClock clock;
  LeaseObservation obs;
  json lease = Lease("other", 15);
  auto d = DecideLease(lease, Config("me"), obs, clock.Now(), clock.Monotonic());
  EXPECT_EQ(d.action, LeaseAction::kWait);
  EXPECT_EQ(d.holder, "other");
  EXPECT_EQ(d.expires_in, milliseconds(15000));

  clock.Advance(seconds(10));
  d = DecideLease(lease, Config("me"), obs, clock.Now(), clock.Monotonic());
  EXPECT_EQ(d.action, LeaseAction::kWait);
  EXPECT_EQ(d.expires_in, milliseconds(5000));

  // The holder renews: the clock restarts from when we saw the change.
  clock.Advance(seconds(4));
  json renewed = Lease("other", 15, 0, "8");
  renewed["spec"]["renewTime"] = "2024-01-01T00:00:19.000000Z";
  d = DecideLease(renewed, Config("me"), obs, clock.Now(), clock.Monotonic());
  EXPECT_EQ(d.action, LeaseAction::kWait);
  clock.Advance(seconds(14));
  d = DecideLease(renewed, Config("me"), obs, clock.Now(), clock.Monotonic());
  EXPECT_EQ(d.action, LeaseAction::kWait);

  // No renewal for a full lease duration: expired, take it over.
  clock.Advance(seconds(1));
  d = DecideLease(renewed, Config("me"), obs, clock.Now(), clock.Monotonic());
  ASSERT_EQ(d.action, LeaseAction::kUpdate);
  EXPECT_TRUE(d.acquiring);
  EXPECT_EQ(d.lease["spec"]["holderIdentity"], "me");
  EXPECT_EQ(d.lease["spec"]["leaseTransitions"], 1);
  EXPECT_EQ(d.lease["metadata"]["resourceVersion"], "8");  // conditional update
}

TEST(DecideLeaseTest, StaleRenewTimeDoesNotExpireAFreshObservation) {
  // renewTime far in the past (skewed clocks): still waits a full duration
  // from the moment this process first saw the record.
  FakeClock clock(std::chrono::system_clock::time_point{seconds(1900000000)});
  LeaseObservation obs;
  auto d = DecideLease(Lease("other", 15), Config("me"), obs, clock.Now(), clock.Monotonic());
  EXPECT_EQ(d.action, LeaseAction::kWait);
}

TEST(DecideLeaseTest, OwnLeaseIsRenewedKeepingAcquireTimeAndTransitions) {
  FakeClock clock(std::chrono::system_clock::time_point{seconds(1714557600)});
  LeaseObservation obs;
  auto d = DecideLease(Lease("me", 15, 3), Config("me"), obs, clock.Now(), clock.Monotonic());
  ASSERT_EQ(d.action, LeaseAction::kUpdate);
  EXPECT_FALSE(d.acquiring);
  EXPECT_EQ(d.lease["spec"]["acquireTime"], "2024-01-01T00:00:00.000000Z");
  EXPECT_EQ(d.lease["spec"]["renewTime"], "2024-05-01T10:00:00.000000Z");
  EXPECT_EQ(d.lease["spec"]["leaseTransitions"], 3);
}

TEST(DecideLeaseTest, ReleasedLeaseIsTakenAtOnce) {
  FakeClock clock;
  LeaseObservation obs;
  auto d = DecideLease(Lease("", 1, 4), Config("me"), obs, clock.Now(), clock.Monotonic());
  ASSERT_EQ(d.action, LeaseAction::kUpdate);
  EXPECT_TRUE(d.acquiring);
  EXPECT_EQ(d.lease["spec"]["leaseTransitions"], 5);
  EXPECT_EQ(d.lease["spec"]["leaseDurationSeconds"], 15);
}

TEST(DecideLeaseTest, LeaseDurationRoundsUpToWholeSeconds) {
  FakeClock clock;
  LeaseObservation obs;
  auto c = Config("me");
  c.lease_duration = milliseconds(1500);
  c.renew_deadline = milliseconds(1000);
  c.retry_period = milliseconds(200);
  auto d = DecideLease(std::nullopt, c, obs, clock.Now(), clock.Monotonic());
  EXPECT_EQ(d.lease["spec"]["leaseDurationSeconds"], 2);
}

TEST(ReleasedLeaseTest, OnlyTheHolderReleases) {
  FakeClock clock(std::chrono::system_clock::time_point{seconds(1714557600)});
  EXPECT_FALSE(ReleasedLease(Lease("other", 15), "me", clock.Now()).has_value());
  auto r = ReleasedLease(Lease("me", 15, 2), "me", clock.Now());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)["spec"]["holderIdentity"], "");
  EXPECT_EQ((*r)["spec"]["leaseDurationSeconds"], 1);
  EXPECT_EQ((*r)["spec"]["leaseTransitions"], 2);
  EXPECT_EQ((*r)["metadata"]["resourceVersion"], "7");
}

// The elector against the in-memory API server (real time, short durations).
LeaderElectionConfig Fast(const std::string& identity) {
  LeaderElectionConfig c = Config(identity);
  c.lease_duration = milliseconds(1000);
  c.renew_deadline = milliseconds(600);
  c.retry_period = milliseconds(100);
  return c;
}

bool Eventually(const std::function<bool()>& cond, milliseconds timeout = milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return cond();
}

TEST(LeaderElectorTest, TryAcquireCreatesThenRenews) {
  FakeApi api;
  LeaderElector e(api, Config("me"), {});
  EXPECT_TRUE(e.TryAcquireOrRenew());
  auto lease = api.Peek(k8s::resources::Leases(), "ops", "ruo");
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "me");
  EXPECT_EQ(e.ObservedLeader(), "me");
  EXPECT_TRUE(e.TryAcquireOrRenew());
  EXPECT_EQ(api.calls("create"), 1);
  EXPECT_EQ(api.calls("update"), 1);
}

TEST(LeaderElectorTest, SecondCandidateWaitsAndConflictsLoseTheRace) {
  FakeApi api;
  LeaderElector a(api, Config("a"), {});
  LeaderElector b(api, Config("b"), {});
  ASSERT_TRUE(a.TryAcquireOrRenew());
  EXPECT_FALSE(b.TryAcquireOrRenew());
  EXPECT_EQ(b.ObservedLeader(), "a");
  // b decided on a stale read (a renewed meanwhile): its write must conflict.
  api.Put(k8s::resources::Leases(), Lease("", 1, 0));  // released...
  json stale = *api.Peek(k8s::resources::Leases(), "ops", "ruo");
  ASSERT_TRUE(a.TryAcquireOrRenew());  // ...and re-taken by a first
  stale["spec"]["holderIdentity"] = "b";
  auto w = api.Update(k8s::resources::Leases(), "ops", stale);
  EXPECT_TRUE(k8s::IsConflict(w.status()));
}

TEST(LeaderElectorTest, OnlyOneLeadsAndStandbyTakesOverAfterRelease) {
  FakeApi api;
  std::atomic<int> a_started{0}, b_started{0};
  LeaderCallbacks ca, cb;
  ca.on_started_leading = [&] { ++a_started; };
  cb.on_started_leading = [&] { ++b_started; };
  auto a = std::make_unique<LeaderElector>(api, Fast("a"), ca);
  a->Start();
  ASSERT_TRUE(Eventually([&] { return a->IsLeader(); }));
  LeaderElector b(api, Fast("b"), cb);
  b.Start();
  std::this_thread::sleep_for(milliseconds(1500));  // longer than the lease
  EXPECT_TRUE(a->IsLeader());
  EXPECT_FALSE(b.IsLeader());
  EXPECT_EQ(b.ObservedLeader(), "a");

  auto released_at = std::chrono::steady_clock::now();
  a->Stop();  // releases
  EXPECT_FALSE(a->IsLeader());
  EXPECT_EQ((*api.Peek(k8s::resources::Leases(), "ops", "ruo"))["spec"]["holderIdentity"], "");
  ASSERT_TRUE(Eventually([&] { return b.IsLeader(); }));
  // Taken over within a few retry periods, not after a lease duration.
  EXPECT_LT(std::chrono::steady_clock::now() - released_at, milliseconds(900));
  EXPECT_EQ(a_started, 1);
  EXPECT_EQ(b_started, 1);
  b.Stop();
}

TEST(LeaderElectorTest, StandbyTakesOverAnAbandonedLeaseAfterItsDuration) {
  FakeApi api;
  // A holder that died without releasing.
  api.Put(k8s::resources::Leases(), Lease("dead", 1, 0));
  LeaderElector b(api, Fast("b"), {});
  auto start = std::chrono::steady_clock::now();
  b.Start();
  ASSERT_TRUE(Eventually([&] { return b.IsLeader(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(1000));
  EXPECT_EQ((*api.Peek(k8s::resources::Leases(), "ops", "ruo"))["spec"]["leaseTransitions"], 1);
  b.Stop();
}

TEST(LeaderElectorTest, LosesLeadershipWhenRenewalsFailPastTheDeadline) {
  FakeApi api;
  std::atomic<bool> lost{false};
  LeaderCallbacks cbs;
  cbs.on_lost_leadership = [&] { lost = true; };
  LeaderElector e(api, Fast("me"), cbs);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return e.IsLeader(); }));
  auto down_at = std::chrono::steady_clock::now();
  api.SetDown(true);
  ASSERT_TRUE(Eventually([&] { return lost.load(); }));
  auto took = std::chrono::steady_clock::now() - down_at;
  EXPECT_GE(took, milliseconds(450));  // renew deadline 600 ms from the last renewal
  // Before anyone else could hold the lease (1 s after our last renewal),
  // with slack for a loaded machine.
  EXPECT_LT(took, milliseconds(1200));
  EXPECT_FALSE(e.IsLeader());
  EXPECT_TRUE(e.Lost());
  api.SetDown(false);
  e.Stop();
  // Lost, not stopped: no release attempted, the lease still names us.
  EXPECT_EQ((*api.Peek(k8s::resources::Leases(), "ops", "ruo"))["spec"]["holderIdentity"], "me");
}

TEST(LeaderElectorTest, LosesLeadershipAtOnceWhenAnotherHolderAppears) {
  FakeApi api;
  std::atomic<bool> lost{false};
  LeaderCallbacks cbs;
  cbs.on_lost_leadership = [&] { lost = true; };
  LeaderElector e(api, Fast("me"), cbs);
  e.Start();
  ASSERT_TRUE(Eventually([&] { return e.IsLeader(); }));
  json lease = *api.Peek(k8s::resources::Leases(), "ops", "ruo");
  lease["spec"]["holderIdentity"] = "usurper";
  lease["spec"]["leaseDurationSeconds"] = 30;
  api.Put(k8s::resources::Leases(), lease);
  ASSERT_TRUE(Eventually([&] { return lost.load(); }, milliseconds(500)));
  e.Stop();
}

TEST(LeaderElectorTest, StopBeforeLeadingDoesNotTouchTheLease) {
  FakeApi api;
  api.Put(k8s::resources::Leases(), Lease("other", 30));
  LeaderElector e(api, Fast("me"), {});
  e.Start();
  std::this_thread::sleep_for(milliseconds(200));
  e.Stop();
  EXPECT_EQ((*api.Peek(k8s::resources::Leases(), "ops", "ruo"))["spec"]["holderIdentity"], "other");
  EXPECT_EQ(api.calls("update"), 0);
}

}  // namespace
}  // namespace ruo::runtime
