#!/usr/bin/env python3
"""Switch in Kubernetes: write-blocked ms and the client-visible gap by write rate.

One local cluster (hack/cluster, own RUO_CLUSTER_DIR) and the operator run as a
process with the admin kubeconfig. Per run: a fresh namespace with a Redis
instance (StatefulSet redis:7.0 + ClusterIP Service, the VIP; --keys keys via
DEBUG POPULATE), `redis-upgrade-operator probe --rate R` writing through the VIP,
an Immediate RedisUpgrade, wait for Completed, then: status.switch.writeBlockedMillis,
the probe's max_gap_ms / acked / lost. The probe verifies through the VIP after
the switch; the script checks that the VIP then reaches the new master pod
(CONFIG GET bind), so the verification runs on the new master.

    bench/k8s_switch.sh [--rates 1000,5000,10000] [--runs 5] [--keys 10000] [--build-dir build]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import k8s_lib  # noqa: E402


def one_run(cluster, bins, args, rate, i, op_log):
    ns = "bsw-%d-%d" % (rate, i)
    name = "orders"
    rup = "orders-up"
    watch = probe = None
    load_before = k8s_lib.load_average()
    try:
        old_ip, vip = k8s_lib.create_instance(cluster, ns, name)
        if args.keys:
            c = k8s_lib.HostResp(old_ip)
            c.cmd("DEBUG", "POPULATE", args.keys, "key", args.value_size)
            c.close()
        watch = k8s_lib.RupWatch(cluster, ns)
        env = dict(os.environ)
        env.pop("REDISCLI_AUTH", None)
        probe = subprocess.Popen(
            [bins.operator, "probe", "--addr", vip + ":6379", "--rate", str(rate),
             "--duration", "900", "--verify", vip + ":6379", "--key-prefix", "bench",
             "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            start_new_session=True)
        time.sleep(args.warmup)
        t_apply = time.time()
        cluster.kubectl("apply", "-f", "-", stdin=k8s_lib.upgrade_yaml(ns, rup, name))
        phase = watch.wait_phase(rup, ("Completed", "Failed"), args.timeout)
        t_done = time.time()
        time.sleep(args.cooldown)
        probe.send_signal(signal.SIGTERM)
        pout, _ = probe.communicate(timeout=180)
        st = k8s_lib.rup_status(cluster, ns, rup)
        new_pod = st.get("newMasterPod", "")
        new_ip = cluster.kubectl("-n", ns, "get", "pod", new_pod, "-o",
                                 "jsonpath={.status.podIP}", check=False) if new_pod else ""
        backend = k8s_lib.vip_backend(vip)
        p = benchlib.parse_report(pout)
        seen = watch.first_seen(rup)
        sw = st.get("switch", {})
        to_verified = window_breakdown(op_log, ns)
        row = {
            "rate": rate,
            "run": i,
            "phase": st.get("phase") or phase,
            "reason": st.get("reason"),
            "write_blocked_ms": sw.get("writeBlockedMillis"),
            "attempts": sw.get("attempts"),
            "blocked_to_verified_ms": to_verified,
            "verified_to_moved_ms": (sw["writeBlockedMillis"] - to_verified
                                     if to_verified is not None and
                                     sw.get("writeBlockedMillis") is not None else None),
            "switching_s": (round(seen["Completed"] - seen["Switching"], 3)
                            if "Completed" in seen and "Switching" in seen else None),
            "apply_to_completed_s": round(t_done - t_apply, 3),
            "probe_max_gap_ms": round(p.get("max_gap_ms", -1), 3),
            "probe_acked": p.get("acked"),
            "probe_rate": round(p.get("rate_achieved", 0)),
            "probe_errors": p.get("errors_by_kind"),
            "lost": p.get("lost"),
            "verify_error": p.get("verify_error"),
            "verified_on_new_master": bool(new_ip) and backend == new_ip,
            "load_avg": load_before,
        }
        return row
    finally:
        if probe is not None and probe.poll() is None:
            os.killpg(probe.pid, signal.SIGKILL)
            probe.wait()
        if watch is not None:
            watch.stop()
        if not args.keep_namespaces:
            k8s_lib.delete_namespace(cluster, ns)


def log_ms(line):
    """Milliseconds since the epoch of an operator log line (2026-11-24T12:12:15.092Z ...)."""
    import datetime
    stamp = line.split(" ", 1)[0]
    t = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000.0


def window_breakdown(log_path, ns):
    """From the operator log: ms from 'writes blocked' to 'verified' (catch-up, promote, seal,
    one status write) for the switch of namespace ns; the rest of writeBlockedMillis is the
    Service selector patch (and the replicas' repointing, none here)."""
    current, blocked, verified = None, None, None
    with open(log_path) as f:
        for line in f:
            if ": switch attempt starts" in line or ": switch resumes" in line:
                current = line.split("upgrade ", 1)[1].split("/", 1)[0]
            elif current == ns and "switch: writes blocked" in line:
                blocked = log_ms(line)
            elif current == ns and "switch: verified" in line:
                verified = log_ms(line)
    if blocked is None or verified is None:
        return None
    return round(verified - blocked)


def summarize(rows):
    ok = [r for r in rows if r["phase"] == "Completed" and r["lost"] == 0 and
          r["verified_on_new_master"]]
    blocked = [r["write_blocked_ms"] for r in ok]
    gaps = [r["probe_max_gap_ms"] for r in ok]
    rates = [r["probe_rate"] for r in ok]
    to_verified = [r["blocked_to_verified_ms"] for r in ok if r["blocked_to_verified_ms"] is not None]
    to_moved = [r["verified_to_moved_ms"] for r in ok if r["verified_to_moved_ms"] is not None]
    s = {
        "runs": len(rows),
        "completed_without_loss": len(ok),
        "lost_total": sum((r["lost"] or 0) for r in rows),
        "write_blocked_ms_p50": benchlib.percentile(blocked, 50),
        "write_blocked_ms_p99": benchlib.percentile(blocked, 99),
        "blocked_to_verified_ms_p50": benchlib.percentile(to_verified, 50),
        "blocked_to_verified_ms_p99": benchlib.percentile(to_verified, 99),
        "verified_to_moved_ms_p50": benchlib.percentile(to_moved, 50),
        "verified_to_moved_ms_p99": benchlib.percentile(to_moved, 99),
        "probe_max_gap_ms_p50": benchlib.percentile(gaps, 50),
        "probe_max_gap_ms_p99": benchlib.percentile(gaps, 99),
        "probe_rate_achieved_p50": benchlib.percentile(rates, 50),
        "probe_rate_achieved_min": min(rates) if rates else None,
        "load_avgs": [r["load_avg"] for r in rows],
    }
    s["goal_met"] = (len(ok) == len(rows) and s["write_blocked_ms_p99"] <= 100 and
                     s["probe_max_gap_ms_p99"] <= 1000)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1000,5000,10000", help="probe writes/s, comma-separated")
    ap.add_argument("--runs", type=int, default=5, help="runs per rate")
    ap.add_argument("--keys", type=int, default=10000, help="DEBUG POPULATE on the old master")
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--warmup", type=float, default=1.0, help="probe seconds before the apply")
    ap.add_argument("--cooldown", type=float, default=0.5, help="probe seconds after Completed")
    ap.add_argument("--timeout", type=float, default=300, help="seconds to wait for Completed")
    ap.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", "build"))
    ap.add_argument("--cluster-dir", default=os.environ.get("RUO_CLUSTER_DIR",
                                                            "/tmp/ruo-bench-cluster"))
    ap.add_argument("--keep-cluster", action="store_true")
    ap.add_argument("--keep-namespaces", action="store_true")
    ap.add_argument("--keep-logs", action="store_true", help="keep the operator log")
    ap.add_argument("--json", help="write all rows and the summaries here")
    args = ap.parse_args()
    bins = benchlib.Binaries(args.build_dir)
    rates = [int(r) for r in args.rates.split(",")]

    print("machine: " + benchlib.machine_description())
    print("load average at start: " + k8s_lib.load_average(), flush=True)
    work = k8s_lib.workdir("ruo-bench-k8s-switch-")
    cluster = k8s_lib.Cluster(args.cluster_dir, keep=args.keep_cluster)
    op = None
    rows, summaries = [], {}
    try:
        op = k8s_lib.Operator(bins.operator, cluster.kubeconfig, os.path.join(work, "operator.log"))
        # Interleave the rates, so that load drift on a shared machine spreads over all of them.
        for i in range(1, args.runs + 1):
            for rate in rates:
                row = one_run(cluster, bins, args, rate, i, os.path.join(work, "operator.log"))
                rows.append(row)
                print(json.dumps(row), flush=True)
        for rate in rates:
            summaries[rate] = summarize([r for r in rows if r["rate"] == rate])
            print("summary rate=%d: %s" % (rate, json.dumps(summaries[rate])), flush=True)
        print("load average at end: " + k8s_lib.load_average())
        # Server-side time of the two kinds of API write inside the window, over every run.
        for what, args_ in (("RedisUpgrade status PUT", ("redisupgrades", "PUT", "status")),
                            ("Service PATCH", ("services", "PATCH"))):
            buckets = k8s_lib.apiserver_latency(cluster, *args_)
            print("apiserver %s durations (upper bound s: requests): %s" % (
                what, ", ".join("%g: %d" % b for b in buckets)))
    finally:
        if op is not None:
            op.stop()
            if args.keep_logs or any(r["phase"] != "Completed" for r in rows):
                print("operator log kept: " + os.path.join(work, "operator.log"))
            else:
                shutil.rmtree(work, ignore_errors=True)
        cluster.down()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "summaries": summaries}, f, indent=1)
    return 0 if all(s["goal_met"] for s in summaries.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
