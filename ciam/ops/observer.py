"""One WSGI middleware around everything (the fast paths too, which answer before
Flask and so before any after_request hook): it gives each request an id, counts it
and its latency by route template, and writes one log line for it.

The latency is the time until the app returns its answer (the body iterable), not
the time to send the body. The middleware sits inside ProxyFix (setup_ops runs just
before setup_proxies), so the address it logs is the client's, not the load
balancer's. It is kept cheap, as it runs on the hottest paths (its cost per request
is measured in docs/benchmarks.md): label children are built once per route and
status, the clock is perf_counter, request ids come from a counter, and the line is
one f-string.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterable

from flask import Flask, request
from prometheus_client import Counter, Histogram

from ciam.ops.logs import REQUEST_ID, SINK
from ciam.ops.metrics import LATENCY, REQUESTS

# The endpoint label of a request Flask did not route: the fast paths answer these
# paths before Flask (ciam.oidc.fastpath, ciam.oidc.discovery); any other path
# without a route is "unmatched", so a scan of random paths adds no label values.
PATHS_BEFORE_FLASK = (
    "/oauth/token",
    "/oauth/userinfo",
    "/oauth/introspect",
    "/.well-known/openid-configuration",
    "/oauth/jwks",
)
UNMATCHED = "unmatched"
ROUTE_KEY = "ciam.route"
MAX_REQUEST_ID = 128


def usable_request_id(value: str | None) -> str | None:
    """A proxy's X-Request-Id, if it is short printable ASCII (it is echoed in a
    header and written in log lines)."""
    if value and len(value) <= MAX_REQUEST_ID and value.isascii() and value.isprintable():
        return value
    return None


def remember_route() -> None:
    """First of the before_request functions: the route template Flask matched, in
    the environ, where the observer reads it once the answer is out (Flask drops
    the request object from the environ when the request context ends)."""
    rule = request.url_rule
    if rule is not None:
        request.environ[ROUTE_KEY] = rule.rule


def endpoint_of(environ: dict, fixed: dict[str, str]) -> str:
    """The route template Flask matched, else the fixed label of a path answered
    before Flask, else UNMATCHED."""
    return environ.get(ROUTE_KEY) or fixed.get(environ.get("PATH_INFO", ""), UNMATCHED)


class RequestIds:
    """Request ids: a random prefix per process and a counter, unique across
    processes and nodes without drawing 64 random bits per request. A forked child
    (gunicorn --preload) draws a prefix of its own."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.prefix = os.urandom(6).hex()
        self.counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):08x}"


REQUEST_IDS = RequestIds()
# Known methods are logged as they are; anything else (any token is a valid method)
# as OTHER, so the line needs no escaping.
METHODS = {m: m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}


def json_string(value: str | None) -> str:
    """`value` as a JSON string; without json.dumps when nothing needs escaping."""
    if value is None:
        return "null"
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value)


class RequestObserver:
    def __init__(self, wsgi_app, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.trust_request_id = app.config["CIAM_TRUSTED_PROXIES"] > 0
        self.fixed = {path: path for path in PATHS_BEFORE_FLASK}
        self.counted: dict[tuple[str, str], Counter] = {}  # (endpoint, status) -> child
        self.timed: dict[str, Histogram] = {}  # endpoint -> histogram child
        self.first_request_hook = None  # the metrics port, opened by the first worker request

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        started = time.perf_counter()
        if self.first_request_hook is not None:
            hook, self.first_request_hook = self.first_request_hook, None
            hook()
        request_id = (
            self.trust_request_id and usable_request_id(environ.get("HTTP_X_REQUEST_ID"))
        ) or REQUEST_IDS.next()
        status = ["500"]  # what an exception escaping the app becomes at the server

        def observed_start_response(line: str, headers: list, exc_info=None):
            status[0] = line[:3]
            headers.append(("X-Request-Id", request_id))
            return start_response(line, headers, exc_info)

        reset = REQUEST_ID.set(request_id)
        try:
            return self.wsgi_app(environ, observed_start_response)
        finally:
            REQUEST_ID.reset(reset)
            self._observe(environ, status[0], time.perf_counter() - started, request_id)

    def _observe(self, environ: dict, status: str, seconds: float, request_id: str) -> None:
        endpoint = endpoint_of(environ, self.fixed)
        counter = self.counted.get((endpoint, status))
        if counter is None:
            counter = self.counted[endpoint, status] = REQUESTS.labels(endpoint, status)
        timer = self.timed.get(endpoint)
        if timer is None:
            timer = self.timed[endpoint] = LATENCY.labels(endpoint)
        counter.inc()
        timer.observe(seconds)
        method = METHODS.get(environ.get("REQUEST_METHOD", ""), "OTHER")
        ip = environ.get("REMOTE_ADDR")
        # One f-string: json.dumps of the same dict costs several times more here
        # (docs/benchmarks.md). Only the request id and the address come from
        # outside, and json_string escapes them when they need it; the endpoint is
        # a route template of ours.
        if SINK.json:
            SINK.write(
                f'{{"ts":{time.time():.3f},"level":"info","event":"request",'
                f'"request_id":{json_string(request_id)},"method":"{method}",'
                f'"endpoint":"{endpoint}","status":{status},"ms":{seconds * 1000:.2f},'
                f'"ip":{json_string(ip)}}}'
            )
        else:
            SINK.write(
                f"ts={time.time():.3f} level=info event=request request_id={request_id} "
                f"method={method} endpoint={endpoint} status={status} "
                f"ms={seconds * 1000:.2f} ip={ip}"
            )
