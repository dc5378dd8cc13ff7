"""Starting, watching and stopping the servers under test, and reading /proc.

Each server is started in its own session (process group) pinned to core 0 with
`taskset -c 0`, and stopped by signalling that group only. CPU time and memory are
read from /proc for the server's whole process tree (master and worker), and for the
PostgreSQL backends serving the benchmark database.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, CPU seconds) of a process, all its threads included."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in _pids():
        st = _stat(pid)
        if st is not None:
            children.setdefault(st[0], []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        st = _stat(pid)
        if st is not None:
            out[pid] = st[1]
    return out


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def db_backends(dbname: str) -> list[int]:
    """PostgreSQL backends connected to `dbname` (their process title names it)."""
    pattern = re.compile(rf"^postgres: [^:]+: \S+ {re.escape(dbname)} ")
    return [pid for pid in _pids() if pattern.match(cmdline(pid))]


def system_cpu() -> dict[str, float]:
    """Machine-wide CPU seconds (all cores) from /proc/stat: busy (not idle, not
    iowait, not steal), of which interrupts (loopback networking's softirqs), and
    steal (time the hypervisor gave to other guests)."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return {
        "busy": (user + nice + system + irq + softirq) / CLK_TCK,
        "irq": (irq + softirq) / CLK_TCK,
        "steal": steal / CLK_TCK,
    }


def redis_servers() -> list[int]:
    return [pid for pid in _pids() if cmdline(pid).startswith("redis-server")]


@dataclass
class Server:
    """One HTTP server process tree under test."""

    name: str
    kind: str  # gunicorn | granian | node
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    cwd: Path | None = None
    proc: subprocess.Popen | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", *self.argv],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, stopped as one
        )
        log.close()

    def wait_ready(self, path: str = "/.well-known/openid-configuration", timeout=60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                if requests.get(self.base_url + path, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass

    def pids(self) -> list[int]:
        assert self.proc is not None
        return descendants(self.proc.pid)

    def worker_pid(self) -> int:
        """The process serving requests: the child for gunicorn and granian (their
        master only supervises), the process itself for node."""
        pids = self.pids()
        children = [p for p in pids if p != self.proc.pid]
        if not children:
            return self.proc.pid
        return max(children, key=lambda p: memory_kib(p).get("VmRSS", 0))

    def affinity(self) -> dict[int, list[int]]:
        return {pid: sorted(os.sched_getaffinity(pid)) for pid in self.pids()}


class Meter:
    """CPU seconds of a server tree, the database backends and the whole machine,
    between `start()` and `stop()`."""

    def __init__(self, server: Server, dbname: str) -> None:
        self.server, self.dbname = server, dbname

    def _sample(self) -> dict:
        return {
            "server": cpu_seconds(self.server.pids()),
            "db": cpu_seconds(db_backends(self.dbname)),
            "redis": cpu_seconds(redis_servers()),
            "machine": system_cpu(),
            "self": os.times(),
            "wall": time.monotonic(),
        }

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict:
        after = self._sample()
        before = self.before

        def delta(key: str) -> float:
            return sum(after[key].get(p, 0.0) - before[key].get(p, 0.0) for p in after[key])

        server_cpu, db_cpu, redis_cpu = delta("server"), delta("db"), delta("redis")
        t0, t1 = before["self"], after["self"]
        # wrk runs as our child; the Python login driver runs in this process.
        loadgen = (t1.children_user + t1.children_system + t1.user + t1.system) - (
            t0.children_user + t0.children_system + t0.user + t0.system
        )
        m0, m1 = before["machine"], after["machine"]
        busy, irq = m1["busy"] - m0["busy"], m1["irq"] - m0["irq"]
        wall = after["wall"] - before["wall"]
        worker = self.server.worker_pid()
        mem = memory_kib(worker)
        return {
            "wall_s": round(wall, 3),
            "server_cpu_s": round(server_cpu, 3),
            "db_cpu_s": round(db_cpu, 3),
            "redis_cpu_s": round(redis_cpu, 3),
            "loadgen_cpu_s": round(loadgen, 3),
            "irq_cpu_s": round(irq, 3),
            "steal_s": round(m1["steal"] - m0["steal"], 3),
            "machine_busy_s": round(busy, 3),
            # CPU the machine spent on anything else (other people's jobs): the
            # measure of how noisy this run was.
            "other_cpu_s": round(
                max(0.0, busy - server_cpu - db_cpu - redis_cpu - loadgen - irq), 3
            ),
            "worker_pid": worker,
            "worker_rss_kib": mem.get("VmRSS"),
            "worker_peak_rss_kib": mem.get("VmHWM"),
            "tree_rss_kib": sum(memory_kib(p).get("VmRSS", 0) for p in self.server.pids()),
        }
