"""Helpers shared by the domain CLI commands: one transaction per command, domain
refusals shown as a clear message (never a traceback), and --json output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click

from ciam.errors import CiamError
from ciam.extensions import db


@contextmanager
def command_transaction() -> Iterator[None]:
    """Commit what the block did; a CiamError rolls it back and becomes the message."""
    try:
        yield
    except CiamError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def echo_pairs(data: dict) -> None:
    """One `name value` line per item; lists joined, dicts as `key: values`."""
    for name, value in data.items():
        if isinstance(value, dict):
            value = "; ".join(f"{k}: {' '.join(v)}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = " ".join(str(v) for v in value) or "-"
        click.echo(f"{name:20} {'-' if value is None else value}")
