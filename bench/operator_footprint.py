#!/usr/bin/env python3
"""Operator footprint: RSS and CPU of `redis-upgrade-operator run`, idle and
with N concurrent RedisUpgrades, on the local cluster of hack/cluster.

Brings the cluster up (RUO_CLUSTER_DIR, default /tmp/ruo-bench-cluster),
installs the CRD, then:
  idle  -- per run: a fresh operator (all namespaces, metrics and health
           endpoints on), sampled once a second for --duration seconds from
           the moment its caches synced, no RedisUpgrade in the cluster;
  load  -- --upgrades instances (StatefulSet of one redis:7.0 pod + a Service
           each) and one RedisUpgrade per instance in MaintenanceWindow mode
           whose window is 12 h away: each syncs and then sits in
           WaitingForSwitch with the operator polling replication and keeping
           the lag in status current -- a sustained concurrent state. Per run:
           a fresh operator, --warmup seconds after the caches synced, then
           sampled for --duration seconds.
Per run: RSS (VmRSS) median of the samples, peak (VmHWM), CPU % of one core
((utime+stime) over the sampled wall time), threads; the figure is the median
over --runs runs. Load averages are recorded beside each run.

    bench/operator_footprint.sh [--runs 5] [--duration 60] [--upgrades 100]
                                [--build-dir build] [--keep-cluster]

The other operator bench (bench/reconcile_latency.py) imports the cluster
helpers from here.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMESPACE = "ruo-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Cluster:
    """hack/cluster/up.sh on RUO_CLUSTER_DIR; kubectl with its kubeconfig."""

    def __init__(self, cluster_dir):
        self.dir = cluster_dir
        env = dict(os.environ, RUO_CLUSTER_DIR=cluster_dir)
        log("bringing the cluster up in %s" % cluster_dir)
        out = subprocess.run([os.path.join(REPO, "hack/cluster/up.sh")], env=env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        self.kubeconfig = out.strip().splitlines()[-1]
        dump = subprocess.run(["bash", "-c", '. "$0/env" && env -0', cluster_dir], check=True,
                              stdout=subprocess.PIPE, text=True).stdout
        self.env = dict(kv.split("=", 1) for kv in dump.split("\0") if "=" in kv)
        self.env["KUBECONFIG"] = self.kubeconfig

    def kubectl(self, *args, stdin=None, check=True):
        r = subprocess.run(["kubectl"] + list(args), input=stdin, env=self.env,
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("kubectl %s: %s" % (" ".join(args), r.stderr.strip()))
        return r.stdout

    def get_json(self, *args):
        return json.loads(self.kubectl("get", "-o", "json", *args))

    def down(self):
        log("taking the cluster down")
        subprocess.run([os.path.join(REPO, "hack/cluster/down.sh")],
                       env=dict(os.environ, RUO_CLUSTER_DIR=self.dir), check=False,
                       stdout=subprocess.DEVNULL)

    def prepare(self):
        self.kubectl("apply", "-f", os.path.join(REPO, "crds/redisupgrade.dev_redisupgrades.yaml"))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     "crd/redisupgrades.redisupgrade.dev")
        self.kubectl("apply", "-f", "-", stdin="apiVersion: v1\nkind: Namespace\nmetadata: "
                     "{name: %s}\n" % NAMESPACE)


class Operator:
    """`redis-upgrade-operator run` over every namespace, logging to a file."""

    def __init__(self, binary, cluster, log_path, log_level="info", extra=()):
        self.log_path = log_path
        self.metrics_port = benchlib.free_port()
        health_port = benchlib.free_port()
        self.logf = open(log_path, "w")
        args = [binary, "run", "--kubeconfig", cluster.kubeconfig,
                "--metrics-bind-address", "127.0.0.1:%d" % self.metrics_port,
                "--health-probe-bind-address", "127.0.0.1:%d" % health_port,
                "--log-level", log_level] + list(extra)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.logf,
                                     start_new_session=True)
        self.pid = self.proc.pid

    def wait_log(self, text, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("operator exited (%s); see %s" % (self.proc.returncode,
                                                                    self.log_path))
            with open(self.log_path, errors="replace") as f:
                if text in f.read():
                    return
            time.sleep(0.1)
        raise RuntimeError("operator log never said %r; see %s" % (text, self.log_path))

    def metrics(self):
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                    timeout=10) as r:
            return r.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.logf.close()


def proc_sample(pid):
    """VmRSS/VmHWM in KiB, threads, and utime+stime in clock ticks."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    pss_kib = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                pss_kib = int(line.split()[1])
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    rest = stat[stat.rindex(")") + 2:].split()
    # fields 14 and 15 of stat (1-based), counted after "pid (comm)"
    ticks = int(rest[11]) + int(rest[12])
    return {"t": time.time(), "rss_kib": int(fields["VmRSS"].split()[0]),
            "hwm_kib": int(fields["VmHWM"].split()[0]), "threads": int(fields["Threads"]),
            "anon_kib": int(fields["RssAnon"].split()[0]),
            "file_kib": int(fields["RssFile"].split()[0]),
            "pss_kib": pss_kib,
            "ticks": ticks}


def sample(op, duration, interval=1.0):
    """Samples op every `interval` for `duration` seconds; returns a run row."""
    samples = [proc_sample(op.pid)]
    load_start = loadavg()
    end = samples[0]["t"] + duration
    while time.time() < end:
        time.sleep(min(interval, max(0.0, end - time.time())))
        if op.proc.poll() is not None:
            raise RuntimeError("operator exited while sampled; see %s" % op.log_path)
        samples.append(proc_sample(op.pid))
    first, last = samples[0], samples[-1]
    wall = last["t"] - first["t"]
    return {
        "samples": len(samples),
        "rss_mib": statistics.median(s["rss_kib"] for s in samples) / 1024,
        "rss_max_mib": max(s["rss_kib"] for s in samples) / 1024,
        "rss_end_mib": last["rss_kib"] / 1024,
        "hwm_mib": last["hwm_kib"] / 1024,
        # RssAnon is the heap and stacks; RssFile the mapped binary and libraries.
        "anon_mib": statistics.median(s["anon_kib"] for s in samples) / 1024,
        "file_mib": statistics.median(s["file_kib"] for s in samples) / 1024,
        # Proportional: shared pages divided among the processes mapping them.
        "pss_mib": statistics.median(s["pss_kib"] for s in samples) / 1024,
        "cpu_pct": 100.0 * (last["ticks"] - first["ticks"]) / CLK_TCK / wall,
        "threads": last["threads"],
        "load": "%s -> %s" % (load_start, loadavg()),
    }


def instances_yaml(n):
    docs = []
    for i in range(n):
        name = "r%03d" % i
        docs.append(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: %(n)s, namespace: %(ns)s}\n"
            "spec:\n  replicas: 1\n  serviceName: %(n)s\n  selector: {matchLabels: {app: %(n)s}}\n"
            "  template:\n    metadata: {labels: {app: %(n)s}}\n    spec:\n      containers:\n"
            "      - name: redis\n        image: redis:7.0\n"
            "        args: [\"--port\", \"6379\", \"--save\", \"\", \"--appendonly\", \"no\"]\n"
            "        ports: [{name: redis, containerPort: 6379}]\n"
            "        resources: {limits: {memory: 64Mi}}\n---\n"
            "apiVersion: v1\nkind: Service\nmetadata: {name: %(n)s, namespace: %(ns)s}\n"
            "spec:\n  selector: {app: %(n)s}\n  ports: [{name: redis, port: 6379, targetPort: redis}]\n"
            % {"n": name, "ns": NAMESPACE})
    return "---\n".join(docs)


def upgrades_yaml(n):
    # A window that starts 12 h from now: never reached during the bench.
    start = time.strftime("%H:%M", time.gmtime(time.time() + 12 * 3600))
    docs = []
    for i in range(n):
        name = "r%03d" % i
        docs.append(
            "apiVersion: redisupgrade.dev/v1alpha1\nkind: RedisUpgrade\n"
            "metadata: {name: %(n)s-up, namespace: %(ns)s}\nspec:\n  instance: {service: %(n)s}\n"
            "  targetVersion: \"7.0\"\n  allowSameVersion: true\n  replicas: 0\n"
            "  switchover:\n    mode: MaintenanceWindow\n"
            "    maintenanceWindow: {start: \"%(s)s\", duration: 1h, timeZone: UTC}\n"
            % {"n": name, "ns": NAMESPACE, "s": start})
    return "---\n".join(docs)


def phases(cluster):
    items = cluster.get_json("rup", "-n", NAMESPACE)["items"]
    out = {}
    for it in items:
        p = it.get("status", {}).get("phase", "")
        out[p] = out.get(p, 0) + 1
    return out


def deploy_upgrades(cluster, binary, n, workdir):
    """n instances with one RedisUpgrade each, all in WaitingForSwitch."""
    if n <= 0:
        return
    have = phases(cluster)
    if have.get("WaitingForSwitch", 0) >= n:
        log("%d upgrades already waiting for their window" % have["WaitingForSwitch"])
        return
    log("deploying %d redis instances" % n)
    cluster.kubectl("apply", "-f", "-", stdin=instances_yaml(n))
    deadline = time.time() + 600
    while True:
        pods = cluster.get_json("pods", "-n", NAMESPACE, "-l", "!redisupgrade.dev/upgrade")
        ready = 0
        for p in pods["items"]:
            for c in p.get("status", {}).get("conditions", []):
                if c.get("type") == "Ready" and c.get("status") == "True":
                    ready += 1
        if ready >= n:
            break
        if time.time() > deadline:
            raise RuntimeError("only %d of %d instances ready" % (ready, n))
        time.sleep(2)
    log("%d instances ready; applying %d RedisUpgrades" % (n, n))
    cluster.kubectl("apply", "-f", "-", stdin=upgrades_yaml(n))
    op = Operator(binary, cluster, os.path.join(workdir, "operator-setup.log"))
    try:
        deadline = time.time() + 900
        while True:
            have = phases(cluster)
            if have.get("WaitingForSwitch", 0) >= n:
                break
            if have.get("Failed"):
                raise RuntimeError("upgrades failed: %s" % have)
            if time.time() > deadline:
                raise RuntimeError("upgrades not all waiting: %s" % have)
            log("phases: %s" % have)
            time.sleep(5)
    finally:
        op.stop()
    log("%d upgrades in WaitingForSwitch" % n)


def check_waiting(cluster, n):
    have = phases(cluster)
    if have.get("WaitingForSwitch", 0) < n:
        raise RuntimeError("not every upgrade is waiting any more: %s" % have)


def run_once(binary, cluster, workdir, tag, i, args):
    op = Operator(binary, cluster, os.path.join(workdir, "operator-%s-%d.log" % (tag, i)))
    try:
        op.wait_log("caches synced")
        if tag == "load":
            time.sleep(args.warmup)
        row = sample(op, args.duration)
    finally:
        op.stop()
    row.update({"case": tag, "run": i})
    return row


def summarize(rows, tag, goal_mib):
    rs = [r for r in rows if r["case"] == tag]
    if not rs:
        return None
    s = {
        "case": tag,
        "runs": len(rs),
        "rss_mib": statistics.median(r["rss_mib"] for r in rs),
        "rss_max_mib": max(r["rss_max_mib"] for r in rs),
        "hwm_mib": statistics.median(r["hwm_mib"] for r in rs),
        "hwm_max_mib": max(r["hwm_mib"] for r in rs),
        "cpu_pct": statistics.median(r["cpu_pct"] for r in rs),
        "threads": statistics.median(r["threads"] for r in rs),
        "anon_mib": statistics.median(r.get("anon_mib", 0) for r in rs),
        "file_mib": statistics.median(r.get("file_mib", 0) for r in rs),
        "pss_mib": statistics.median(r.get("pss_mib", 0) for r in rs),
        "goal_rss_mib": goal_mib,
    }
    s["goal_met"] = s["rss_mib"] <= goal_mib  # the steady figure; the peak is shown beside it
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=float, default=60, help="seconds sampled per run")
    ap.add_argument("--warmup", type=float, default=10,
                    help="seconds after the caches synced before sampling, under load")
    ap.add_argument("--upgrades", type=int, default=100)
    ap.add_argument("--cases", default="idle,load")
    ap.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", "build"))
    ap.add_argument("--cluster-dir",
                    default=os.environ.get("RUO_CLUSTER_DIR", "/tmp/ruo-bench-cluster"))
    ap.add_argument("--keep-cluster", action="store_true",
                    help="leave the cluster (and the upgrades) up for another bench")
    ap.add_argument("--json", help="also write the rows and summary to this file")
    args = ap.parse_args()

    binary = os.path.join(args.build_dir, "src/cmd/redis-upgrade-operator")
    if not os.access(binary, os.X_OK):
        raise SystemExit("missing %s: build the project first (hack/build.sh)" % binary)
    workdir = os.path.join(args.cluster_dir + "-bench-logs")
    os.makedirs(workdir, exist_ok=True)
    cases = args.cases.split(",")

    cluster = Cluster(args.cluster_dir)
    rows = []
    try:
        cluster.prepare()
        if "idle" in cases:
            if cluster.get_json("rup", "-A")["items"]:
                raise SystemExit("idle case needs a cluster without RedisUpgrades")
            for i in range(1, args.runs + 1):
                row = run_once(binary, cluster, workdir, "idle", i, args)
                log("idle run %d: %s" % (i, json.dumps(row)))
                rows.append(row)
        if "load" in cases:
            deploy_upgrades(cluster, binary, args.upgrades, workdir)
            for i in range(1, args.runs + 1):
                row = run_once(binary, cluster, workdir, "load", i, args)
                check_waiting(cluster, args.upgrades)
                log("load run %d: %s" % (i, json.dumps(row)))
                rows.append(row)
    finally:
        if not args.keep_cluster:
            cluster.down()

    summary = [s for s in (summarize(rows, "idle", 16), summarize(rows, "load", 48)) if s]
    print("machine: %s" % benchlib.machine_description())
    print("%-5s %4s %9s %9s %9s %7s %7s  %s" % ("case", "run", "RSS MiB", "max MiB", "HWM MiB",
                                             "CPU %", "threads", "load avg (start -> end)"))
    for r in rows:
        print("%-5s %4d %9.1f %9.1f %9.1f %7.2f %7d  %s" % (r["case"], r["run"], r["rss_mib"],
                                                        r["rss_max_mib"], r["hwm_mib"],
                                                        r["cpu_pct"], r["threads"], r["load"]))
    for s in summary:
        print("%s (median of %d runs): RSS %.1f MiB (anon %.1f, file %.1f; PSS %.1f), peak (VmHWM) "
              "%.1f MiB (max %.1f), CPU %.2f %% of one core, %d threads; goal RSS <= %d MiB: %s"
              % (s["case"], s["runs"], s["rss_mib"], s["anon_mib"], s["file_mib"], s["pss_mib"],
                 s["hwm_mib"], s["hwm_max_mib"], s["cpu_pct"], s["threads"], s["goal_rss_mib"],
                 "met" if s["goal_met"] else "MISSED"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
