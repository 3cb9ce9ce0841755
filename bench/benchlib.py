"""Shared helpers of the benchmark drivers: loopback redis-server processes,
a minimal RESP client, and the project's binaries. Standard library only."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Resp:
    """A blocking RESP2 client, enough for INFO, CONFIG, DEBUG, DBSIZE and a pipeline."""

    def __init__(self, port, timeout=600.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    @staticmethod
    def _encode(args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        return out

    def cmd(self, *args):
        self.sock.sendall(self._encode(args))
        return self._reply()

    def pipeline(self, commands):
        """Sends every command (a tuple of str/int/bytes) at once, then reads the replies;
        an error reply raises after all the replies were read."""
        self.sock.sendall(b"".join(self._encode(c) for c in commands))
        replies, error = [], None
        for _ in commands:
            try:
                replies.append(self._reply())
            except RuntimeError as e:
                replies.append(None)
                error = error or e
        if error is not None:
            raise error
        return replies

    def info(self, section=""):
        text = self.cmd("INFO", section) if section else self.cmd("INFO")
        fields = {}
        for line in text.splitlines():
            if line and not line.startswith("#") and ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v
        return fields


def populate(client, keys, value_size, prefix="key", batch=1000):
    """Loads keys <prefix>:0 .. <prefix>:<keys-1>, each of value_size bytes, as
    `DEBUG POPULATE keys prefix value_size` does, and returns how: "debug-populate", or
    "set-pipeline" on servers whose DEBUG POPULATE has no size argument (2.8 knows only
    `DEBUG POPULATE count [prefix]`): then pipelined SETs of the values DEBUG POPULATE
    would store ("value:<n>", cut or padded with NUL bytes to value_size; value_size 0:
    "value:<n>" as it is)."""
    try:
        client.cmd("DEBUG", "POPULATE", keys, prefix, value_size)
        return "debug-populate"
    except RuntimeError as e:
        if "POPULATE" not in str(e) and "wrong number of arguments" not in str(e):
            raise
    for start in range(0, keys, batch):
        cmds = []
        for n in range(start, min(keys, start + batch)):
            v = b"value:%d" % n
            if value_size:
                v = v[:value_size].ljust(value_size, b"\0")
            cmds.append(("SET", "%s:%d" % (prefix, n), v))
        client.pipeline(cmds)
    return "set-pipeline"


def format_table(headers, rows):
    """A fixed-width text table (columns right-aligned but the first), one string."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r]
                                           for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for r in cells:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return "\n".join(lines)


class RedisProc:
    """redis-server on a free loopback port in its own temp dir."""

    def __init__(self, binary="redis-server", extra=()):
        self.dir = tempfile.mkdtemp(prefix="ruo-bench-redis-")
        self.port = free_port()
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes",
                "--logfile", os.path.join(self.dir, "redis.log")]
        args += list(extra)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.time() + 10
        while True:
            try:
                c = Resp(self.port, timeout=2)
                c.cmd("PING")
                c.close()
                break
            except (OSError, RuntimeError):
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start on port %d" % self.port)
                time.sleep(0.02)

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def client(self):
        return Resp(self.port)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Binaries:
    """The built project: redis-upgrade-operator and the test tools (forwarder=False: a
    driver that needs only the operator binary)."""

    def __init__(self, build_dir, forwarder=True):
        self.operator = os.path.join(build_dir, "src/cmd/redis-upgrade-operator")
        self.forwarder = os.path.join(build_dir, "tests/tools/tcp_forwarder")
        for path in (self.operator, self.forwarder) if forwarder else (self.operator,):
            if not os.access(path, os.X_OK):
                raise SystemExit("missing %s: build the project first (hack/build.sh)" % path)


class Forwarder:
    """tests/tools/tcp_forwarder: the VIP that a switch hook moves."""

    def __init__(self, binary, backend_addr, workdir):
        self.backend_file = os.path.join(workdir, "backend")
        write_atomic(self.backend_file, backend_addr + "\n")
        self.proc = subprocess.Popen([binary, "--backend-file", self.backend_file],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     start_new_session=True, text=True)
        self.port = int(self.proc.stdout.readline())

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def hook(self):
        f = self.backend_file
        return "printf '%%s\\n' \"$RUO_NEW_MASTER\" > %s.new && mv %s.new %s" % (f, f, f)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def write_atomic(path, content):
    with open(path + ".tmp", "w") as f:
        f.write(content)
    os.rename(path + ".tmp", path)


def parse_report(text):
    lines = [l for l in text.splitlines() if l.strip()]
    if len(lines) != 1:
        raise RuntimeError("expected one JSON line on stdout, got: %r" % text[-500:])
    return json.loads(lines[0])


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    rank = max(1, -(-len(s) * p // 100))  # ceil
    return s[int(rank) - 1]


def machine_description():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ver = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    return "%d cores (%s), %.0f GiB RAM, %s" % (os.cpu_count(), cpu, mem_gb, ver.strip())
