"""What the request observer (ciam.ops.observer) costs per request, in process.

Calls the app's WSGI callable for GET /oauth/userinfo with a valid bearer token
(answered by the machine fast path, before Flask) with the observer and, calling
the middleware it wraps, without it; batches alternate, and the median of the
batch differences counts. Log lines go to /dev/null through the same line-buffered stream kind as
stderr, so each line still costs its write(2).

    .venv/bin/python -m bench.observer_cost [--requests 500] [--batches 60]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time

from ciam import create_app
from ciam.accounts.services import create_user
from ciam.extensions import db
from ciam.oidc import keys, portals, token_store
from ciam.ops.logs import SINK


def _app_and_token():
    directory = tempfile.mkdtemp(prefix="ciam-observer-bench-")
    os.environ["CIAM_DATABASE_URL"] = f"sqlite:///{directory}/bench.db"
    app = create_app({"SECRET_KEY": "bench-secret-key-" + "x" * 32, "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.create_all()
        keys.create_first_keys()
        user = create_user(
            "person@example.test", "quiet violet harbour lantern", email_verified=True
        )
        portal, _ = portals.create_portal(
            name="Bench", redirect_uris=["https://bench.example.test/cb"], first_party=True
        )
        context = token_store.IssueContext(family_id="bench", user_id=user.id)
        body, values = token_store.issue_values(portal, "openid profile email", context, False)
        token_store.insert_token(values)
        db.session.commit()
    return app, body["access_token"]


def _environ(token: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/oauth/userinfo",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
    }


def _per_request_us(wsgi, token: str, count: int) -> float:
    def start_response(status, headers, exc_info=None):
        assert status.startswith("200"), status

    started = time.thread_time()
    for _ in range(count):
        b"".join(wsgi(_environ(token), start_response))
    return (time.thread_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500, help="per batch")
    parser.add_argument("--batches", type=int, default=60)
    args = parser.parse_args()
    app, token = _app_and_token()
    SINK.stream = open(os.devnull, "w", buffering=1)  # noqa: SIM115 - for the whole run
    observer = app.extensions["ciam.ops.observer"]
    _per_request_us(observer, token, 2000)  # warm caches (keys, portal, label children)
    # Batches alternate, so a neighbour's load on this shared machine falls on both.
    with_observer, without = [], []
    for _ in range(args.batches):
        with_observer.append(_per_request_us(observer, token, args.requests))
        without.append(_per_request_us(observer.wsgi_app, token, args.requests))
    differences = [a - b for a, b in zip(with_observer, without, strict=True)]
    print(f"GET /oauth/userinfo (fast path), {args.batches} x {args.requests} each, median:")
    print(f"  without the observer {statistics.median(without):7.1f} µs/request")
    print(f"  with the observer    {statistics.median(with_observer):7.1f} µs/request")
    print(f"  observer cost        {statistics.median(differences):7.1f} µs/request")


if __name__ == "__main__":
    main()
