"""Rate limits (NIST 800-63B §5.2.2, ASVS 2.2.1, 11.1.4): per IP and per account on
login, per IP on the token endpoint, shared by several app instances through Redis,
and refused with a readable 429 (a page for people, JSON for machines)."""

from __future__ import annotations

import threading

import pytest
import redis

from tests.accounts.security_support import csrf, extra_app, login, redis_url

# The session app runs with rate limits off; these tests build their own apps.
HIGH = "1000/minute"


def _login_statuses(clients, emails, ips=None, password="not the password") -> list[int]:
    statuses = []
    tokens = {id(client): csrf(client) for client in clients}
    for n, email in enumerate(emails):
        client = clients[n % len(clients)]
        ip = ips[n] if ips else None
        statuses.append(login(client, email, password, ip=ip, token=tokens[id(client)]).status_code)
    return statuses


def test_login_limit_is_shared_by_two_app_instances_through_redis(app, database_url):
    """Two app instances (two nodes) on one Redis count login attempts together: with
    a per-IP limit of 4, the fifth attempt is refused though the instance that gets
    it has seen only two before, so its own count alone would have let it through."""
    url = redis_url()
    store = redis.Redis.from_url(url)
    store.flushdb()
    settings = {
        "CIAM_REDIS_URL": url,
        "CIAM_LOGIN_RATE_LIMIT": "4/minute",
        "CIAM_LOGIN_ACCOUNT_RATE_LIMIT": HIGH,
    }
    try:
        with extra_app(database_url, **settings) as one, extra_app(database_url, **settings) as two:
            assert one.config["RATELIMIT_STORAGE_URI"] == url
            clients = [one.test_client(), two.test_client()]
            emails = [f"nobody{n}@example.test" for n in range(5)]
            assert _login_statuses(clients, emails) == [401, 401, 401, 401, 429]
            assert store.dbsize() > 0
            assert (
                login(clients[1], "again@example.test", token=csrf(clients[1])).status_code == 429
            )
    finally:
        store.flushdb()
        store.close()


def test_per_ip_login_limit(app, database_url):
    """CIAM_LOGIN_RATE_LIMIT: one IP trying many accounts is stopped; another IP is not."""
    with extra_app(
        database_url, CIAM_LOGIN_RATE_LIMIT="3/minute", CIAM_LOGIN_ACCOUNT_RATE_LIMIT=HIGH
    ) as limited:
        client = limited.test_client()
        emails = [f"person{n}@example.test" for n in range(4)]
        ips = ["198.51.100.7"] * 4
        assert _login_statuses([client], emails, ips) == [401, 401, 401, 429]
        assert login(client, "person9@example.test", ip="198.51.100.8").status_code == 401


def test_per_account_login_limit_is_independent_of_ip(app, database_url, make, monkeypatch):
    """CIAM_LOGIN_ACCOUNT_RATE_LIMIT: guesses at one account from ever new IPs are
    stopped, keyed by the normalized email; other accounts from those IPs are not."""
    user = make.user("pat@example.test")
    with extra_app(
        database_url,
        CIAM_LOGIN_RATE_LIMIT=HIGH,
        CIAM_LOGIN_ACCOUNT_RATE_LIMIT="3/minute",
        CIAM_LOCKOUT_THRESHOLD=100,
    ) as limited:
        client = limited.test_client()
        emails = ["Pat@Example.test", " pat@example.test", "PAT@example.TEST", user.email]
        ips = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
        assert _login_statuses([client], emails, ips) == [401, 401, 401, 429]
        # Once the failures are used up, even the right password waits (NIST 800-63B
        # §5.2.2: the throttle follows failed attempts, then holds for the account).
        assert login(client, user.email, ip="203.0.113.5").status_code == 429
        assert login(client, "someone@example.test", ip="203.0.113.4").status_code == 401


def test_per_account_limit_treats_unknown_emails_alike(app, database_url):
    """The per-account limit is keyed by what was typed, so an email without an
    account is throttled exactly like one with an account (no enumeration)."""
    with extra_app(
        database_url, CIAM_LOGIN_RATE_LIMIT=HIGH, CIAM_LOGIN_ACCOUNT_RATE_LIMIT="2/minute"
    ) as limited:
        client = limited.test_client()
        emails = ["ghost@example.test"] * 3
        ips = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
        assert _login_statuses([client], emails, ips) == [401, 401, 429]


def test_rate_limited_login_shows_a_readable_page(app, database_url):
    """People get a 429 page that says what happened and when to retry, not JSON or
    a stack trace; Retry-After tells browsers and scripts how long to wait."""
    with extra_app(
        database_url, CIAM_LOGIN_RATE_LIMIT="1/minute", CIAM_LOGIN_ACCOUNT_RATE_LIMIT=HIGH
    ) as limited:
        client = limited.test_client()
        token = csrf(client)
        login(client, "a@example.test", token=token)
        response = login(client, "b@example.test", token=token)
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<h1>Too many attempts</h1>" in html and "try again" in html
    assert 0 < int(response.headers["Retry-After"]) <= 60


def _token_request(client, ip: str):
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_token_endpoint_limit_per_client_ip_answers_json(app, database_url):
    """CIAM_TOKEN_RATE_LIMIT: past the limit, /oauth/token answers 429 with RFC 6749
    style JSON (`slow_down`), no-store and Retry-After; another IP is served."""
    with extra_app(database_url, CIAM_TOKEN_RATE_LIMIT="3/minute") as limited:
        client = limited.test_client()
        errors = [_token_request(client, "192.0.2.50").json["error"] for _ in range(3)]
        assert errors == ["invalid_client"] * 3  # refused, and counted all the same
        refused = _token_request(client, "192.0.2.50")
        other = _token_request(client, "192.0.2.51")
    assert refused.status_code == 429
    assert refused.json["error"] == "slow_down"
    assert "error_description" in refused.json
    assert refused.headers["Cache-Control"] == "no-store"
    assert int(refused.headers["Retry-After"]) > 0
    assert other.json["error"] == "invalid_client"


DEFAULTS = {
    "CIAM_LOGIN_RATE_LIMIT": "20/minute;200/hour",
    "CIAM_LOGIN_ACCOUNT_RATE_LIMIT": "10/minute",
    "CIAM_LOGIN_ATTEMPTS_RATE_LIMIT": "600/minute",
    "CIAM_TOKEN_RATE_LIMIT": "600/minute",
}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_rate_limit_defaults(ctx, name):
    """Defaults: 20 failed sign-ins a minute per IP and 10 per account, 600 sign-in
    attempts of any outcome a minute per IP, 600 token requests a minute per IP."""
    assert ctx.config[name] == DEFAULTS[name]


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_correct_sign_ins_are_never_counted_at_default_settings(app, database_url, make, storage):
    """Issue 11 defect 1: with the default limits, 200 right sign-ins from one IP
    (an office behind one NAT, a certification lab) within a minute all succeed;
    only failures use up the per-IP and per-account limits (NIST 800-63B §5.2.2).
    Then the failure limits still bite: the 21st failure from that IP is refused."""
    settings = {} if storage == "memory" else {"CIAM_REDIS_URL": redis_url()}
    if settings:
        redis.Redis.from_url(settings["CIAM_REDIS_URL"]).flushdb()
    user = make.user("office@example.test")
    with extra_app(database_url, CIAM_LOCKOUT_THRESHOLD=100, **settings) as defaults:
        client = defaults.test_client()
        ip = "198.51.100.99"
        # Each sign-in starts a fresh flow cookie (new CSRF secret): login() fetches
        # the form anew every time, as a browser would.
        statuses = {login(client, user.email, ip=ip).status_code for _ in range(200)}
        assert statuses == {303}
        wrong = [f"stranger{n}@example.test" for n in range(21)]
        assert _login_statuses([client], wrong, [ip] * 21) == [401] * 20 + [429]
    if settings:
        redis.Redis.from_url(settings["CIAM_REDIS_URL"]).flushdb()


def test_account_failure_limit_ignores_right_passwords(app, database_url, make):
    """Right passwords do not use up the per-account limit either: 30 sign-ins of
    one person, then 10 wrong guesses at that account from ever new IPs are all
    answered 401, and the 11th is refused."""
    user = make.user("busy@example.test")
    with extra_app(database_url, CIAM_LOCKOUT_THRESHOLD=100) as defaults:
        client = defaults.test_client()
        assert {login(client, user.email).status_code for _ in range(30)} == {303}
        ips = [f"203.0.113.{n}" for n in range(11)]
        statuses = _login_statuses([client], [user.email] * 11, ips)
        assert statuses == [401] * 10 + [429]


def test_every_attempt_ceiling_per_ip(app, database_url, make):
    """CIAM_LOGIN_ATTEMPTS_RATE_LIMIT caps sign-ins of any outcome per IP: past it,
    even right passwords are refused until the window ends."""
    user = make.user("flood@example.test")
    with extra_app(database_url, CIAM_LOGIN_ATTEMPTS_RATE_LIMIT="5/minute") as limited:
        client = limited.test_client()
        statuses = [login(client, user.email).status_code for _ in range(6)]
    assert statuses == [303] * 5 + [429]


def test_a_second_app_does_not_switch_limits_on_for_the_first(app, client, database_url):
    """flask-limiter keeps its switch and storage on one shared object; ciam keeps
    them per app, so building a rate-limited app leaves the test app unlimited."""
    with extra_app(database_url, CIAM_LOGIN_RATE_LIMIT="1/minute"):
        token = csrf(client)
        statuses = {login(client, f"p{n}@example.test", token=token).status_code for n in range(3)}
    assert statuses == {401}


@pytest.fixture
def token_limit_on_redis(database_url):
    """An app counting CIAM_TOKEN_RATE_LIMIT=3/minute in the test Redis, and that Redis."""
    url = redis_url()
    store = redis.Redis.from_url(url)
    store.flushdb()
    try:
        with extra_app(database_url, CIAM_REDIS_URL=url, CIAM_TOKEN_RATE_LIMIT="3/minute") as app:
            yield app, store
    finally:
        store.flushdb()
        store.close()


def _window(app, ip: str):
    from ciam.extensions import limiter
    from ciam.ratelimit import _item, token_limit

    with app.app_context():
        return limiter.limiter.get_window_stats(_item(token_limit()), "token", ip)


def test_token_limit_counts_in_limits_own_redis_window(token_limit_on_redis):
    """ratelimit._redis_incr writes the counter flask-limiter reads (same key, same
    expiry): its window stats see each request, and the fourth is refused."""
    app, store = token_limit_on_redis
    client = app.test_client()
    remaining = []
    for _ in range(3):
        _token_request(client, "192.0.2.70")
        remaining.append(_window(app, "192.0.2.70").remaining)
    refused = _token_request(client, "192.0.2.70")
    assert remaining == [2, 1, 0]
    assert refused.status_code == 429
    (key,) = store.keys("LIMITS:*192.0.2.70*")
    assert 0 < store.ttl(key) <= 60  # the window expires like limits' own


def test_token_limit_survives_a_script_flush_and_a_dropped_connection(token_limit_on_redis):
    """When Redis has forgotten the Lua script (SCRIPT FLUSH, a restart) or closed
    the connection, the request is counted through limits, which reloads and
    reconnects: nothing goes uncounted."""
    app, store = token_limit_on_redis
    client = app.test_client()
    _token_request(client, "192.0.2.71")
    store.script_flush()
    _token_request(client, "192.0.2.71")
    store.client_kill_filter(_type="normal", skipme=True)
    _token_request(client, "192.0.2.71")
    assert _window(app, "192.0.2.71").remaining == 0
    assert _token_request(client, "192.0.2.71").status_code == 429


def test_each_thread_counts_on_a_connection_of_its_own(token_limit_on_redis):
    """ratelimit._thread_connection: a redis-py connection is not thread-safe, so
    threads (granian's, gthread's) never share one; a thread keeps its own."""
    from ciam.extensions import limiter
    from ciam.ratelimit import _thread_connection

    app, _ = token_limit_on_redis
    with app.app_context():
        pool = limiter.limiter.storage.storage.connection_pool
    mine = _thread_connection(pool)
    seen = []
    worker = threading.Thread(target=lambda: seen.append(_thread_connection(pool)))
    worker.start()
    worker.join()
    assert _thread_connection(pool) is mine
    assert seen[0] is not mine
