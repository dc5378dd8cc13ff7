"""Switching between the one-statement paths (ciam.hotsql, PostgreSQL) and the
session paths, for tests that run each behaviour on both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from ciam.hotsql import HOT_SQL


@contextmanager
def without_hot_sql(app: Flask) -> Iterator[None]:
    """The session paths: the app's hot connections are switched off meanwhile."""
    hot = app.extensions.pop(HOT_SQL, None)
    try:
        yield
    finally:
        if hot is not None:
            app.extensions[HOT_SQL] = hot
