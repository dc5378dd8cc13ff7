"""Load generators: wrk with generated Lua scripts, and a Python driver for logins.

Both run on core 1 (this process pins itself there; wrk is started with
`taskset -c 1`). Both count only correct answers as successes: wrk's Lua checks the
status and a marker in every body, the Python driver checks every response fully.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import oidc

LUA_DIR = Path(__file__).resolve().parent / "lua"


@dataclass
class WrkRequest:
    """One kind of request, repeated by wrk."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    # Lua patterns that must all occur in a 2xx body for it to count as correct.
    expect: list[str] = field(default_factory=list)
    # A file of refresh tokens, one a line: the body is `body` + a fresh token.
    tokens_file: Path | None = None


def lua_string(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32:
            out.append(f"\\{ord(ch):03d}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def lua_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"[{lua_string(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if value is None:
        return "nil"
    raise TypeError(type(value))


def lua_pattern(text: str) -> str:
    """A Lua pattern matching `text` literally."""
    return re.sub(r"([\^\$\(\)%\.\[\]\*\+\-\?])", r"%\1", text)


def lua_json_pair(key: str, value_pattern: str) -> str:
    """`"key": value` with any JSON whitespace around the colon."""
    return f'"{lua_pattern(key)}"%s*:%s*{value_pattern}'


def write_script(req: WrkRequest, path: Path, *, rate: float, connections: int, threads: int):
    config = {
        "method": req.method,
        "headers": req.headers,
        "body": req.body,
        "expect": req.expect,
        "rate": rate,
        "connections": connections,
        "threads": threads,
        "tokens": str(req.tokens_file) if req.tokens_file else "",
    }
    parts = [f"CONFIG = {lua_literal(config)}\n", (LUA_DIR / "common.lua").read_text()]
    if req.tokens_file:
        parts.append((LUA_DIR / "refresh.lua").read_text())
    if rate:
        parts.append((LUA_DIR / "pace.lua").read_text())
    script = "\n".join(parts)
    path.write_text(script)


def run_wrk(
    req: WrkRequest,
    *,
    duration: float,
    connections: int,
    workdir: Path,
    rate: float = 0.0,
    threads: int = 1,
    label: str = "run",
) -> dict:
    script = workdir / f"{label}.lua"
    write_script(req, script, rate=rate, connections=connections, threads=threads)
    argv = [
        "taskset",
        "-c",
        "1",
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        req.url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    seconds = raw["duration_us"] / 1e6
    errors = (
        raw["bad_status"]
        + raw["bad_body"]
        + raw["connect_errors"]
        + raw["read_errors"]
        + raw["write_errors"]
        + raw["timeouts"]
    )
    return {
        "driver": "wrk",
        "command": " ".join(argv[3:]),
        "connections": connections,
        "target_rate": rate or None,
        "seconds": round(seconds, 3),
        "requests": raw["requests"],
        "ok": raw["ok"],
        "errors": errors,
        "rps": round(raw["ok"] / seconds, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "raw": raw,
    }


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(pct / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


def run_logins(target: oidc.Target, *, duration: float, threads: int, rate: float = 0.0) -> dict:
    """Full password logins, each in a fresh browser (cookie jar), for `duration`.

    Closed loop with `threads` browsers, or, with `rate`, logins started on a
    fixed schedule of `rate` per second (latency measured from the actual start).
    """
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    http_requests = [0]
    start = time.monotonic()
    stop_at = start + duration
    next_slot = [start]

    def worker() -> None:
        with requests.Session() as session:
            while True:
                if rate:
                    with lock:
                        slot = next_slot[0]
                        next_slot[0] += 1 / rate
                    if slot >= stop_at:
                        return
                    time.sleep(max(0.0, slot - time.monotonic()))
                elif time.monotonic() >= stop_at:
                    return
                t0 = time.monotonic()
                try:
                    login = oidc.password_login(target, session)
                except (oidc.CheckFailed, requests.RequestException, KeyError) as exc:
                    with lock:
                        failures.append(str(exc)[:300])
                    continue
                elapsed = time.monotonic() - t0
                with lock:
                    latencies.append(elapsed)
                    http_requests[0] += login.requests

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    seconds = time.monotonic() - start
    values = sorted(latencies)
    return {
        "driver": f"python ({threads} threads)",
        "connections": threads,
        "target_rate": rate or None,
        "seconds": round(seconds, 3),
        "requests": len(values) + len(failures),
        "ok": len(values),
        "errors": len(failures),
        "error_samples": failures[:5],
        "http_requests_per_login": round(http_requests[0] / len(values), 2) if values else None,
        "rps": round(len(values) / seconds, 1),
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p90_ms": round(percentile(values, 90) * 1000, 2),
        "p95_ms": round(percentile(values, 95) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
        "max_ms": round(values[-1] * 1000, 2) if values else None,
    }
