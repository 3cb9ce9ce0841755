#!/usr/bin/env python3
"""Full-sync cost: `migrate` against a plain SLAVEOF full sync of the same data.

Loads ~1 GB into a source (DEBUG POPULATE). Each round times a plain `SLAVEOF`
full sync into a fresh replica (until the link is up and loading is done; the
replica is then dropped) and `redis-upgrade-operator migrate` (sync + switch)
into another fresh server, which then holds the data for the next round; the
order alternates between rounds. Goal: median migrate <= 1.2 x median plain + 10 s.

    bench/full_sync.sh [--rounds 3] [--keys 5500000] [--value-size 100] [--build-dir build]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def plain_sync(redis_server, source):
    replica = benchlib.RedisProc(redis_server)
    try:
        c = replica.client()
        t0 = time.time()
        host, port = source.addr.split(":")
        c.cmd("SLAVEOF", host, port)
        while True:
            i = c.info("replication")
            p = c.info("persistence")
            if (i.get("master_link_status") == "up" and i.get("master_sync_in_progress") == "0"
                    and p.get("loading") == "0"):
                break
            time.sleep(0.05)
        elapsed = time.time() - t0
        keys = c.cmd("DBSIZE")
        c.close()
        return elapsed, keys
    finally:
        replica.stop()


def migrate(bins, redis_server, source, log_path):
    """Runs migrate from `source` into a fresh server; returns (seconds, report, target)."""
    target = benchlib.RedisProc(redis_server)
    env = dict(os.environ)
    env.pop("REDISCLI_AUTH", None)
    t0 = time.time()
    with open(log_path, "a") as log:
        mig = subprocess.run(
            [bins.operator, "migrate", "--source", source.addr, "--target", target.addr,
             "--allow-same-version"],
            stdout=subprocess.PIPE, stderr=log, text=True, env=env, timeout=3600)
    elapsed = time.time() - t0
    return elapsed, benchlib.parse_report(mig.stdout), target


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=5500000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3,
                    help="plain/migrate pairs; the data moves on to each migrate's target")
    ap.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", "build"))
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--migrate-log", default="/dev/null", help="append migrate's stderr here")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    bins = benchlib.Binaries(args.build_dir)
    print("machine: " + benchlib.machine_description(), flush=True)

    master = None
    rounds = []
    try:
        master = benchlib.RedisProc(args.redis_server)
        c = master.client()
        t0 = time.time()
        c.cmd("DEBUG", "POPULATE", args.keys, "key", args.value_size)
        mem = int(c.info("memory")["used_memory"])
        c.close()
        print("source: %d keys, used_memory %.2f GiB (populated in %.1f s)" %
              (args.keys, mem / 2**30, time.time() - t0), flush=True)

        for r in range(args.rounds):
            # Alternate the order so neither side always runs first.
            plain_first = r % 2 == 0
            if plain_first:
                plain_s, plain_keys = plain_sync(args.redis_server, master)
            mig_s, report, target = migrate(bins, args.redis_server, master, args.migrate_log)
            master.stop()
            master = target  # the new master holds the data: the next round starts from it
            if not plain_first:
                plain_s, plain_keys = plain_sync(args.redis_server, master)
            tc = master.client()
            target_keys = tc.cmd("DBSIZE")
            tc.close()
            row = {"round": r + 1, "order": "plain,migrate" if plain_first else "migrate,plain",
                   "plain_sync_s": round(plain_s, 2), "migrate_s": round(mig_s, 2),
                   "migrate_full_sync_ms": report.get("full_sync_ms"),
                   "migrate_result": report.get("result"),
                   "write_blocked_ms": report.get("write_blocked_ms"),
                   "keys_plain": plain_keys, "keys_migrated": target_keys,
                   "ratio": round(mig_s / plain_s, 3)}
            rounds.append(row)
            print(json.dumps(row), flush=True)

        plain_med = statistics.median(r["plain_sync_s"] for r in rounds)
        mig_med = statistics.median(r["migrate_s"] for r in rounds)
        limit = 1.2 * plain_med + 10
        figures = {
            "keys": args.keys,
            "value_size": args.value_size,
            "used_memory_bytes": mem,
            "rounds": len(rounds),
            "plain_sync_s_median": round(plain_med, 2),
            "migrate_s_median": round(mig_med, 2),
            "ratio_of_medians": round(mig_med / plain_med, 3),
            "goal_limit_s": round(limit, 2),
            "goal_met": all(r["migrate_result"] == "completed" and
                            r["keys_migrated"] == args.keys for r in rounds) and mig_med <= limit,
        }
        print("summary: " + json.dumps(figures))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"rounds": rounds, "summary": figures}, f, indent=1)
        return 0 if figures["goal_met"] else 1
    finally:
        if master is not None:
            master.stop()


if __name__ == "__main__":
    sys.exit(main())
