"""Rate limits (flask-limiter): per IP and per account on login, per IP on the token
endpoint (NIST 800-63B §5.2.2, ASVS 2.2.1, 11.1.4).

Counters live in Redis when CIAM_REDIS_URL is set, so several processes and nodes
share one limit (DESIGN §7); otherwise in this process's memory (demo, laptops).
A refused request answers 429: a page for people, JSON for machines (`slow_down`).
"""

from __future__ import annotations

import os
import threading
import time
from functools import lru_cache

from flask import Flask, current_app, has_app_context, jsonify, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from redis import Connection, ConnectionPool
from redis.exceptions import RedisError, ResponseError
from werkzeug.exceptions import TooManyRequests

from ciam.negotiation import wants_json


def _per_app(name: str, default):
    """An attribute flask-limiter keeps on the extension, kept per app instead."""

    def get(self):
        return self._app_state().get(name, default)

    def set_(self, value):
        self._app_state()[name] = value

    return property(get, set_)


class AppLimiter(Limiter):
    """flask-limiter keeps its storage and its on/off switch on the extension object,
    so one module-level Limiter would serve every app with the settings of the app
    created last. Several apps live in one process (tests build a second app to
    prove limits are shared through Redis), so those settings are kept per app.
    These are private attributes of flask-limiter: setup.cfg pins it to 4.1.x."""

    enabled = _per_app("enabled", True)
    _storage = _per_app("_storage", None)
    _limiter = _per_app("_limiter", None)
    _storage_dead = _per_app("_storage_dead", False)
    _fallback_storage = _per_app("_fallback_storage", None)
    _fallback_limiter = _per_app("_fallback_limiter", None)

    def __init__(self, *args, **kwargs):
        self._initializing: Flask | None = None
        self._unbound_state: dict = {}
        super().__init__(*args, **kwargs)

    def _app_state(self) -> dict:
        app = self._initializing
        if app is None and has_app_context():
            app = current_app
        if app is None:
            return self._unbound_state
        return app.extensions.setdefault("ciam.limiter", {})

    def _check_request_limit(self, callable_name=None, in_middleware=True) -> None:
        # flask-limiter runs this before every request to apply app-wide, default,
        # meta and blueprint limits. ciam sets only per-route limits, which their
        # decorators check when the view runs, so the before-request pass would find
        # nothing: skip its work on every endpoint (discovery, userinfo, ...).
        if in_middleware and not self._middleware_limits(request.endpoint):
            return
        super()._check_request_limit(callable_name, in_middleware)

    def _middleware_limits(self, endpoint: str | None) -> bool:
        manager = self.limit_manager
        return bool(
            manager.application_limits
            or manager.default_limits
            or self._meta_limits
            or manager._blueprint_limits
            or manager.has_hints(endpoint or "")
        )

    def init_app(self, app: Flask) -> None:
        app.register_error_handler(RateLimitExceeded, rate_limited)
        app.register_error_handler(Throttled, throttled)
        self._initializing = app
        try:
            super().init_app(app)
        finally:
            self._initializing = None


def token_limit() -> str:
    """Per client IP on /oauth/token."""
    return current_app.config["CIAM_TOKEN_RATE_LIMIT"]


class Throttled(TooManyRequests):
    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_seconds = retry_after


@lru_cache(maxsize=64)
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


def count_token_request(ip: str) -> bool:
    """Count one token request from `ip` against CIAM_TOKEN_RATE_LIMIT, with the
    limiter's own strategy and storage (Redis when configured, so all nodes count
    together); False when the limit is exceeded.

    Why not the @limiter.limit decorator: on the token endpoint, the busiest one,
    its per-request evaluation (filters, exemptions, deduction bookkeeping) cost
    ~0.2 ms of CPU on top of the one Redis round trip that does the counting."""
    if not limiter.enabled:
        return True
    strategy, item = limiter.limiter, _item(token_limit())
    # Exact types: Redis Cluster and Sentinel storages keep their connections elsewhere.
    if type(strategy) is FixedWindowRateLimiter and type(strategy.storage) is RedisStorage:
        count = _redis_incr(strategy.storage, item.key_for("token", ip), item.get_expiry())
        if count is not None:
            return count <= item.amount
    return strategy.hit(item, "token", ip)


def _redis_incr(storage: RedisStorage, key: str, expiry: int) -> int | None:
    """What FixedWindowRateLimiter.hit has RedisStorage.incr do (its Lua script, on
    its prefixed key), sent on this thread's own connection to that Redis without
    redis-py's client layer: that layer (Script object, retry wrapper, response
    callbacks, the pool's checkout and return with their bookkeeping) and limits'
    cost ~90 µs of CPU per call, twice the command's own, on every token request.
    None on any Redis error (the script not loaded after a SCRIPT FLUSH, a dropped
    connection): the caller then goes through limits, which loads the script,
    reconnects and applies flask-limiter's error handling."""
    connection = _thread_connection(storage.storage.connection_pool)
    try:
        sha = storage.lua_incr_expire.sha
        connection.send_command("EVALSHA", sha, 1, storage.prefixed_key(key), expiry, 1)
        return int(connection.read_response())
    except ResponseError:  # an answer, e.g. NOSCRIPT: the connection is still good
        return None
    except RedisError:
        connection.disconnect()  # reconnects on next use
        return None


_THREAD = threading.local()


def _thread_connection(pool: ConnectionPool) -> Connection:
    """A connection of this thread and process, made like `pool`'s (same server,
    database, credentials, timeouts); it connects on first use."""
    found = getattr(_THREAD, "redis", None)
    if found is not None and found[0] is pool and found[1] == os.getpid():
        return found[2]
    connection = pool.connection_class(**pool.connection_kwargs)
    _THREAD.redis = (pool, os.getpid(), connection)
    return connection


def enforce_token_limit() -> None:
    """CIAM_TOKEN_RATE_LIMIT per client IP: 429 (Throttled) past it."""
    ip = get_remote_address()
    if not count_token_request(ip):
        reset_at, _ = limiter.limiter.get_window_stats(_item(token_limit()), "token", ip)
        raise Throttled(max(1, int(reset_at - time.time())))


def _retry_after(error: RateLimitExceeded) -> int:
    return max(1, int(error.limit.limit.get_expiry()))


def rate_limited(error: RateLimitExceeded):
    return _refused(_retry_after(error))


def throttled(error: Throttled):
    return _refused(error.retry_seconds)


def _refused(retry: int):
    """429. Machines get RFC 6749-style JSON (`slow_down`, as RFC 8628 §3.5 names
    it); people get a page. Retry-After is set here: the limiter's own headers are
    off (RATELIMIT_HEADERS_ENABLED), they cost Redis round trips on every request."""
    if wants_json():
        response = jsonify(
            {
                "error": "slow_down",
                "error_description": f"Too many requests. Try again in {retry} seconds.",
            }
        )
        response.status_code = 429
        response.headers["Cache-Control"] = "no-store"
    else:
        response = current_app.make_response(
            (
                render_template(
                    "error.html",
                    title="Too many attempts",
                    message=(
                        "There were too many attempts in a short time. "
                        "Wait a minute, then try again."
                    ),
                ),
                429,
            )
        )
    response.headers.setdefault("Retry-After", str(retry))
    return response


# The one limiter of the process (re-exported by ciam.extensions). This module imports
# nothing of the domain: each domain declares its own limits and keys (e.g.
# ciam.accounts.login.limits) and decorates its own views.
limiter = AppLimiter(key_func=get_remote_address, default_limits=[])
