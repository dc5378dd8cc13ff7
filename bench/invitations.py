"""Benchmark scenario: one invitation batch from the CRM, end to end.

Posts one batch of N invitations (10,000 by default) to a running ciam with a
client-credentials token, measures

- accept time: from sending the request to receiving its 202 (validation and
  storage of the whole batch, in the request path), and
- processing time: from the 202 until the batch reads `done`, while a `ciam worker`
  (started by the caller) creates the invitations and queues their emails,

then checks the result: the batch counts (N created, none existing or failed), every
invitation of the batch listed through the paginated API, each pending with exactly
one email sent, and, given a PostgreSQL DSN, exactly one `email` outbox row per
invitation in the database.

Standalone: python -m bench.invitations --base-url http://127.0.0.1:8000 \
    --client-id ID --client-secret SECRET --org acme [--count 10000] [--dsn ...]

The client needs `--grant client_credentials --scope invitations:write --scope
invitations:read`; the organization must exist (`ciam orgs create`).
"""

from __future__ import annotations

import argparse
import json
import secrets
import time

import requests

from bench.oidc import CheckFailed, check

TIMEOUT = 120  # seconds for one HTTP request (the batch POST carries a few MB)
PAGE = 200  # the API's largest page


def _token(http: requests.Session, base_url: str, client_id: str, client_secret: str) -> str:
    meta = http.get(base_url + "/.well-known/openid-configuration", timeout=TIMEOUT)
    check(meta.status_code == 200, f"discovery answered {meta.status_code}")
    response = http.post(
        meta.json()["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "invitations:write invitations:read"},
        auth=(client_id, client_secret),
        timeout=TIMEOUT,
    )
    check(response.status_code == 200, f"token endpoint answered {response.status_code}")
    return response.json()["access_token"]


def _items(count: int, tag: str, domain: str) -> list[dict]:
    # A fresh tag per run: a rerun against the same database must create, not find.
    return [
        {
            "email": f"bench-{tag}-{n}@{domain}",
            "business_roles": ["bench-reader"],
            "crm_contact_id": f"003{tag}{n:08d}",
            "given_name": "Bench",
            "family_name": f"Person {n}",
        }
        for n in range(count)
    ]


def _list_batch(http: requests.Session, base_url: str, headers: dict, batch_id: str) -> list:
    items, cursor = [], None
    while True:
        params = {"batch_id": batch_id, "limit": PAGE}
        if cursor:
            params["cursor"] = cursor
        page = http.get(
            base_url + "/api/v1/invitations", params=params, headers=headers, timeout=TIMEOUT
        )
        check(page.status_code == 200, f"listing answered {page.status_code}: {page.text[:200]}")
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


def _outbox_emails(dsn: str, batch_id: str) -> tuple[int, int]:
    """(email rows, distinct invitations among them) for this batch, from PostgreSQL."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT o.aggregate_id) FROM outbox_messages o "
            "JOIN invitations i ON o.aggregate_id = i.id::text "
            "WHERE o.kind = 'email' AND i.batch_id = %s",
            (batch_id,),
        ).fetchone()
    return row[0], row[1]


def run_invitation_batch(
    base_url: str,
    client_id: str,
    client_secret: str,
    org: str,
    *,
    count: int = 10_000,
    timeout: float = 1800.0,
    poll_interval: float = 0.2,
    domain: str = "bench.example",
    dsn: str | None = None,
    session: requests.Session | None = None,
) -> dict:
    """Post one batch of `count` invitations into `org` and time it; check the result.

    base_url: ciam's issuer URL, e.g. "http://127.0.0.1:8000" (no trailing slash).
    client_id / client_secret: a client_credentials client holding the scopes
        invitations:write and invitations:read.
    org: slug of an existing, active organization.
    count: invitations in the batch (at most the server's CIAM_INVITATION_BATCH_MAX).
    timeout: seconds to wait for the batch to be done (a `ciam worker` must run).
    poll_interval: seconds between two reads of the batch status.
    domain: email domain of the generated addresses (not a webmail domain).
    dsn: optional PostgreSQL DSN of ciam's database (psycopg form, e.g.
        "postgresql://postgres@127.0.0.1:5432/ciam"): also count the email outbox
        rows of the batch there.
    session: optional requests.Session to reuse.

    Returns a dict: batch_id, count, request_bytes, accept_seconds (request sent to
    202 received), processing_seconds (202 to status done), total_seconds,
    items_per_second (count / processing_seconds), created, existing, failed,
    listed (invitations of the batch read back through the API), emails_sent (sum
    of their `sends`), outbox_emails (when dsn is given, else None).

    Raises bench.oidc.CheckFailed when an answer is wrong or the batch is not done
    within `timeout`.
    """
    base_url = base_url.rstrip("/")
    http = session or requests.Session()
    headers = {"Authorization": f"Bearer {_token(http, base_url, client_id, client_secret)}"}
    tag = secrets.token_hex(4)
    body = json.dumps({"org": org, "invitations": _items(count, tag, domain)}).encode()

    started = time.perf_counter()
    response = http.post(
        base_url + "/api/v1/invitations/batch",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    accepted = time.perf_counter()
    check(response.status_code == 202, f"batch: {response.status_code} {response.text[:300]}")
    batch = response.json()
    check(batch["total"] == count, f"batch total {batch['total']} != {count}")
    location = response.headers.get("Location", "")
    check(location.endswith(f"/api/v1/invitations/batches/{batch['id']}"), f"Location {location!r}")
    status_url = location if location.startswith("http") else base_url + location

    deadline = accepted + timeout
    while True:
        if time.perf_counter() > deadline:
            raise CheckFailed(f"batch {batch['id']} not done after {timeout} s: {batch}")
        status = http.get(status_url, headers=headers, timeout=TIMEOUT)
        if status.status_code == 401:  # the 10-minute token ran out during a long run
            headers = {
                "Authorization": f"Bearer {_token(http, base_url, client_id, client_secret)}"
            }
            continue
        check(status.status_code == 200, f"batch status answered {status.status_code}")
        batch = status.json()
        if batch["status"] == "done":
            break
        time.sleep(poll_interval)
    done = time.perf_counter()

    check(batch["processed"] == count, f"processed {batch['processed']} != {count}")
    check(
        (batch["created"], batch["existing"], batch["failed"]) == (count, 0, 0),
        f"counts created/existing/failed {batch['created']}/{batch['existing']}/"
        f"{batch['failed']}, errors {batch['errors'][:3]}",
    )
    headers = {"Authorization": f"Bearer {_token(http, base_url, client_id, client_secret)}"}
    listed = _list_batch(http, base_url, headers, batch["id"])
    check(len(listed) == count, f"listed {len(listed)} invitations, expected {count}")
    check(len({i["id"] for i in listed}) == count, "an invitation was listed twice")
    expected = {f"bench-{tag}-{n}@{domain}" for n in range(count)}
    check({i["email"] for i in listed} == expected, "listed addresses differ from those posted")
    check(all(i["status"] == "pending" for i in listed), "an invitation is not pending")
    check(all(i["sends"] == 1 for i in listed), "an invitation was not emailed exactly once")
    outbox = None
    if dsn:
        rows, distinct = _outbox_emails(dsn, batch["id"])
        check(rows == distinct == count, f"outbox has {rows} emails for {distinct} of {count}")
        outbox = rows

    processing = done - accepted
    return {
        "batch_id": batch["id"],
        "count": count,
        "request_bytes": len(body),
        "accept_seconds": round(accepted - started, 3),
        "processing_seconds": round(processing, 3),
        "total_seconds": round(done - started, 3),
        "items_per_second": round(count / processing, 1) if processing > 0 else None,
        "created": batch["created"],
        "existing": batch["existing"],
        "failed": batch["failed"],
        "listed": len(listed),
        "emails_sent": sum(i["sends"] for i in listed),
        "outbox_emails": outbox,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.invitations", description=__doc__)
    p.add_argument("--base-url", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--org", required=True)
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--dsn", help="PostgreSQL DSN of ciam's database, to count outbox rows")
    args = p.parse_args(argv)
    result = run_invitation_batch(
        args.base_url,
        args.client_id,
        args.client_secret,
        args.org,
        count=args.count,
        timeout=args.timeout,
        dsn=args.dsn,
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
