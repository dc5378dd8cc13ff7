"""The results as JSON (bench/results/<date>.json) and as tables in docs/benchmarks.md.

docs/benchmarks.md is partly written by hand (how to run and read it, what the latest
figures mean); only the part between the two `bench:results` markers is rewritten by
each full run.
"""

from __future__ import annotations

import math
from pathlib import Path

BEGIN = "<!-- bench:results:begin (written by `make bench`; edit outside these markers) -->"
END = "<!-- bench:results:end -->"

# Issue 4's targets, per core, PostgreSQL, RS256.
TARGETS = {
    "discovery": {"rps": 2000, "p99_ms": 50},
    "jwks": {"rps": 2000, "p99_ms": 50},
    "client_credentials": {"rps": 800, "p99_ms": 50},
    "refresh": {"rps": 400, "p99_ms": 50},
    "userinfo": {"rps": 1200, "p99_ms": 50},
    "introspection": {"rps": 1200, "p99_ms": 50},
    "login": {"rps": 30, "p99_ms": 300},
}
RSS_TARGET_MB = 150
# A run during which other processes used more than this many cores is noisy.
NOISY_OTHER_CORES = 0.10

DASH, TIMES = "\u2013", "\u00d7"  # en dash, multiplication sign

LABELS = {
    "discovery": "discovery",
    "jwks": "JWKS",
    "client_credentials": "client_credentials token",
    "refresh": "refresh token (rotating)",
    "userinfo": "userinfo",
    "introspection": "introspection",
    "login": "password login (authorize → form → code → token)",
}


def _num(value, digits=1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _ratio(a, b) -> str:
    if not a or not b:
        return DASH
    return f"{a / b:.2f}{TIMES}"


def summarize(run: dict) -> dict:
    """The figures of one server in one scenario, as the table shows them."""
    peak, paced = run.get("peak") or {}, run.get("paced") or {}
    requests = peak.get("requests") or 0
    rss = peak.get("worker_rss_kib")
    other = None
    if peak.get("wall_s"):
        other = peak["other_cpu_s"] / peak["wall_s"]
    return {
        "rps": peak.get("rps"),
        "p50_ms": peak.get("p50_ms"),
        "p95_ms": peak.get("p95_ms"),
        "p99_ms": peak.get("p99_ms"),
        "paced_rps": paced.get("rps"),
        "paced_p99_ms": paced.get("p99_ms"),
        "errors": (peak.get("errors_all_attempts", peak.get("errors")) or 0)
        + (paced.get("errors") or 0)
        + run.get("check_errors", 0),
        "cpu_us": peak.get("server_cpu_s", 0) * 1e6 / requests if requests else None,
        "ceiling_rps": requests / peak["server_cpu_s"] if peak.get("server_cpu_s") else None,
        "db_us": peak.get("db_cpu_s", 0) * 1e6 / requests if requests else None,
        "rss_mb": rss / 1024 if rss else None,
        "other_cores": other,
        "server_core_use": peak["server_cpu_s"] / peak["wall_s"] if peak.get("wall_s") else None,
    }


def meets(scenario: str, s: dict) -> str:
    target = TARGETS[scenario]
    misses = []
    if not s["rps"] or s["rps"] < target["rps"]:
        misses.append("req/s")
    if s["paced_p99_ms"] is None or s["paced_p99_ms"] >= target["p99_ms"]:
        misses.append("p99")
    if s["rss_mb"] is None or s["rss_mb"] >= RSS_TARGET_MB:
        misses.append("RSS")
    if s["errors"]:
        misses.append("errors")
    return "yes" if not misses else "no (" + ", ".join(misses) + ")"


def target_text(scenario: str) -> str:
    t = TARGETS[scenario]
    return f"≥ {t['rps']:,}/s, p99@70% < {t['p99_ms']} ms, RSS < {RSS_TARGET_MB} MB"


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


# The ciam rows, in the order shown: the production shape first.
CIAM_SERVERS = {
    "ciam": "ciam (gunicorn sync)",
    "ciam-granian": "ciam (granian)",
    "ciam-gthread": "ciam (gunicorn gthread)",
}
HEADER = [
    "scenario",
    "server",
    "req/s (1 core)",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "p99 ms @70%",
    "errors",
    "CPU µs/req",
    "req/CPU-s",
    "DB CPU µs/req",
    "RSS MB",
    "other load (cores)",
    "target",
    "meets",
]


def _server_row(label: str, name: str, s: dict, scenario: str, is_ciam: bool) -> str:
    return _row(
        [
            label,
            name,
            _num(s["rps"]),
            _num(s["p50_ms"], 2),
            _num(s["p95_ms"], 2),
            _num(s["p99_ms"], 2),
            _num(s["paced_p99_ms"], 2),
            s["errors"],
            _num(s["cpu_us"], 0),
            _num(s["ceiling_rps"], 0),
            _num(s["db_us"], 0),
            _num(s["rss_mb"], 1),
            _num(s["other_cores"], 2),
            target_text(scenario) if is_ciam else "",
            meets(scenario, s) if is_ciam else "",
        ]
    )


def _ratio_row(name: str, sc: dict, sp: dict) -> str:
    return _row(
        [
            "",
            f"**{name} / peer**",
            _ratio(sc["rps"], sp["rps"]),
            _ratio(sc["p50_ms"], sp["p50_ms"]),
            _ratio(sc["p95_ms"], sp["p95_ms"]),
            _ratio(sc["p99_ms"], sp["p99_ms"]),
            _ratio(sc["paced_p99_ms"], sp["paced_p99_ms"]),
            "",
            _ratio(sc["cpu_us"], sp["cpu_us"]),
            _ratio(sc["ceiling_rps"], sp["ceiling_rps"]),
            _ratio(sc["db_us"], sp["db_us"]),
            _ratio(sc["rss_mb"], sp["rss_mb"]),
            "",
            "",
            "",
        ]
    )


def main_table(results: dict) -> list[str]:
    """Per scenario: every ciam server measured, the peer, and each ciam server's
    ratio to the peer."""
    lines = [_row(HEADER), "|" + "---|" * len(HEADER)]
    for scenario, label in LABELS.items():
        runs = results.get(scenario)
        if not runs:
            continue
        ours = [
            (name, summarize(runs[key]))
            for key, name in CIAM_SERVERS.items()
            if runs.get(key) and runs[key].get("peak")
        ]
        peer = summarize(runs["peer"]) if runs.get("peer", {}).get("peak") else None
        rows = [(name, s, True) for name, s in ours]
        if peer:
            rows.append(("oidc-provider", peer, False))
        for i, (name, s, is_ciam) in enumerate(rows):
            lines.append(_server_row(label if i == 0 else "", name, s, scenario, is_ciam))
        if peer:
            lines += [_ratio_row(name, s, peer) for name, s in ours]
    lines += invitation_rows(results.get("invitation_batch") or {})
    return lines


def invitation_rows(runs: dict) -> list[str]:
    """The invitation batch is not a request rate: its own two figures."""
    if not runs:
        return [_row(["invitation batch", DASH, "not measured in this run", *[""] * 12])]
    lines = []
    for key, name in CIAM_SERVERS.items():
        run = runs.get(key)
        if not run:
            continue
        text = (
            f"{run['count']:,} invitations: accepted (HTTP 202) in {run['accept_s']:.2f} s, "
            f"processed by one `ciam worker` in {run['processing_s']:.1f} s "
            f"({run['count'] / run['processing_s']:,.0f}/s), {run['emails']:,} emails queued"
        )
        if run.get("check_failure"):
            text = "FAILED: " + run["check_failure"].splitlines()[0][:200]
        lines.append(_row(["invitation batch", name, text, *[""] * 12]))
    return lines


def noise_notes(results: dict) -> list[str]:
    """One line per server and scenario whose figures should not be trusted alone."""
    notes = []
    for scenario, runs in results.items():
        if scenario not in LABELS:
            continue  # the invitation batch has no request-rate figures
        for server, run in runs.items():
            s = summarize(run)
            reasons = []
            if run.get("check_failure"):
                reasons.append("FAILED: " + run["check_failure"].splitlines()[0][:200])
            if s["other_cores"] is not None and s["other_cores"] > NOISY_OTHER_CORES:
                reasons.append(f"other processes used {s['other_cores']:.2f} cores")
            if s["server_core_use"] is not None and s["server_core_use"] < 0.85:
                reasons.append(
                    f"the server was busy {s['server_core_use']:.0%} of the time "
                    "(waiting on PostgreSQL/Redis, or others had the core)"
                )
            paced = run.get("paced") or {}
            if paced.get("target_rate") and paced.get("rps", 0) < 0.9 * paced["target_rate"]:
                reasons.append(
                    f"the 70% run reached {paced['rps']:.0f}/s of {paced['target_rate']:.0f}/s"
                )
            peak = run.get("peak") or {}
            if peak.get("ok") is not None and peak["ok"] < 1000:
                reasons.append(f"p99 from {peak['ok']} samples")
            if reasons:
                notes.append(f"{LABELS.get(scenario, scenario)}, {server}: " + "; ".join(reasons))
    return notes


def machine_lines(doc: dict) -> list[str]:
    m = doc["machine"]
    v = doc["versions"]
    return [
        f"- Date: {doc['date']}",
        f"- Command: `{doc['command']}`",
        f"- Machine: {m['nproc']} cores (`nproc`), {m['cpu_model']}, "
        f"{m['mem_total_gib']:.1f} GiB RAM, Linux {m['kernel']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Settings: {doc['settings_text']}",
    ]


def results_block(doc: dict) -> str:
    results = doc["results"]
    lines = [BEGIN, "", "### Latest run", ""]
    lines += machine_lines(doc)
    lines += ["", *main_table(results), ""]
    notes = noise_notes(results)
    lines += ["#### Noisy numbers in this run", ""]
    lines += [f"- {n}" for n in notes] or ["- none flagged"]
    lines += ["", f"JSON: `{doc['json_path']}`", "", END]
    return "\n".join(lines)


def write_docs(path: Path, doc: dict, template: str) -> None:
    block = results_block(doc)
    text = path.read_text() if path.exists() else template
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
