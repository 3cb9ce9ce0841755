#!/usr/bin/env python3
"""Switch in Kubernetes: write-blocked ms and the client-visible gap by source version and write rate.

One local cluster (hack/cluster, own RUO_CLUSTER_DIR) and the operator run as a
process with the admin kubeconfig. Per run: a fresh namespace with a Redis
instance (StatefulSet redis:<source> + ClusterIP Service, the VIP; --keys keys of
--value-size bytes via DEBUG POPULATE, or pipelined SETs of the same keys and values
where DEBUG POPULATE has no size argument, as on 2.8), `redis-upgrade-operator probe
--rate R` writing plain SETs through the VIP (--mix: the probe's write mix instead),
an Immediate RedisUpgrade to --target (allowSameVersion only when the source's
release line is the target's), wait for Completed, then:
status.switch.writeBlockedMillis, status.switch.record.blockMethod, the probe's
max_gap_ms / acked / lost. The probe verifies through the VIP after the switch; the
script checks that the VIP then reaches the new master pod (CONFIG GET bind), so the
verification runs on the new master, and that the old and new masters run the
source and target versions (INFO server).

Sources other than 7.0 need the real servers of hack/setup-servers.sh: its image-map
file (in ~/.cache/redis-upgrade-operator/servers, or $RUO_SERVERS_DIR) maps redis:2.8,
redis:6.2, redis:7.0 and redis:8.2 to them, and hack/cluster/up.sh hands it to the node
agent. The defaults (--sources 7.0, so --target 7.0) are the 7.0 -> 7.0 benchmark of
before, figures comparable.

The runs cycle round-robin through the (source, rate) cells (run 1 of every cell, then
run 2 of every cell, ...; within a round the sources of one rate run back to back), so
load drift on a shared machine hits every cell alike; the order is printed first.
Output: one JSON line per run, one `summary source=S rate=R:` JSON line per cell, a
table per cell (n, write-blocked and client gap p50/p99/max, acked, lost, attempts,
block method, load average range) and, when 7.0 is among the sources, each source's
p50 over the 7.0 source's p50 at the same rate.

    bench/k8s_switch.sh [--sources 7.0] [--target 7.0|8.2] [--rates 1000,5000,10000]
                        [--runs 5] [--keys 10000] [--value-size 100] [--mix]
                        [--build-dir build] [--cluster-dir /tmp/ruo-bench-cluster]
                        [--keep-logs] [--json FILE]
    e.g. bench/k8s_switch.sh --sources 2.8,6.2,7.0 --rates 1000,5000,10000 --runs 5
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import k8s_lib  # noqa: E402


def same_line(a, b):
    return k8s_lib.version_line(a) == k8s_lib.version_line(b)


def load1(load_avg):
    """The 1-minute figure of a "1 5 15" load-average string."""
    return float(load_avg.split()[0])


def one_run(cluster, bins, args, source, rate, i, seq, op_log):
    ns = "bsw-%s-%d-%d" % (source.replace(".", "-"), rate, i)
    name = "orders"
    rup = "orders-up"
    watch = probe = None
    load_before = k8s_lib.load_average()
    try:
        old_ip, vip = k8s_lib.create_instance(cluster, ns, name, version=source)
        source_version = k8s_lib.server_version(old_ip)
        if not same_line(source_version, source):
            raise SystemExit("image redis:%s runs Redis %s, not %s.x: the node agent's image map "
                             "lacks it (hack/setup-servers.sh writes %s)" % (
                                 source, source_version, source,
                                 os.path.join(k8s_lib.servers_dir(), "image-map")))
        populated = None
        if args.keys:
            c = k8s_lib.HostResp(old_ip)
            populated = benchlib.populate(c, args.keys, args.value_size)
            n = c.cmd("DBSIZE")
            c.close()
            if n != args.keys:
                raise RuntimeError("%s: %d keys after loading %d" % (ns, n, args.keys))
        watch = k8s_lib.RupWatch(cluster, ns)
        env = dict(os.environ)
        env.pop("REDISCLI_AUTH", None)
        probe = subprocess.Popen(
            [bins.operator, "probe", "--addr", vip + ":6379", "--rate", str(rate),
             "--duration", "900", "--verify", vip + ":6379", "--key-prefix", "bench",
             "--log-level", "warn"] + (["--mix"] if args.mix else []),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            start_new_session=True)
        time.sleep(args.warmup)
        t_apply = time.time()
        cluster.kubectl("apply", "-f", "-", stdin=k8s_lib.upgrade_yaml(
            ns, rup, name, target=args.target,
            allow_same_version=same_line(source, args.target)))
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
        target_version = None
        if new_ip:
            try:
                target_version = k8s_lib.server_version(new_ip)
            except (OSError, RuntimeError):
                pass
        p = benchlib.parse_report(pout)
        seen = watch.first_seen(rup)
        sw = st.get("switch", {})
        to_verified = window_breakdown(op_log, ns)
        row = {
            "source": source,
            "target": args.target,
            "rate": rate,
            "run": i,
            "order": seq,
            "phase": st.get("phase") or phase,
            "reason": st.get("reason"),
            "source_version": source_version,
            "target_version": target_version,
            "block_method": (sw.get("record") or {}).get("blockMethod"),
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
            "populated_by": populated,
            "load_avg": load_before,
            "load_avg_after": k8s_lib.load_average(),
        }
        if args.mix:
            row["probe_report"] = p  # the mix's per-kind and pub/sub figures, as reported
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
          r["verified_on_new_master"] and r["target_version"] and
          same_line(r["target_version"], r["target"])]
    blocked = [r["write_blocked_ms"] for r in ok if r["write_blocked_ms"] is not None]
    gaps = [r["probe_max_gap_ms"] for r in ok]
    rates = [r["probe_rate"] for r in ok]
    to_verified = [r["blocked_to_verified_ms"] for r in ok if r["blocked_to_verified_ms"] is not None]
    to_moved = [r["verified_to_moved_ms"] for r in ok if r["verified_to_moved_ms"] is not None]
    loads = [load1(r["load_avg"]) for r in rows] + [load1(r["load_avg_after"]) for r in rows]
    s = {
        "source": rows[0]["source"] if rows else None,
        "target": rows[0]["target"] if rows else None,
        "rate": rows[0]["rate"] if rows else None,
        "runs": len(rows),
        "completed_without_loss": len(ok),
        "source_versions": sorted({r["source_version"] for r in rows if r["source_version"]}),
        "target_versions": sorted({r["target_version"] for r in rows if r["target_version"]}),
        "block_methods": sorted({r["block_method"] for r in rows if r["block_method"]}),
        "lost_total": sum((r["lost"] or 0) for r in rows),
        "acked_total": sum((r["probe_acked"] or 0) for r in rows),
        "attempts": [r["attempts"] for r in rows],
        "write_blocked_ms_p50": benchlib.percentile(blocked, 50),
        "write_blocked_ms_p99": benchlib.percentile(blocked, 99),
        "write_blocked_ms_max": max(blocked) if blocked else None,
        "blocked_to_verified_ms_p50": benchlib.percentile(to_verified, 50),
        "blocked_to_verified_ms_p99": benchlib.percentile(to_verified, 99),
        "verified_to_moved_ms_p50": benchlib.percentile(to_moved, 50),
        "verified_to_moved_ms_p99": benchlib.percentile(to_moved, 99),
        "probe_max_gap_ms_p50": benchlib.percentile(gaps, 50),
        "probe_max_gap_ms_p99": benchlib.percentile(gaps, 99),
        "probe_max_gap_ms_max": max(gaps) if gaps else None,
        "probe_rate_achieved_p50": benchlib.percentile(rates, 50),
        "probe_rate_achieved_min": min(rates) if rates else None,
        "load_avg_1m_min": min(loads) if loads else None,
        "load_avg_1m_max": max(loads) if loads else None,
        "load_avgs": [r["load_avg"] for r in rows],
        "per_run_blocked_gap_ms": [[r["write_blocked_ms"], r["probe_max_gap_ms"]] for r in rows],
    }
    s["goal_met"] = (len(ok) == len(rows) and s["write_blocked_ms_p99"] <= 100 and
                     s["probe_max_gap_ms_p99"] <= 1000)
    return s


def cell_key(source, rate):
    return "%s/%d" % (source, rate)


def fmt_ms(v):
    if v is None or v != v:  # None or NaN
        return None
    return "%.0f" % v if v >= 10 else "%.1f" % v


def ratios_to_base(summaries, sources, rates, base="7.0"):
    """p50 of each source over the base source's p50 at the same rate."""
    out = {}
    for rate in rates:
        b = summaries[cell_key(base, rate)]
        for source in sources:
            s = summaries[cell_key(source, rate)]
            r = {}
            for what, key in (("write_blocked_p50", "write_blocked_ms_p50"),
                              ("client_gap_p50", "probe_max_gap_ms_p50")):
                num, den = s[key], b[key]
                r[what] = (round(num / den, 2) if num == num and den == den and den > 0
                           else None)
            out[cell_key(source, rate)] = r
    return out


def print_tables(summaries, sources, rates, ratios):
    headers = ["source", "rate", "n", "ok", "blocked p50", "blocked p99", "blocked max",
               "gap p50", "gap p99", "gap max", "acked", "lost", "attempts", "block method",
               "load 1m"]
    rows = []
    for rate in rates:
        for source in sources:
            s = summaries[cell_key(source, rate)]
            att = [a for a in s["attempts"] if a is not None]
            rows.append([
                "%s->%s" % ("/".join(s["source_versions"]) or source,
                            "/".join(s["target_versions"]) or s["target"]),
                rate, s["runs"], s["completed_without_loss"],
                fmt_ms(s["write_blocked_ms_p50"]), fmt_ms(s["write_blocked_ms_p99"]),
                fmt_ms(s["write_blocked_ms_max"]),
                fmt_ms(s["probe_max_gap_ms_p50"]), fmt_ms(s["probe_max_gap_ms_p99"]),
                fmt_ms(s["probe_max_gap_ms_max"]),
                s["acked_total"], s["lost_total"],
                ("%d" % max(att) if att and min(att) == max(att) else
                 "%d-%d" % (min(att), max(att)) if att else None),
                "+".join(s["block_methods"]) or None,
                "%.1f-%.1f" % (s["load_avg_1m_min"], s["load_avg_1m_max"])])
    print("write-blocked and client gap in ms (percentiles over the runs that Completed "
          "without loss on the right versions; nearest rank):")
    print(benchlib.format_table(headers, rows))
    for rate in rates:
        print("per run (write-blocked ms / client gap ms) at %d writes/s: %s" % (rate, "; ".join(
            "%s: %s" % (source, ", ".join(
                "%s/%s" % (fmt_ms(b), fmt_ms(g))
                for b, g in summaries[cell_key(source, rate)]["per_run_blocked_gap_ms"]))
            for source in sources)))
    if ratios:
        print("p50 over the 7.0 source's p50 at the same rate:")
        print(benchlib.format_table(
            ["source", "rate", "write-blocked", "client gap"],
            [[source, rate] + ["%.2f" % v if v is not None else None
                               for v in (ratios[cell_key(source, rate)]["write_blocked_p50"],
                                         ratios[cell_key(source, rate)]["client_gap_p50"])]
             for rate in rates for source in sources]))


def check_images(versions, mix, bins):
    """Before the cluster comes up: each redis:<version> has a server in the image map the
    node agent gets (without one every redis:* is /usr/bin/redis-server, 7.0.15), and the
    probe knows --mix when asked for. Returns the base image map's path, or None (7.0 only,
    no map installed)."""
    path = os.environ.get("LOCAL_CLUSTER_BASE_IMAGE_MAP") or os.path.join(
        k8s_lib.servers_dir(), "image-map")
    if os.path.exists(path):
        for v in versions:
            exe = k8s_lib.image_map_lookup(path, "redis:" + v)
            if exe is None:
                raise SystemExit("%s maps no server to redis:%s (hack/setup-servers.sh)" % (path, v))
            print("image redis:%s -> %s (%s)" % (v, exe, path))
    elif any(not same_line(v, "7.0") for v in versions):
        raise SystemExit("no %s: redis:%s needs the real servers; run hack/setup-servers.sh" % (
            path, ",".join(v for v in versions if not same_line(v, "7.0"))))
    else:
        path = None
    if mix:
        h = subprocess.run([bins.operator, "probe", "--help"], capture_output=True, text=True)
        if "--mix" not in h.stdout + h.stderr:
            raise SystemExit("%s probe has no --mix flag yet: build it first" % bins.operator)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default="7.0",
                    help="source release lines (images redis:<source>), comma-separated, "
                         "e.g. 2.8,6.2,7.0")
    ap.add_argument("--target", help="targetVersion (default: 7.0 when --sources is 7.0 "
                                     "alone, else 8.2); allowSameVersion only for a source "
                                     "of the same release line")
    ap.add_argument("--rates", default="1000,5000,10000", help="probe writes/s, comma-separated")
    ap.add_argument("--runs", type=int, default=5, help="runs per (source, rate) cell")
    ap.add_argument("--keys", type=int, default=10000,
                    help="keys loaded into the old master (DEBUG POPULATE, or pipelined SETs)")
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--mix", action="store_true",
                    help="the probe's write mix (probe --mix) instead of plain SETs; the "
                         "figures are then not comparable with plain-SET runs")
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
    sources = [v.strip() for v in args.sources.split(",") if v.strip()]
    rates = [int(r) for r in args.rates.split(",")]
    if not sources or any(not re.fullmatch(r"\d+\.\d+", v) for v in sources + [args.target or "0.0"]):
        ap.error("--sources and --target take release lines such as 2.8, 6.2, 7.0, 8.2")
    if len(set(sources)) != len(sources):
        ap.error("--sources lists a version twice")
    if args.target is None:
        args.target = "7.0" if sources == ["7.0"] else "8.2"
    bins = benchlib.Binaries(args.build_dir, forwarder=False)
    image_map = check_images(sources + [args.target], args.mix, bins)

    # Round-robin over the cells: run i of every cell before run i+1 of any; within a round,
    # the sources of one rate back to back (the pairs the ratios compare are closest in time).
    order = [(source, rate, i) for i in range(1, args.runs + 1)
             for rate in rates for source in sources]
    print("machine: " + benchlib.machine_description())
    print("sources %s -> target %s (allowSameVersion for %s), probe %s, %d keys of %d B" % (
        ",".join(sources), args.target,
        ",".join(v for v in sources if same_line(v, args.target)) or "none",
        "--mix" if args.mix else "plain SETs", args.keys, args.value_size))
    print("run order (%d runs = %d rounds of %d cells): %s" % (
        len(order), args.runs, len(sources) * len(rates),
        ", ".join("%s@%d#%d" % o for o in order)))
    print("load average at start: " + k8s_lib.load_average(), flush=True)
    work = k8s_lib.workdir("ruo-bench-k8s-switch-")
    t0 = time.time()
    cluster = k8s_lib.Cluster(args.cluster_dir, keep=args.keep_cluster, base_image_map=image_map)
    op = None
    rows, summaries, ratios = [], {}, {}
    try:
        op = k8s_lib.Operator(bins.operator, cluster.kubeconfig, os.path.join(work, "operator.log"))
        for seq, (source, rate, i) in enumerate(order, 1):
            row = one_run(cluster, bins, args, source, rate, i, seq,
                          os.path.join(work, "operator.log"))
            rows.append(row)
            print(json.dumps(row), flush=True)
        for rate in rates:
            for source in sources:
                k = cell_key(source, rate)
                summaries[k] = summarize([r for r in rows
                                          if r["rate"] == rate and r["source"] == source])
                print("summary source=%s rate=%d: %s" % (source, rate, json.dumps(summaries[k])),
                      flush=True)
        if "7.0" in sources:
            ratios = ratios_to_base(summaries, sources, rates)
            print("ratios to the 7.0 source (p50): " + json.dumps(ratios))
        print_tables(summaries, sources, rates, ratios)
        print("load average at end: " + k8s_lib.load_average())
        print("wall time: %.0f s (%d runs)" % (time.time() - t0, len(rows)))
        # Server-side time of the two kinds of API write inside the window, over every run.
        for what, args_ in (("RedisUpgrade status PUT", ("redisupgrades", "PUT", "status")),
                            ("Service PATCH", ("services", "PATCH"))):
            buckets = k8s_lib.apiserver_latency(cluster, *args_)
            print("apiserver %s durations (upper bound s: requests): %s" % (
                what, ", ".join("%g: %d" % b for b in buckets)))
    finally:
        if op is not None:
            op.stop()
            if args.keep_logs or len(rows) < len(order) or any(
                    r["phase"] != "Completed" for r in rows):
                print("operator log kept: " + os.path.join(work, "operator.log"))
            else:
                shutil.rmtree(work, ignore_errors=True)
        cluster.down()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"order": order, "rows": rows, "summaries": summaries,
                       "ratios_to_7.0": ratios}, f, indent=1)
    return 0 if all(s["goal_met"] for s in summaries.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
