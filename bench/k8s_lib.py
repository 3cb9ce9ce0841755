"""Shared helpers of the Kubernetes benchmark drivers (bench/k8s_*.py): the local
cluster of hack/cluster, the operator run as a process with the admin kubeconfig
(as the e2e tests run it), Redis instances (StatefulSet + Service, the VIP),
RedisUpgrades, and a watch that stamps every status change with the local time.
Standard library only."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class HostResp(benchlib.Resp):
    """benchlib.Resp to any host (pods and VIPs are 127.1.x.y / 127.2.x.y)."""

    def __init__(self, host, port=6379, timeout=600.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Cluster:
    """hack/cluster/up.sh in its own state dir; down.sh at the end unless keep.
    base_image_map: the node agent's base image map (LOCAL_CLUSTER_BASE_IMAGE_MAP, e.g. the
    image-map of hack/setup-servers.sh), set explicitly rather than left to up.sh."""

    def __init__(self, cluster_dir, keep=False, base_image_map=None):
        self.dir = cluster_dir
        self.keep = keep
        self.env = dict(os.environ, RUO_CLUSTER_DIR=cluster_dir)
        self.env.pop("LOCAL_CLUSTER_IMAGE_MAP", None)  # no user map over the base map
        if base_image_map:
            self.env["LOCAL_CLUSTER_BASE_IMAGE_MAP"] = base_image_map
        paths = subprocess.run([os.path.join(ROOT, "hack/cluster/build.sh"), "--print-paths"],
                               capture_output=True, text=True, check=True, env=self.env).stdout
        bin_dir = dict(l.split("=", 1) for l in paths.split() if "=" in l)["RUO_BIN_DIR"]
        self.kubectl_bin = os.path.join(bin_dir, "kubectl")
        up = subprocess.run([os.path.join(ROOT, "hack/cluster/up.sh")], capture_output=True,
                            text=True, env=self.env)
        if up.returncode != 0:
            raise SystemExit("cluster did not come up:\n" + up.stderr[-3000:])
        self.kubeconfig = up.stdout.strip().splitlines()[-1]
        self.kubectl("apply", "--server-side", "-f",
                     os.path.join(ROOT, "crds/redisupgrade.dev_redisupgrades.yaml"))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     "crd/redisupgrades.redisupgrade.dev")

    def kubectl(self, *args, stdin=None, check=True, timeout=300):
        r = subprocess.run([self.kubectl_bin, "--kubeconfig", self.kubeconfig] + list(args),
                           input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("kubectl %s: %s" % (" ".join(args), r.stderr.strip()[-2000:]))
        return r.stdout

    def vip(self, ns, svc, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open(os.path.join(self.dir, "vips")) as f:
                    for line in f:
                        k, _, v = line.strip().partition(" ")
                        if k == "%s/%s" % (ns, svc):
                            return v.strip()
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("no VIP for Service %s/%s" % (ns, svc))

    def down(self):
        if self.keep:
            print("cluster left up: RUO_CLUSTER_DIR=%s hack/cluster/down.sh" % self.dir)
            return
        subprocess.run([os.path.join(ROOT, "hack/cluster/down.sh")], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Operator:
    """`redis-upgrade-operator run --kubeconfig` as a local process, all namespaces."""

    def __init__(self, binary, kubeconfig, log_path):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "run", "--kubeconfig", kubeconfig, "--metrics-bind-address", "0",
             "--health-probe-bind-address", "0", "--log-level", "info"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def version_line(version):
    """(major, minor) of "2.8" or "2.8.19": (2, 8)."""
    parts = str(version).split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def server_args(version="7.0"):
    """The instance's redis-server args. `--enable-debug-command yes` (7.0+ refuse DEBUG
    without it) only where the option exists: older servers refuse to start on it."""
    args = ["--port", "6379", "--save", "", "--appendonly", "no"]
    if version_line(version) >= (7, 0):
        args += ["--enable-debug-command", "yes"]
    return args


def instance_yaml(ns, name, memory="1Gi", version="7.0"):
    """hack/lib/sample-instance.sh's instance, image redis:<version>, with DEBUG enabled
    (DEBUG POPULATE loads it; before 7.0 DEBUG is always on)."""
    return """apiVersion: v1
kind: Namespace
metadata: {name: %(ns)s}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: %(name)s, namespace: %(ns)s}
spec:
  replicas: 1
  serviceName: %(name)s
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      containers:
      - name: redis
        image: redis:%(version)s
        args: %(args)s
        ports: [{name: redis, containerPort: 6379}]
        resources: {limits: {memory: %(memory)s}}
---
apiVersion: v1
kind: Service
metadata: {name: %(name)s, namespace: %(ns)s}
spec:
  selector: {statefulset.kubernetes.io/pod-name: %(name)s-0}
  ports: [{name: redis, port: 6379, targetPort: redis}]
""" % {"ns": ns, "name": name, "memory": memory, "version": version,
       "args": json.dumps(server_args(version))}


def upgrade_yaml(ns, name, service, target="7.0", allow_same_version=True):
    return """apiVersion: redisupgrade.dev/v1alpha1
kind: RedisUpgrade
metadata: {name: %s, namespace: %s}
spec:
  instance: {service: %s}
  targetVersion: "%s"
%s  switchover: {mode: Immediate, maxLagBytes: 10485760, maxReadOnlySeconds: 60}
""" % (name, ns, service, target, "  allowSameVersion: true\n" if allow_same_version else "")


def create_instance(cluster, ns, name, memory="1Gi", version="7.0"):
    """Creates the namespace, StatefulSet (image redis:<version>) and Service; returns
    (pod IP, VIP)."""
    cluster.kubectl("apply", "-f", "-", stdin=instance_yaml(ns, name, memory, version))
    # `kubectl wait` on a pod the StatefulSet controller has not created yet fails at once.
    deadline = time.time() + 120
    while not cluster.kubectl("-n", ns, "get", "pod", "%s-0" % name, "--ignore-not-found",
                              "-o", "name"):
        if time.time() > deadline:
            raise RuntimeError("pod %s/%s-0 was never created" % (ns, name))
        time.sleep(0.2)
    try:
        cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/%s-0" % name,
                        "--timeout=120s")
    except RuntimeError as e:
        # Say why (an image missing from the node agent's map: ErrImagePull, say).
        why = cluster.kubectl("-n", ns, "get", "pod/%s-0" % name, "-o",
                              "jsonpath={.status.containerStatuses[0].state}", check=False)
        raise RuntimeError("%s; container state: %s" % (e, why.strip() or "?"))
    ip = cluster.kubectl("-n", ns, "get", "pod/%s-0" % name, "-o", "jsonpath={.status.podIP}")
    vip = cluster.vip(ns, name)
    # The VIP follows the EndpointSlice: wait until it reaches the pod.
    deadline = time.time() + 30
    while True:
        try:
            c = HostResp(vip, timeout=2)
            bind = c.cmd("CONFIG", "GET", "bind")
            c.close()
            if ip in bind[1].split():
                break
        except (OSError, RuntimeError, IndexError):
            pass
        if time.time() > deadline:
            raise RuntimeError("VIP %s never reached pod %s" % (vip, ip))
        time.sleep(0.1)
    return ip, vip


def servers_dir():
    """Where hack/setup-servers.sh installs the real servers and their image-map file."""
    if os.environ.get("RUO_SERVERS_DIR"):
        return os.environ["RUO_SERVERS_DIR"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(cache, "redis-upgrade-operator", "servers")


def image_map_lookup(path, image):
    """The executable `image` maps to in an IMAGE=PATH map file (longest prefix wins, as in
    the node agent), or None."""
    best = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            prefix, _, exe = line.partition("=")
            prefix, exe = prefix.strip(), exe.strip()
            if image.startswith(prefix) and (best is None or len(prefix) >= len(best[0])):
                best = (prefix, exe)
    return best[1] if best else None


def server_version(host, port=6379):
    """redis_version of the server at host:port (INFO server)."""
    c = HostResp(host, port, timeout=10)
    try:
        return c.info("server").get("redis_version", "")
    finally:
        c.close()


def vip_backend(vip):
    """The bind address of the server a new connection through the VIP reaches."""
    c = HostResp(vip, timeout=5)
    try:
        return c.cmd("CONFIG", "GET", "bind")[1]
    finally:
        c.close()


def delete_namespace(cluster, ns):
    # RedisUpgrades first, while the operator runs, so their finalizer is removed.
    cluster.kubectl("-n", ns, "delete", "rup", "--all", "--timeout=120s", check=False)
    cluster.kubectl("delete", "namespace", ns, "--timeout=180s", check=False, timeout=240)


class RupWatch:
    """`kubectl get rup -w` on one namespace; every line stamped with time.time()."""

    FIELDS = ("{.metadata.name}|{.status.phase}|{.status.switch.step}|{.status.reason}|"
              "{.status.sync.masterLinkStatus}|{.status.sync.fullSyncDone}")

    def __init__(self, cluster, ns):
        self.events = []  # (t, name, phase, step, reason, link, full_sync_done)
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            [cluster.kubectl_bin, "--kubeconfig", cluster.kubeconfig, "-n", ns, "get", "rup",
             "-w", "--request-timeout=0", "-o", "jsonpath=" + self.FIELDS + "{\"\\n\"}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            t = time.time()
            f = line.rstrip("\n").split("|")
            if len(f) < 6 or not f[0]:
                continue
            with self.cond:
                self.events.append((t,) + tuple(f[:6]))
                self.cond.notify_all()

    def wait_phase(self, name, phases, timeout):
        """Until `name` reaches one of `phases`; returns that phase (or None on timeout)."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if e[1] == name and e[2] in phases:
                        return e[2]
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def first_seen(self, name):
        """phase -> the time the watch first saw it."""
        seen = {}
        with self.cond:
            for e in self.events:
                if e[1] == name and e[2] and e[2] not in seen:
                    seen[e[2]] = e[0]
        return seen

    def first_seen_where(self, name, pred):
        with self.cond:
            for e in self.events:
                if e[1] == name and pred(e):
                    return e[0]
        return None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def rup_status(cluster, ns, name):
    return json.loads(cluster.kubectl("-n", ns, "get", "rup", name, "-o", "json")).get(
        "status", {})


def workdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def apiserver_latency(cluster, resource, verb, subresource=""):
    """The apiserver's own request-duration histogram for one resource and verb, as
    [(upper bound s, requests in that bucket)], non-empty buckets only: how long the
    apiserver took to serve the operator's writes (server side, client time excluded)."""
    text = cluster.kubectl("get", "--raw", "/metrics", check=False)
    want = ['resource="%s"' % resource, 'verb="%s"' % verb, 'subresource="%s"' % subresource]
    cum = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_duration_seconds_bucket{"):
            continue
        if not all(w in line for w in want):
            continue
        le = line.split('le="', 1)[1].split('"', 1)[0]
        bound = float("inf") if le == "+Inf" else float(le)
        cum[bound] = cum.get(bound, 0) + int(float(line.rsplit(" ", 1)[1]))
    out, prev = [], 0
    for bound in sorted(cum):
        if cum[bound] > prev:
            out.append((bound, cum[bound] - prev))
        prev = cum[bound]
    return out
