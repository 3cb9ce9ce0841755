#!/usr/bin/env python3
"""Watch event -> reconcile start latency of `redis-upgrade-operator run`.

The user-visible measure: a client writes to a RedisUpgrade (a merge patch of
one annotation, over a kept-alive HTTPS connection with the cluster admin's
client certificate) and we time from just before the write is sent until the
operator starts the reconcile that the write caused. The reconcile start comes
from the operator's debug log line `reconcile start key=<ns/name> unix_us=<µs>`
(src/runtime/controller.cc; same machine, same clock). Also reported: the
same figure from the moment the write returned, and the operator's own part,
from its informer's receipt of the watch event (the debug line `watch event
... unix_us=`, src/runtime/informer.cc) to the reconcile start.

The RedisUpgrade written to is one that ended Failed (its Service does not
exist): a terminal upgrade is reconciled only when it changes (no periodic
requeue, no status write of its own), so the first reconcile start after the
write is the one the write caused.

Cases:
  empty -- nothing else in the cluster;
  load  -- --upgrades RedisUpgrades sitting in WaitingForSwitch (see
           bench/operator_footprint.py), which the operator polls every
           second, so the event competes with their requeues for the workers.

    bench/reconcile_latency.sh [--samples 200] [--upgrades 100] [--cases empty,load]
                               [--build-dir build] [--keep-cluster]
"""

import argparse
import base64
import http.client
import json
import os
import random
import re
import shutil
import ssl
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import operator_footprint as fp  # noqa: E402

PROBE = "lat-probe"
START_RE = re.compile(r"reconcile start key=(\S+) unix_us=(\d+)")
EVENT_RE = re.compile(r"watch event resource=redisupgrades key=(\S+) unix_us=(\d+)")


class Api:
    """A kept-alive HTTPS connection to the apiserver as the kubeconfig's user."""

    def __init__(self, cluster):
        cfg = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json"))
        c = cfg["clusters"][0]["cluster"]
        u = cfg["users"][0]["user"]
        self.tmp = tempfile.mkdtemp(prefix="ruo-bench-lat-")

        def put(name, b64):
            path = os.path.join(self.tmp, name)
            with open(path, "wb") as f:
                f.write(base64.b64decode(b64))
            return path

        ctx = ssl.create_default_context(cafile=put("ca.crt",
                                                    c["certificate-authority-data"]))
        ctx.load_cert_chain(put("client.crt", u["client-certificate-data"]),
                            put("client.key", u["client-key-data"]))
        hostport = c["server"].split("://", 1)[1].rstrip("/")
        host, port = hostport.rsplit(":", 1)
        self.conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)

    def patch_annotation(self, ns, name, key, value):
        path = "/apis/redisupgrade.dev/v1alpha1/namespaces/%s/redisupgrades/%s" % (ns, name)
        body = json.dumps({"metadata": {"annotations": {key: value}}})
        self.conn.request("PATCH", path, body=body,
                          headers={"Content-Type": "application/merge-patch+json"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("PATCH %s: %d %s" % (path, r.status, data[:300]))


class LogTail:
    """Watch events and reconcile starts of one key, read incrementally from the
    operator's log, as ("event"|"start", unix seconds)."""

    def __init__(self, path, key):
        self.f = open(path, errors="replace")
        self.key = key
        self.partial = ""

    def read(self):
        out = []
        chunk = self.f.read()
        if not chunk:
            return out
        text = self.partial + chunk
        lines = text.split("\n")
        self.partial = lines.pop()
        for line in lines:
            for kind, rx in (("start", START_RE), ("event", EVENT_RE)):
                m = rx.search(line)
                if m and m.group(1) == self.key:
                    out.append((kind, int(m.group(2)) / 1e6))
        return out


def measure(op, api, samples, tag):
    key = "%s/%s" % (fp.NAMESPACE, PROBE)
    tail = LogTail(op.log_path, key)
    tail.read()  # skip what is already there
    rows = []
    load_start = fp.loadavg()
    for i in range(samples):
        time.sleep(random.uniform(0.05, 0.15))
        tail.read()  # drop whatever came before this write
        t_send = time.time()
        api.patch_annotation(fp.NAMESPACE, PROBE, "bench.redisupgrade.dev/seq",
                             "%s-%d-%d" % (tag, i, int(t_send * 1e6)))
        t_ack = time.time()
        deadline = t_ack + 10
        start = event = None
        while start is None:
            for kind, ts in tail.read():
                if ts < t_send - 0.0005:  # µs stamps on both sides: allow rounding
                    continue
                if kind == "event" and event is None:
                    event = ts
                elif kind == "start":
                    start = ts
                    break
            if start is None:
                if time.time() > deadline:
                    raise RuntimeError("no reconcile start of %s within 10 s of write %d" %
                                       (key, i))
                time.sleep(0.002)
        rows.append({"from_send_ms": (start - t_send) * 1000,
                     "from_ack_ms": (start - t_ack) * 1000,
                     # the operator's own part: watch event received -> reconcile start
                     "from_event_ms": (start - event) * 1000 if event else None,
                     "write_ms": (t_ack - t_send) * 1000})
    return rows, "%s -> %s" % (load_start, fp.loadavg())


def probe_yaml():
    return ("apiVersion: redisupgrade.dev/v1alpha1\nkind: RedisUpgrade\n"
            "metadata: {name: %s, namespace: %s}\nspec:\n  instance: {service: no-such-service}\n"
            "  targetVersion: \"7.0\"\n  switchover: {mode: Immediate}\n"
            % (PROBE, fp.NAMESPACE))


def wait_failed(cluster, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        obj = cluster.get_json("rup", "-n", fp.NAMESPACE, PROBE)
        if obj.get("status", {}).get("phase") == "Failed":
            return
        time.sleep(0.5)
    raise RuntimeError("%s did not end Failed" % PROBE)


def run_case(binary, cluster, api, workdir, tag, args):
    op = fp.Operator(binary, cluster, os.path.join(workdir, "operator-latency-%s.log" % tag),
                     log_level="debug")
    try:
        op.wait_log("caches synced")
        cluster.kubectl("apply", "-f", "-", stdin=probe_yaml())
        wait_failed(cluster)
        time.sleep(args.warmup)
        rows, load = measure(op, api, args.samples, tag)
        # While the operator runs: it removes its finalizer.
        cluster.kubectl("delete", "rup", "-n", fp.NAMESPACE, PROBE, "--timeout=60s")
    finally:
        op.stop()
    send = [r["from_send_ms"] for r in rows]
    ack = [r["from_ack_ms"] for r in rows]
    inner = [r["from_event_ms"] for r in rows if r["from_event_ms"] is not None]
    return {
        "case": tag, "samples": len(rows), "load": load,
        "p50_ms": benchlib.percentile(send, 50), "p99_ms": benchlib.percentile(send, 99),
        "max_ms": max(send),
        "ack_p50_ms": benchlib.percentile(ack, 50), "ack_p99_ms": benchlib.percentile(ack, 99),
        "event_p50_ms": benchlib.percentile(inner, 50),
        "event_p99_ms": benchlib.percentile(inner, 99),
        "write_p50_ms": statistics.median(r["write_ms"] for r in rows),
        "write_p99_ms": benchlib.percentile([r["write_ms"] for r in rows], 99),
        "rows": rows,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--upgrades", type=int, default=100)
    ap.add_argument("--warmup", type=float, default=10,
                    help="seconds after the operator settled before the first write")
    ap.add_argument("--cases", default="empty,load")
    ap.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", "build"))
    ap.add_argument("--cluster-dir",
                    default=os.environ.get("RUO_CLUSTER_DIR", "/tmp/ruo-bench-cluster"))
    ap.add_argument("--keep-cluster", action="store_true")
    ap.add_argument("--json", help="also write every sample to this file")
    args = ap.parse_args()

    binary = os.path.join(args.build_dir, "src/cmd/redis-upgrade-operator")
    if not os.access(binary, os.X_OK):
        raise SystemExit("missing %s: build the project first (hack/build.sh)" % binary)
    workdir = args.cluster_dir + "-bench-logs"
    os.makedirs(workdir, exist_ok=True)
    cases = args.cases.split(",")

    cluster = fp.Cluster(args.cluster_dir)
    results = []
    api = None
    try:
        cluster.prepare()
        api = Api(cluster)
        if "empty" in cases:
            if any(i["metadata"]["name"] != PROBE
                   for i in cluster.get_json("rup", "-A")["items"]):
                raise SystemExit("case empty needs a cluster without other RedisUpgrades")
            results.append(run_case(binary, cluster, api, workdir, "empty", args))
        if "load" in cases:
            fp.deploy_upgrades(cluster, binary, args.upgrades, workdir)
            r = run_case(binary, cluster, api, workdir, "load", args)
            fp.check_waiting(cluster, args.upgrades)
            results.append(r)
    finally:
        if api:
            shutil.rmtree(api.tmp, ignore_errors=True)  # the admin's client key
        if not args.keep_cluster:
            cluster.down()

    print("machine: %s" % benchlib.machine_description())
    print("latency of the reconcile start from: the write sent (the figure), the write's")
    print("response received (ack), the operator's receipt of the watch event (event);")
    print("write: how long the PATCH took. All in ms.")
    print("%-6s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s  %s" % (
        "case", "samples", "p50", "p99", "max", "ack p50", "ack p99", "ev p50", "ev p99",
        "wr p50", "wr p99", "load avg (start -> end)"))
    for r in results:
        print("%-6s %7d %7.1f %7.1f %7.1f %7.1f %7.1f %7.2f %7.2f %7.1f %7.1f  %s" % (
            r["case"], r["samples"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["ack_p50_ms"],
            r["ack_p99_ms"], r["event_p50_ms"], r["event_p99_ms"], r["write_p50_ms"],
            r["write_p99_ms"], r["load"]))
    for r in results:
        print("%s: event -> reconcile start p99 %.1f ms; goal p99 <= 100 ms: %s" % (
            r["case"], r["p99_ms"], "met" if r["p99_ms"] <= 100 else "MISSED"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
