"""Jobs `ciam worker` runs now and then beside the outbox (the daily membership
sweep). Domains register them at setup; each worker runs each job when it starts
and then every `seconds`. Several workers may run the same job: jobs must be safe to
run twice (the sweep claims each row with a conditional UPDATE)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app

from ciam.extensions import db

log = logging.getLogger(__name__)
EXTENSION = "ciam.periodic"


@dataclass
class Job:
    name: str
    seconds: float
    run: Callable[[], object]
    next_at: float = field(default=0.0)


def register(app: Flask, name: str, seconds: float, run: Callable[[], object]) -> None:
    """`run` does its work in the app context and commits it."""
    app.extensions.setdefault(EXTENSION, {})[name] = Job(name, seconds, run)


def run_due(now: float | None = None) -> int:
    """Run the jobs whose time came; a failing job is logged and tried again at its
    next time, and never stops the worker. Returns how many ran."""
    now = time.monotonic() if now is None else now
    ran = 0
    for job in current_app.extensions.get(EXTENSION, {}).values():
        if now < job.next_at:
            continue
        job.next_at = now + job.seconds
        try:
            job.run()
        except Exception:
            db.session.rollback()
            log.exception("periodic job %s failed", job.name)
        ran += 1
    return ran
