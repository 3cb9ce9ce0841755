#include "upgrade/switch_driver.h"

#include <spdlog/spdlog.h>

#include <set>

#include "upgrade/instance.h"
#include "upgrade/record_sink.h"
#include "upgrade/redis_access.h"
#include "upgrade/source_health.h"
#include "upgrade/teardown.h"
#include "upgrade/traffic.h"
#include "upgrade/traffic_settled.h"

namespace ruo::upgrade {
namespace {

using engine::SwitchStep;
using runtime::Result;

bool PastPointOfNoReturn(SwitchStep s) {
  return s == SwitchStep::kVerified || s == SwitchStep::kTrafficMoved;
}

// How long old clients were closed and why it stopped: "for 400 ms, until the
// Service's endpoints listed only new pods" (SwitchCompleted's message and Event).
std::string DescribeClientKill(const engine::ClientKillReport& r) {
  std::string s = "for " + std::to_string(r.took.count()) + " ms";
  if (!r.kill_error.empty()) return s + ", then CLIENT KILL failed (" + r.kill_error + ")";
  if (!r.settled) return s;
  if (*r.settled) return s + ", until the Service's endpoints listed only new pods";
  return s +
         "; the Service's endpoints still did not list only new pods (finished anyway: the "
         "old master is sealed)";
}

}  // namespace

StatusOr<engine::SwitchRecord> StoredSwitchRecord(const StatusDoc& d) {
  if (!d.s.sw.record.is_object()) return engine::SwitchRecord{};
  return engine::SwitchRecord::FromJson(d.s.sw.record);
}

SwitchDrive DriveSwitch(ReconcileContext& ctx, engine::SwitchRecord& record, bool fresh) {
  SwitchDrive drive;
  const StatusDoc& d = ctx.doc();

  std::unique_ptr<redis::Admin> old_admin;
  auto old = LocateOldMaster(ctx);
  Status old_status = old.status();
  if (old.ok()) {
    auto admin = ConnectRedis(ctx, old->endpoint);
    if (admin.ok()) {
      old_admin = std::move(admin).value();
    } else {
      old_status = admin.status();
    }
  }
  if (!old_admin) {
    if (PastPointOfNoReturn(record.step)) {
      auto ep = redis::Endpoint::Parse(record.old_master);
      old_admin = UnreachableAdmin(ep.ok() ? *ep : redis::Endpoint{d.source.pod_ip, d.source.port},
                                   old_status);
    } else if (fresh) {
      drive.stop = OnSourceTrouble(ctx, old_status);  // nothing was changed yet
      return drive;
    } else {
      drive.stop = Result::Error(old_status.Annotate("undoing the interrupted switch"));
      return drive;
    }
  }

  auto new_ep = NewPodEndpoint(ctx, 0);
  if (!new_ep.ok()) {
    drive.stop = Result::Error(new_ep.status());
    return drive;
  }
  auto new_admin = ConnectRedis(ctx, *new_ep);
  if (!new_admin.ok()) {
    drive.stop = Result::Error(new_admin.status());
    return drive;
  }
  std::vector<std::unique_ptr<redis::Admin>> replicas;
  std::vector<redis::Admin*> replica_ptrs;
  std::set<std::string> new_ips = {new_ep->host};
  if (auto size = NewInstanceSize(ctx); size.ok()) {
    for (int i = 1; i < *size; ++i) {
      auto ep = NewPodEndpoint(ctx, i);
      if (!ep.ok()) continue;
      new_ips.insert(ep->host);
      auto admin = ConnectRedis(ctx, *ep);
      if (!admin.ok()) continue;  // a replica that is down catches up on its own later
      replica_ptrs.push_back(admin->get());
      replicas.push_back(std::move(admin).value());
    }
  }

  engine::SwitchOptions opts;
  opts.max_read_only = std::chrono::seconds(ctx.spec().max_read_only_seconds);
  // Recorded by the sync's first poll (CheckSameServer); checked again at the block.
  opts.expected_source_run_id = d.source.run_id;
  k8s::Client& client = ctx.client();
  // Old clients are closed until the Service's endpoints list only new pods.
  std::string old_ip = d.source.pod_ip;
  if (auto ep = redis::Endpoint::Parse(record.old_master); old_ip.empty() && ep.ok()) {
    old_ip = ep->host;
  }
  opts.traffic_settled = [&client, ns = ctx.ns(), service = ctx.spec().service, new_ips, old_ip] {
    return ServiceEndpointsSettled(client, ns, service, new_ips, old_ip);
  };
  opts.client_kill_min = ctx.options().client_kill_min;
  opts.client_kill_max = ctx.options().client_kill_max;
  opts.on_clients_closed = [&drive](const engine::ClientKillReport& r) { drive.clients = r; };
  StatusRecordSink sink(ctx);
  engine::SwitchProtocol protocol(*old_admin, **new_admin, replica_ptrs, opts, ctx.clock(), sink);
  const engine::TrafficMover mover = [&client, ns = ctx.ns(), service = ctx.spec().service,
                                      pod = d.s.new_master_pod] {
    return MoveServiceSelector(client, ns, service, pod);
  };
  spdlog::info("upgrade {}: switch {} (record attempt {}, step {})", ctx.upgrade().Key(),
               fresh ? "attempt starts" : "resumes", record.attempt,
               engine::SwitchStepName(record.step));
  drive.outcome = fresh ? protocol.Run(record, mover) : protocol.Resume(record, mover);
  return drive;
}

Result OnSwitchCompleted(ReconcileContext& ctx, const engine::SwitchRecord& record,
                         const std::optional<engine::ClientKillReport>& clients) {
  // The limits raised for the sync go back (the old master is sealed; best effort).
  if (Status s = RestoreSyncLimits(ctx); !s.ok()) {
    spdlog::warn("upgrade {}: restoring the old master's settings after the switch: {}",
                 ctx.upgrade().Key(), s.ToString());
  }
  const std::string now = ctx.Now();
  const std::string closed = clients ? DescribeClientKill(*clients) : std::string();
  Status s = ctx.Commit([&](StatusDoc& d) { TxSwitchCompleted(d, record, now, closed); });
  if (!s.ok()) return Result::Error(s);
  ctx.deps().metrics.SetPhase(ctx.ns(), ctx.name(), "Completed");
  if (record.write_blocked_ms >= 0) {
    ctx.deps().metrics.ObserveWriteBlocked(static_cast<double>(record.write_blocked_ms) / 1000.0);
  }
  ctx.Event("SwitchCompleted",
            "Service " + ctx.spec().service + " now selects " + ctx.doc().s.new_master_pod +
                " (Redis " + ctx.doc().s.target_version + "); writes blocked " +
                std::to_string(record.write_blocked_ms) + " ms, attempt " +
                std::to_string(record.attempt) + ", offsets fence " +
                std::to_string(record.fence_offset) + " promoted " +
                std::to_string(record.promoted_offset) + " sealed " +
                std::to_string(record.sealed_offset) + ", " +
                std::to_string(record.clients_killed) + " old client connection(s) closed" +
                (closed.empty() ? std::string() : " " + closed));
  if (clients && clients->settled == false && clients->kill_error.empty()) {
    ctx.Warning("EndpointsNotSettled",
                "after " + std::to_string(clients->took.count()) +
                    " ms the Service's EndpointSlices still listed the old master or no ready "
                    "new pod; old clients are no longer closed (the old master is sealed and "
                    "acknowledges no write; clients left on it get errors and should reconnect)" +
                    (clients->last_predicate_error.empty()
                         ? std::string()
                         : "; last check: " + clients->last_predicate_error));
  }
  return Result::Continue();
}

Result OnSwitchReleased(ReconcileContext& ctx, const engine::SwitchRecord& record,
                        std::string reason) {
  if (reason.empty()) reason = ReleaseReason(record);
  const std::string now = ctx.Now();
  Status s = ctx.Commit([&](StatusDoc& d) { TxSwitchReleased(d, record, reason, now); });
  if (!s.ok()) return Result::Error(s);
  ctx.deps().metrics.SetPhase(ctx.ns(), ctx.name(), "WaitingForSwitch");
  ctx.Warning(reason, "switch attempt " + std::to_string(record.attempt) +
                          " released writes on the old master, which stays in service; the "
                          "switch is retried: " +
                          record.last_error);
  return Result::RequeueAfter(ctx.options().sync_poll_interval, "switch released: " + reason);
}

}  // namespace ruo::upgrade
