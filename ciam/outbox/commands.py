"""`ciam worker`: send outbox messages (email, SMS, CRM pushes, webhooks)."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from ciam.outbox import periodic
from ciam.outbox.dispatch import dispatch_due


@click.command("worker")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls.")
@click.option("--batch", default=50, show_default=True)
@with_appcontext
def worker(once: bool, interval: float, batch: int) -> None:
    """Drain the outbox, and run the periodic jobs (the daily membership sweep).
    Several workers may run side by side on PostgreSQL."""
    while True:
        periodic.run_due()
        sent = dispatch_due(batch)
        if once:
            click.echo(f"{sent} message(s) processed")
            return
        if sent < batch:
            time.sleep(interval)
