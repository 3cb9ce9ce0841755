#include "runtime/leader_election.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <ctime>

#include "common/log.h"
#include "k8s/errors.h"
#include "k8s/resource.h"

namespace ruo::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const nlohmann::json& SpecOf(const nlohmann::json& lease) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (!lease.is_object()) return kEmpty;
  auto it = lease.find("spec");
  return it != lease.end() && it->is_object() ? *it : kEmpty;
}

std::string StringField(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t IntField(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// leaseDurationSeconds is whole seconds; round up so the lease never claims
// less than configured.
int64_t WholeSeconds(milliseconds d) {
  return std::max<int64_t>(1, (d.count() + 999) / 1000);
}

nlohmann::json SpecJson(const LeaseRecord& r) {
  nlohmann::json spec = {{"holderIdentity", r.holder_identity},
                         {"leaseDurationSeconds", r.lease_duration_seconds},
                         {"leaseTransitions", r.lease_transitions}};
  // MicroTime fields must be valid timestamps or absent, never "".
  if (!r.acquire_time.empty()) spec["acquireTime"] = r.acquire_time;
  if (!r.renew_time.empty()) spec["renewTime"] = r.renew_time;
  return spec;
}

// `base` keeps metadata (and so the resourceVersion the write is conditional on).
nlohmann::json WithSpec(const nlohmann::json& base, const LeaseRecord& r) {
  nlohmann::json lease = base;
  lease["spec"] = SpecJson(r);
  return lease;
}

}  // namespace

Status ValidateLeaderElectionConfig(const LeaderElectionConfig& c) {
  if (c.identity.empty()) return InvalidArgument("leader election needs an identity");
  if (c.lease_name.empty()) return InvalidArgument("leader election needs a lease name");
  if (c.lease_namespace.empty()) return InvalidArgument("leader election needs a namespace");
  if (c.retry_period.count() <= 0 || c.renew_deadline.count() <= 0 ||
      c.lease_duration.count() <= 0) {
    return InvalidArgument("lease duration, renew deadline and retry period must be positive");
  }
  if (c.lease_duration <= c.renew_deadline) {
    return InvalidArgument("lease duration must be greater than the renew deadline");
  }
  if (c.renew_deadline.count() <= c.retry_period.count() * 1.2) {
    return InvalidArgument("renew deadline must be greater than 1.2 × the retry period");
  }
  return Status::Ok();
}

std::string DefaultIdentity() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::string h = host[0] != '\0' ? host : "unknown";
  return h + "_" + std::to_string(getpid());
}

LeaseRecord LeaseRecordFromJson(const nlohmann::json& lease) {
  const nlohmann::json& spec = SpecOf(lease);
  LeaseRecord r;
  r.holder_identity = StringField(spec, "holderIdentity");
  r.lease_duration_seconds = IntField(spec, "leaseDurationSeconds");
  r.acquire_time = StringField(spec, "acquireTime");
  r.renew_time = StringField(spec, "renewTime");
  r.lease_transitions = IntField(spec, "leaseTransitions");
  return r;
}

std::string FormatMicroTime(std::chrono::system_clock::time_point t) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  int64_t secs = micros / 1000000;
  int64_t frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

LeaseDecision DecideLease(const std::optional<nlohmann::json>& current,
                          const LeaderElectionConfig& config, LeaseObservation& observed,
                          std::chrono::system_clock::time_point now,
                          std::chrono::steady_clock::time_point mono_now) {
  const std::string stamp = FormatMicroTime(now);
  LeaseDecision d;
  if (!current) {
    LeaseRecord r{config.identity, WholeSeconds(config.lease_duration), stamp, stamp, 0};
    observed = {true, r, mono_now};
    d.action = LeaseAction::kCreate;
    d.holder = config.identity;
    d.acquiring = true;
    nlohmann::json base = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config.lease_name}, {"namespace", config.lease_namespace}}}};
    d.lease = WithSpec(base, r);
    return d;
  }

  LeaseRecord read = LeaseRecordFromJson(*current);
  // Expiry runs from when *we* saw the record change, not from its renewTime,
  // so clock skew between nodes cannot hand the lease to two holders.
  if (!observed.valid || !(observed.record == read)) observed = {true, read, mono_now};

  const bool ours = read.holder_identity == config.identity;
  if (!read.holder_identity.empty() && !ours) {
    auto expiry = observed.observed_at + seconds(read.lease_duration_seconds);
    if (expiry > mono_now) {
      d.action = LeaseAction::kWait;
      d.holder = read.holder_identity;
      d.expires_in = std::chrono::duration_cast<milliseconds>(expiry - mono_now);
      return d;
    }
  }

  LeaseRecord next = read;
  next.holder_identity = config.identity;
  next.lease_duration_seconds = WholeSeconds(config.lease_duration);
  next.renew_time = stamp;
  if (!ours || read.acquire_time.empty()) {
    next.acquire_time = stamp;
    if (!ours) next.lease_transitions = read.lease_transitions + 1;
  }
  d.action = LeaseAction::kUpdate;
  d.holder = config.identity;
  d.acquiring = !ours;
  d.lease = WithSpec(*current, next);
  return d;
}

std::optional<nlohmann::json> ReleasedLease(const nlohmann::json& current,
                                            const std::string& identity,
                                            std::chrono::system_clock::time_point now) {
  LeaseRecord read = LeaseRecordFromJson(current);
  if (read.holder_identity != identity || identity.empty()) return std::nullopt;
  const std::string stamp = FormatMicroTime(now);
  // client-go's release: no holder, a 1 s duration, transitions kept.
  LeaseRecord released{"", 1, stamp, stamp, read.lease_transitions};
  return WithSpec(current, released);
}

LeaderElector::LeaderElector(k8s::Client& client, LeaderElectionConfig config,
                             LeaderCallbacks callbacks, Clock& clock)
    : client_(client),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      clock_(clock),
      cancel_(k8s::CancelToken::Create()),
      rng_(static_cast<uint64_t>(clock.Monotonic().time_since_epoch().count()) ^
           static_cast<uint64_t>(getpid())) {}

LeaderElector::~LeaderElector() {
  Stop();
}

void LeaderElector::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Stop() {
  cancel_->Cancel();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::string LeaderElector::ObservedLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observed_leader_;
}

void LeaderElector::NoteHolder(const std::string& holder) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (holder == observed_leader_) return;
    observed_leader_ = holder;
  }
  spdlog::info("leader election: new leader lease={}/{} holder={}", config_.lease_namespace,
               config_.lease_name, holder);
  if (callbacks_.on_new_leader) callbacks_.on_new_leader(holder);
}

milliseconds LeaderElector::Jittered(milliseconds d) {
  // xorshift: a little spread so candidates started together do not retry in lockstep.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  double f = static_cast<double>(rng_ % 1000) / 1000.0;
  return milliseconds(d.count() + static_cast<int64_t>(std::llround(d.count() * 1.2 * f)));
}

bool LeaderElector::TryAcquireOrRenew() {
  const auto& ns = config_.lease_namespace;
  std::optional<nlohmann::json> current;
  auto got = client_.Get(k8s::resources::Leases(), ns, config_.lease_name);
  if (got.ok()) {
    current = std::move(got).value();
  } else if (!k8s::IsNotFound(got.status())) {
    spdlog::warn("leader election: cannot read lease={}/{} error={}", ns, config_.lease_name,
                 got.status().ToString());
    return false;
  }

  LeaseDecision d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    d = DecideLease(current, config_, observed_, clock_.Now(), clock_.Monotonic());
  }
  if (d.action == LeaseAction::kWait) {
    held_by_other_ = true;
    NoteHolder(d.holder);
    return false;
  }
  held_by_other_ = false;

  auto written = d.action == LeaseAction::kCreate
                     ? client_.Create(k8s::resources::Leases(), ns, d.lease)
                     : client_.Update(k8s::resources::Leases(), ns, d.lease);
  if (!written.ok()) {
    const Status& s = written.status();
    if (k8s::IsConflict(s) || k8s::IsAlreadyExists(s)) {
      // Another candidate wrote first; the next attempt re-reads.
      spdlog::debug("leader election: lost a race for lease={}/{}", ns, config_.lease_name);
    } else {
      spdlog::warn("leader election: cannot write lease={}/{} error={}", ns, config_.lease_name,
                   s.ToString());
    }
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    observed_ = {true, LeaseRecordFromJson(*written), clock_.Monotonic()};
  }
  if (d.acquiring) {
    spdlog::info("leader election: acquired lease={}/{} identity={}", ns, config_.lease_name,
                 config_.identity);
  }
  NoteHolder(config_.identity);
  return true;
}

Status LeaderElector::Release() {
  const auto& ns = config_.lease_namespace;
  RUO_ASSIGN_OR_RETURN(nlohmann::json current,
                       client_.Get(k8s::resources::Leases(), ns, config_.lease_name));
  auto released = ReleasedLease(current, config_.identity, clock_.Now());
  if (!released) return Status::Ok();  // not ours (any more): nothing to give up
  auto written = client_.Update(k8s::resources::Leases(), ns, *released);
  if (!written.ok()) return written.status();
  spdlog::info("leader election: released lease={}/{} identity={}", ns, config_.lease_name,
               config_.identity);
  return Status::Ok();
}

void LeaderElector::Run() {
  spdlog::info("leader election: campaigning lease={}/{} identity={}", config_.lease_namespace,
               config_.lease_name, config_.identity);
  // Acquire.
  bool acquired = false;
  while (!cancel_->cancelled()) {
    if (TryAcquireOrRenew()) {
      acquired = true;
      break;
    }
    if (!cancel_->SleepFor(Jittered(config_.retry_period))) break;
  }
  if (!acquired) return;
  leading_ = true;
  if (callbacks_.on_started_leading) callbacks_.on_started_leading();

  // Renew until stopped or until renewals have failed for renewDeadline.
  auto last_renew = clock_.Monotonic();
  while (cancel_->SleepFor(config_.retry_period)) {
    if (TryAcquireOrRenew()) {
      last_renew = clock_.Monotonic();
      continue;
    }
    bool deadline_passed = clock_.Monotonic() - last_renew >= config_.renew_deadline;
    if (held_by_other_ || deadline_passed) {
      leading_ = false;
      lost_ = true;
      spdlog::error("leader election: lost lease={}/{} identity={} reason={}",
                    config_.lease_namespace, config_.lease_name, config_.identity,
                    held_by_other_ ? "held by another identity" : "renew deadline passed");
      if (callbacks_.on_lost_leadership) callbacks_.on_lost_leadership();
      return;
    }
  }
  // Stopped while leading.
  if (config_.release_on_cancel) {
    Status s = Release();
    if (!s.ok()) {
      spdlog::warn("leader election: release failed lease={}/{} error={}", config_.lease_namespace,
                   config_.lease_name, s.ToString());
    }
  }
  leading_ = false;
}

}  // namespace ruo::runtime
