"""The private parts of pinned libraries that ciam relies on are still there and still
behave as ciam expects (docs/private-apis.md lists each one and why). A release that
renames or changes one fails here, by name, before it fails somewhere subtle (a rate
limit shared between apps, the API's JSON errors answering every page)."""

from __future__ import annotations

import inspect

import pytest
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api
from limits.storage import RedisStorage
from werkzeug.exceptions import HTTPException

from ciam.api import CiamApi
from ciam.ratelimit import AppLimiter

DOC = "docs/private-apis.md"

# The attributes AppLimiter keeps per app (ciam/ratelimit.py).
LIMITER_PER_APP = (
    "_storage",
    "_limiter",
    "_storage_dead",
    "_fallback_storage",
    "_fallback_limiter",
)


def changed(what: str) -> str:
    return f"{what} changed in the installed version: see {DOC} and adapt its user"


def params(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def limiter_app(name: str, **config) -> Flask:
    app = Flask(name)
    app.config.update(RATELIMIT_STORAGE_URI="memory://", **config)
    return app


def api_app() -> Flask:
    app = Flask("api")
    app.config.update(API_TITLE="t", API_VERSION="v1", OPENAPI_VERSION="3.0.3")
    return app


# --- flask-limiter (ciam/ratelimit.py) ------------------------------------------------


def test_limiter_keeps_the_per_app_state_under_the_names_applimiter_overrides():
    """Limiter sets each attribute AppLimiter turns into a per-app property; a renamed
    one would be written on the shared extension again, for every app at once."""
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    limiter.init_app(limiter_app("plain", RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True))
    missing = [name for name in LIMITER_PER_APP if name not in vars(limiter)]
    assert not missing, changed(f"flask-limiter's Limiter attributes {missing}")


def test_applimiter_keeps_storage_and_switch_per_app():
    """Through the public properties: each app sees its own storage and on/off switch,
    and none of the per-app attributes lands on the shared extension object."""
    limiter = AppLimiter(key_func=get_remote_address, default_limits=[])
    first = limiter_app("first", RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True)
    second = limiter_app("second")
    off = limiter_app("off", RATELIMIT_ENABLED=False)
    for app in (first, second, off):
        limiter.init_app(app)
    with first.app_context():
        first_storage, first_enabled = limiter.storage, limiter.enabled
    with second.app_context():
        second_storage = limiter.storage
    with off.app_context():
        off_enabled = limiter.enabled
    assert first_enabled and not off_enabled, changed("flask-limiter's `enabled` handling")
    assert first_storage is not second_storage, changed("flask-limiter's storage attributes")
    shared = [name for name in LIMITER_PER_APP if name in vars(limiter)]
    assert not shared, changed(f"flask-limiter's Limiter attributes {shared}")


def test_limiter_checks_requests_through_check_request_limit():
    """AppLimiter overrides _check_request_limit(callable_name, in_middleware) to skip
    the before-request pass; it must still be the hook init_app registers."""
    assert params(Limiter._check_request_limit) == ["self", "callable_name", "in_middleware"], (
        changed("the signature of flask-limiter's Limiter._check_request_limit")
    )
    for cls in (Limiter, AppLimiter):
        app = limiter_app(cls.__name__)
        cls(key_func=get_remote_address, default_limits=[]).init_app(app)
        hooks = [getattr(f, "__func__", None) for f in app.before_request_funcs[None]]
        assert cls._check_request_limit in hooks, changed(
            "flask-limiter's before-request hook (Limiter._check_request_limit)"
        )


def test_limiter_holds_meta_and_blueprint_limits_where_applimiter_reads_them():
    """AppLimiter._middleware_limits reads _meta_limits, limit_manager._blueprint_limits
    and limit_manager.has_hints(endpoint) to tell whether a request has any limit."""
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    limiter.init_app(limiter_app("limits"))
    assert isinstance(getattr(limiter, "_meta_limits", None), list), changed(
        "flask-limiter's Limiter._meta_limits"
    )
    manager = limiter.limit_manager
    assert isinstance(getattr(manager, "_blueprint_limits", None), dict), changed(
        "flask-limiter's LimitManager._blueprint_limits"
    )
    assert params(manager.has_hints) == ["endpoint"], changed("LimitManager.has_hints")


# --- limits and redis-py (ciam/ratelimit.py, _redis_incr) -------------------------------


def test_redis_storage_increments_as_redis_incr_repeats_it():
    """_redis_incr sends EVALSHA of RedisStorage.lua_incr_expire on prefixed_key(key)
    with ARGV expiry, amount, on a connection made from the client's pool: the same
    call RedisStorage.incr makes through redis-py (no Redis server needed to see it)."""
    storage = RedisStorage("redis://127.0.0.1:1/0")
    pool = storage.storage.connection_pool
    assert pool.connection_class and isinstance(pool.connection_kwargs, dict), changed(
        "redis-py's ConnectionPool.connection_class / connection_kwargs"
    )
    script = storage.lua_incr_expire
    assert isinstance(script.sha, str) and len(script.sha) == 40, changed(
        "limits' RedisStorage.lua_incr_expire"
    )
    calls = []
    storage.lua_incr_expire = lambda keys, args: calls.append((keys, args)) or 1
    storage.incr("token/1.2.3.4", 60)
    assert calls == [([storage.prefixed_key("token/1.2.3.4")], [60, 1])], changed(
        "how limits' RedisStorage.incr calls its script"
    )


# --- flask-smorest (ciam/api) -----------------------------------------------------------


def test_smorest_registers_its_error_handler_in_the_method_ciamapi_empties():
    """CiamApi overrides Api._register_error_handlers so flask-smorest's JSON handler
    does not answer every error of the app (pages included)."""
    plain, ours = api_app(), api_app()
    Api(plain)
    CiamApi(ours)
    assert HTTPException in plain.error_handler_spec[None][None], changed(
        "flask-smorest's Api._register_error_handlers"
    )
    assert HTTPException not in ours.error_handler_spec[None].get(None, {}), changed(
        "flask-smorest's Api._register_error_handlers (CiamApi's override no longer runs)"
    )


# --- Authlib (ciam/oidc/server.py) ------------------------------------------------------


def test_authlib_lists_authorization_grants_as_pairs():
    """CiamAuthorizationServer.get_authorization_grant walks _authorization_grants as
    (grant class, extensions) pairs."""
    server = AuthorizationServer()
    server.register_grant(grants.AuthorizationCodeGrant)
    registered = getattr(server, "_authorization_grants", None)
    assert registered == [(grants.AuthorizationCodeGrant, None)], changed(
        "Authlib's AuthorizationServer._authorization_grants"
    )


@pytest.mark.parametrize(
    ("method", "expected"),
    [("_validate_request_token", ["self", "client"]), ("_validate_token_scope", ["self", "token"])],
)
def test_authlib_refresh_grant_validates_through_the_methods_ciam_overrides(method, expected):
    """ciam's RefreshTokenGrant overrides _validate_request_token (to check the client
    and scope before a token is consumed) and calls _validate_token_scope; Authlib's
    validate_token_request must still call both, with these signatures."""
    function = getattr(grants.RefreshTokenGrant, method, None)
    assert function is not None, changed(f"Authlib's RefreshTokenGrant.{method}")
    assert params(function) == expected, changed(f"the signature of RefreshTokenGrant.{method}")
    source = inspect.getsource(grants.RefreshTokenGrant.validate_token_request)
    assert f"self.{method}(" in source, changed(f"RefreshTokenGrant's use of {method}")
