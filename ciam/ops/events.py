"""What an audit event adds to the metrics and the log (ciam.audit.services calls
observe_audit_event for each event it builds): a count by tag and one line naming
the tag and the ids of who acted on behalf of which portal, never the event's data."""

from __future__ import annotations

from ciam.ops.logs import REQUEST_ID, SINK
from ciam.ops.metrics import AUDIT_EVENTS

# Prebuilt label children, one per tag: .labels() hashes and locks on every call.
_BY_TAG: dict = {}


def observe_audit_event(values: dict) -> None:
    tag = values["tag"]
    child = _BY_TAG.get(tag)
    if child is None:
        child = _BY_TAG[tag] = AUDIT_EVENTS.labels(tag)
    child.inc()
    SINK.fields(
        "info",
        {
            "event": "audit",
            "tag": tag,
            "request_id": REQUEST_ID.get(),
            "actor_id": values["actor_id"],
            "client_id": values["client_id"],
        },
    )
