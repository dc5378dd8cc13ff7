"""/healthz, /readyz and /metrics. The probes need no authentication and say only
which check failed, by a generic name (no host, version or error text: the probe is
public); /metrics answers its own bearer token (ciam.ops.exposition)."""

from __future__ import annotations

import time

from flask import Blueprint, Response, abort, current_app, jsonify, request

from ciam.ops import exposition
from ciam.ops.readiness import failed_checks

bp = Blueprint("ops", __name__)
# A flood of /readyz (it is public) costs at most one round of checks per second.
READY_CACHE_SECONDS = 1.0
NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz():
    """The process is alive and answers HTTP: nothing else is asked."""
    return jsonify(status="ok"), 200, NO_STORE


@bp.get("/readyz")
def readyz():
    failed = _failed_checks_cached()
    if failed:
        return jsonify(status="not_ready", failed=failed), 503, NO_STORE
    return jsonify(status="ready"), 200, NO_STORE


def _failed_checks_cached() -> list[str]:
    cached = current_app.extensions.get("ciam.ops.ready")
    now = time.monotonic()
    if cached is not None and now < cached[0]:
        return cached[1]
    failed = failed_checks(current_app)
    current_app.extensions["ciam.ops.ready"] = (now + READY_CACHE_SECONDS, failed)
    return failed


@bp.get("/metrics")
def metrics():
    config = current_app.config
    token = config["CIAM_METRICS_TOKEN"]
    if not token:
        abort(404)  # served on CIAM_METRICS_PORT, or not at all
    if not exposition.bearer_matches(request.headers.get("Authorization"), token):
        return Response("", 401, {"WWW-Authenticate": 'Bearer realm="metrics"', **NO_STORE})
    body, content_type = exposition.render(current_app, request.headers.get("Accept"))
    return Response(body, 200, {"Content-Type": content_type, **NO_STORE})
