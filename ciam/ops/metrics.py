"""The Prometheus metrics of ciam, defined once per process.

Under gunicorn or granian (several worker processes) set PROMETHEUS_MULTIPROC_DIR to
an empty directory before the server starts: prometheus-client then keeps each
worker's values in files there and a scrape adds them up (its "multiprocess mode";
`ciam serve` empties the directory before starting the server). Counters and
histograms only: they add up across processes without a per-gauge policy. The
outbox figures are read from the database at scrape time (OutboxCollector).

Labels are bounded: endpoint is a route template (never the raw path), status an
HTTP status the app answers, tag an AuditTag, grant an RFC 6749 grant type.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ciam.db import utcnow
from ciam.extensions import db
from ciam.outbox.models import OutboxMessage, OutboxStatus

REQUESTS = Counter(
    "ciam_http_requests",
    "HTTP requests answered, by route template and status.",
    ["endpoint", "status"],
)
LATENCY = Histogram(
    "ciam_http_request_duration_seconds",
    "Time from receiving a request to returning its answer, by route template.",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
# Sign-ins by outcome (account:login:success / failure, account:mfa:*), lockouts
# (account:locked), invitation batches (invitation:batch_queued / batch_done)...:
# one count per audit event, by its tag (ciam.audit.services.event_values).
AUDIT_EVENTS = Counter(
    "ciam_audit_events", "Audit events recorded, by tag (ciam.audit.tags).", ["tag"]
)
TOKENS = Counter(
    "ciam_tokens_issued", "Access tokens issued at /oauth/token, by grant type.", ["grant"]
)
# The CRM connector (ciam/crm/) does not exist yet: the metric is declared so that
# dashboards and alerts can be written against it; it stays at zero until then.
CRM_ERRORS = Counter("ciam_crm_errors", "Failed calls to the CRM, by operation.", ["operation"])


def count_token(grant: str) -> None:
    TOKENS.labels(grant).inc()


class OutboxCollector(Collector):
    """Pending outbox messages and the age of the oldest, per kind, read at scrape
    time (one GROUP BY on the status index): a stuck worker shows as a growing age."""

    def __init__(self, app) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "ciam_outbox_depth", "Outbox messages waiting to be sent, by kind.", labels=["kind"]
        )
        age = GaugeMetricFamily(
            "ciam_outbox_oldest_age_seconds",
            "Age of the oldest waiting outbox message, by kind.",
            labels=["kind"],
        )
        with self.app.app_context():
            for kind, count, oldest_age in pending_by_kind():
                depth.add_metric([kind], count)
                age.add_metric([kind], oldest_age)
            db.session.remove()
        yield depth
        yield age


def pending_by_kind() -> list[tuple[str, int, float]]:
    """(kind, pending messages, seconds since the oldest was queued), per kind."""
    query = (
        db.select(OutboxMessage.kind, db.func.count(), db.func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status == OutboxStatus.pending)
        .group_by(OutboxMessage.kind)
    )
    now = utcnow()
    return [
        (kind, count, max(0.0, (now - _aware(oldest)).total_seconds()))
        for kind, count, oldest in db.session.execute(query)
    ]


def _aware(moment: datetime) -> datetime:
    # MIN() keeps the column's type, which returns aware UTC values; a naive one
    # (a driver that drops the zone) is UTC all the same.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
