#!/usr/bin/env python3
"""Upgrade time in Kubernetes against a plain native full sync of the same data.

One local cluster (hack/cluster, own RUO_CLUSTER_DIR) and the operator run as a
process with the admin kubeconfig. Per run: a fresh namespace with a Redis
instance (StatefulSet redis:7.0 + Service) loaded with DEBUG POPULATE, then, in
alternating order:
  - upgrade: from just before `kubectl apply` of an Immediate RedisUpgrade until a
    watch sees Completed (and the Syncing phase: first seen Syncing -> first seen
    WaitingForSwitch), checking that the new master holds every key;
  - native: a fresh local redis-server doing REPLICAOF of the master holding the data,
    timed until master_link_status:up, no sync in progress and not loading, checking
    DBSIZE. When the native sync runs first its master is the old master; when it runs
    second the old master is sealed (a replica that refuses SYNC), so its master is the
    new master, which holds the same data on the same redis-server binary.
No writer runs during this benchmark. Goal: upgrade <= 1.2 x native + 10 s.

    bench/k8s_upgrade_time.sh [--sizes 550000,5500000] [--runs 5] [--build-dir build]
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import k8s_lib  # noqa: E402


def native_sync(master_ip, expect_keys, timeout):
    """Seconds for a fresh replica's full sync from master_ip:6379, until usable."""
    c = k8s_lib.HostResp(master_ip)
    delay = c.cmd("CONFIG", "GET", "repl-diskless-sync-delay")[1]
    diskless = c.cmd("CONFIG", "GET", "repl-diskless-sync")[1]
    c.close()
    r = benchlib.RedisProc()
    try:
        rc = r.client()
        t0 = time.time()
        rc.cmd("REPLICAOF", master_ip, 6379)
        deadline = t0 + timeout
        while True:
            info = rc.info()
            if (info.get("master_link_status") == "up" and info.get("master_sync_in_progress") == "0"
                    and info.get("loading") == "0"):
                break
            if time.time() > deadline:
                raise RuntimeError("native sync from %s did not finish in %ds" % (master_ip, timeout))
            time.sleep(0.02)
        secs = time.time() - t0
        keys = rc.cmd("DBSIZE")
        rc.close()
        if keys != expect_keys:
            raise RuntimeError("native replica holds %d keys, want %d" % (keys, expect_keys))
        return {"native_s": round(secs, 3), "native_source_diskless": diskless,
                "native_source_diskless_delay_s": int(delay)}
    finally:
        r.stop()


def upgrade(cluster, watch, ns, rup, svc, expect_keys, timeout):
    t_apply = time.time()
    cluster.kubectl("apply", "-f", "-", stdin=k8s_lib.upgrade_yaml(ns, rup, svc))
    phase = watch.wait_phase(rup, ("Completed", "Failed"), timeout)
    t_done = time.time()
    st = k8s_lib.rup_status(cluster, ns, rup)
    if phase != "Completed":
        raise RuntimeError("upgrade ended %s: %s %s" % (phase, st.get("reason"), st.get("message")))
    seen = watch.first_seen(rup)
    new_ip = cluster.kubectl("-n", ns, "get", "pod", st["newMasterPod"], "-o",
                             "jsonpath={.status.podIP}")
    c = k8s_lib.HostResp(new_ip)
    keys = c.cmd("DBSIZE")
    c.close()
    if keys != expect_keys:
        raise RuntimeError("new master holds %d keys, want %d" % (keys, expect_keys))

    def span(a, b):
        return round(seen[b] - seen[a], 3) if a in seen and b in seen else None

    t_full = watch.first_seen_where(rup, lambda e: e[6] == "true")
    return new_ip, {
        "upgrade_s": round(t_done - t_apply, 3),
        "to_syncing_s": round(seen["Syncing"] - t_apply, 3) if "Syncing" in seen else None,
        "syncing_s": span("Syncing", "WaitingForSwitch"),
        "full_sync_done_after_syncing_s": (round(t_full - seen["Syncing"], 3)
                                           if t_full and "Syncing" in seen else None),
        "switching_s": span("Switching", "Completed"),
        "write_blocked_ms": st.get("switch", {}).get("writeBlockedMillis"),
    }


def one_run(cluster, args, keys, i, native_first):
    ns = "but-%d-%d" % (keys, i)
    svc, rup = "orders", "orders-up"
    watch = None
    row = {"keys": keys, "run": i, "order": "native,upgrade" if native_first else "upgrade,native",
           "load_avg_start": k8s_lib.load_average()}
    try:
        old_ip, _ = k8s_lib.create_instance(cluster, ns, svc, memory=args.memory)
        c = k8s_lib.HostResp(old_ip)
        c.cmd("DEBUG", "POPULATE", keys, "key", args.value_size)
        row["used_memory_mib"] = round(int(c.info("memory")["used_memory"]) / 2**20)
        c.close()
        watch = k8s_lib.RupWatch(cluster, ns)
        if native_first:
            row.update(native_sync(old_ip, keys, args.timeout))
            row["native_source"] = "old master"
            _, up = upgrade(cluster, watch, ns, rup, svc, keys, args.timeout)
            row.update(up)
        else:
            new_ip, up = upgrade(cluster, watch, ns, rup, svc, keys, args.timeout)
            row.update(up)
            row.update(native_sync(new_ip, keys, args.timeout))
            row["native_source"] = "new master"
        row["ratio"] = round(row["upgrade_s"] / row["native_s"], 2)
        row["goal_s"] = round(1.2 * row["native_s"] + 10, 3)
        row["goal_met"] = row["upgrade_s"] <= row["goal_s"]
        row["load_avg_end"] = k8s_lib.load_average()
        return row
    finally:
        if watch is not None:
            watch.stop()
        k8s_lib.delete_namespace(cluster, ns)


def summarize(rows):
    def med(k):
        v = [r[k] for r in rows if r.get(k) is not None]
        return round(statistics.median(v), 3) if v else None
    s = {"runs": len(rows), "used_memory_mib": med("used_memory_mib"),
         "upgrade_s_median": med("upgrade_s"), "native_s_median": med("native_s"),
         "syncing_s_median": med("syncing_s"), "switching_s_median": med("switching_s"),
         "to_syncing_s_median": med("to_syncing_s"), "ratio_median": med("ratio"),
         "runs_meeting_goal": sum(1 for r in rows if r["goal_met"])}
    if s["upgrade_s_median"] is not None:
        s["goal_s"] = round(1.2 * s["native_s_median"] + 10, 3)
        s["goal_met"] = s["upgrade_s_median"] <= s["goal_s"]
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="550000,5500000",
                    help="keys per dataset, comma-separated (100-byte values: ~100 MiB, ~1 GiB)")
    ap.add_argument("--runs", type=int, default=5, help="runs per size (comma list: per size)")
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--memory", default="4Gi", help="the instance's memory limit")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", "build"))
    ap.add_argument("--cluster-dir", default=os.environ.get("RUO_CLUSTER_DIR",
                                                            "/tmp/ruo-bench-cluster"))
    ap.add_argument("--keep-cluster", action="store_true")
    ap.add_argument("--json", help="write all rows and the summaries here")
    args = ap.parse_args()
    bins = benchlib.Binaries(args.build_dir)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = [int(r) for r in str(args.runs).split(",")]
    runs = runs + [runs[-1]] * (len(sizes) - len(runs))

    print("machine: " + benchlib.machine_description())
    print("load average at start: " + k8s_lib.load_average(), flush=True)
    work = k8s_lib.workdir("ruo-bench-k8s-upgrade-")
    cluster = k8s_lib.Cluster(args.cluster_dir, keep=args.keep_cluster)
    op = None
    rows, summaries, failed = [], {}, False
    try:
        op = k8s_lib.Operator(bins.operator, cluster.kubeconfig, os.path.join(work, "operator.log"))
        n = 0
        for keys, nruns in zip(sizes, runs):
            for i in range(1, nruns + 1):
                n += 1
                try:
                    row = one_run(cluster, args, keys, i, native_first=(n % 2 == 1))
                except (RuntimeError, OSError) as e:
                    failed = True
                    row = {"keys": keys, "run": i, "error": str(e)}
                rows.append(row)
                print(json.dumps(row), flush=True)
            ok = [r for r in rows if r["keys"] == keys and "error" not in r]
            summaries[keys] = summarize(ok)
            print("summary keys=%d: %s" % (keys, json.dumps(summaries[keys])), flush=True)
        print("load average at end: " + k8s_lib.load_average())
    finally:
        if op is not None:
            op.stop()
            if failed:
                print("operator log kept: " + os.path.join(work, "operator.log"))
            else:
                shutil.rmtree(work, ignore_errors=True)
        cluster.down()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "summaries": summaries}, f, indent=1)
    return 0 if not failed and all(s.get("goal_met") for s in summaries.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
