#!/usr/bin/env python3
"""Switch latency: N migrations under a paced writer going through a VIP.

Each run starts a fresh source/target pair (redis-server on loopback), preloads
the source, puts tests/tools/tcp_forwarder in front of it as the VIP, starts
`redis-upgrade-operator probe` through the VIP (verifying against the target),
runs `migrate` whose --switch-hook moves the VIP, and collects the migration's
write_blocked_ms and the probe's max_gap_ms. Prints every run and p50/p99.

    bench/switch_latency.sh [--runs 20] [--rate 10000] [--keys 10000] [--build-dir build]
    bench/switch_latency.sh --runs 5 --rates 1000,5000,10000   # a sweep, rates interleaved
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def one_run(bins, args, rate, i):
    work = tempfile.mkdtemp(prefix="ruo-bench-switch-")
    source = target = fwd = probe = None
    try:
        source = benchlib.RedisProc(args.redis_server)
        target = benchlib.RedisProc(args.redis_server)
        if args.keys:
            c = source.client()
            c.cmd("DEBUG", "POPULATE", args.keys)
            c.close()
        fwd = benchlib.Forwarder(bins.forwarder, source.addr, work)
        env = dict(os.environ)
        env.pop("REDISCLI_AUTH", None)
        probe = subprocess.Popen(
            [bins.operator, "probe", "--addr", fwd.addr, "--rate", str(rate),
             "--duration", "600", "--verify", target.addr, "--key-prefix", "bench",
             "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            start_new_session=True)
        time.sleep(args.warmup)
        t0 = time.time()
        mig = subprocess.run(
            [bins.operator, "migrate", "--source", source.addr, "--target", target.addr,
             "--allow-same-version", "--switch-hook", fwd.hook(), "--log-level", "warn"],
            capture_output=True, text=True, env=env, timeout=600)
        wall = time.time() - t0
        time.sleep(args.cooldown)
        probe.send_signal(signal.SIGTERM)
        pout, _ = probe.communicate(timeout=120)
        m = benchlib.parse_report(mig.stdout)
        p = benchlib.parse_report(pout)
        row = {
            "rate": rate,
            "run": i,
            "result": m.get("result"),
            "exit": mig.returncode,
            "write_blocked_ms": m.get("write_blocked_ms"),
            "attempts": m.get("attempts"),
            "migrate_s": round(wall, 3),
            "probe_max_gap_ms": round(p.get("max_gap_ms", -1), 3),
            "probe_acked": p.get("acked"),
            "probe_rate": round(p.get("rate_achieved", 0)),
            "probe_errors": p.get("errors_by_kind"),
            "lost": p.get("lost"),
            "error": m.get("error", ""),
            "load_avg": load_average(),
        }
        return row
    finally:
        if probe is not None and probe.poll() is None:
            os.killpg(probe.pid, signal.SIGKILL)
            probe.wait()
        for x in (fwd, source, target):
            if x is not None:
                x.stop()
        shutil.rmtree(work, ignore_errors=True)


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def summarize(rows):
    ok = [r for r in rows if r["result"] == "completed" and r["lost"] == 0]
    blocked = [r["write_blocked_ms"] for r in ok]
    gaps = [r["probe_max_gap_ms"] for r in ok]
    rates = [r["probe_rate"] for r in ok]
    summary = {
        "runs": len(rows),
        "completed_without_loss": len(ok),
        "lost_total": sum((r["lost"] or 0) for r in rows),
        "write_blocked_ms_p50": benchlib.percentile(blocked, 50),
        "write_blocked_ms_p99": benchlib.percentile(blocked, 99),
        "write_blocked_ms_max": max(blocked) if blocked else None,
        "probe_max_gap_ms_p50": benchlib.percentile(gaps, 50),
        "probe_max_gap_ms_p99": benchlib.percentile(gaps, 99),
        "probe_rate_achieved_p50": benchlib.percentile(rates, 50),
        "goal_p99_write_blocked_ms": 100,
        "load_avgs": [r["load_avg"] for r in rows],
    }
    summary["goal_met"] = (len(ok) == len(rows) and
                           summary["write_blocked_ms_p99"] <= summary["goal_p99_write_blocked_ms"])
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="runs (per rate with --rates)")
    ap.add_argument("--rate", type=int, default=10000, help="probe writes per second")
    ap.add_argument("--rates", help="a sweep: comma-separated rates, interleaved run by run")
    ap.add_argument("--keys", type=int, default=10000, help="DEBUG POPULATE on the source")
    ap.add_argument("--warmup", type=float, default=1.0, help="probe seconds before migrate")
    ap.add_argument("--cooldown", type=float, default=0.5, help="probe seconds after migrate")
    ap.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", "build"))
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--json", help="write all rows and the summary here")
    args = ap.parse_args()
    bins = benchlib.Binaries(args.build_dir)
    rates = [int(r) for r in args.rates.split(",")] if args.rates else [args.rate]

    print("machine: " + benchlib.machine_description())
    rows = []
    for i in range(1, args.runs + 1):
        for rate in rates:
            row = one_run(bins, args, rate, i)
            rows.append(row)
            print(json.dumps(row), flush=True)

    summaries = {}
    for rate in rates:
        summaries[rate] = summarize([r for r in rows if r["rate"] == rate])
        if len(rates) == 1:
            print("summary: " + json.dumps(summaries[rate]))
        else:
            print("summary rate=%d: %s" % (rate, json.dumps(summaries[rate])))
    if args.json:
        out = {"rows": rows}
        if len(rates) == 1:
            out["summary"] = summaries[rates[0]]
        else:
            out["summaries"] = summaries
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0 if all(s["goal_met"] for s in summaries.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
