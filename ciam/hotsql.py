"""One-round-trip SQL for the hot OAuth paths (token, userinfo, introspection).

DESIGN §7 keeps these paths free of ORM sessions. Even SQLAlchemy Core costs too
much there: building and caching the statement, processing parameters and rows and
checking a connection out of the pool (with its reset on return) took ~0.3-0.6 ms
of CPU per statement on the benchmark machine, against ~0.1 ms for the same
statement sent by psycopg itself, and these endpoints run one statement each.
No library does "a prepared statement on a long-lived autocommit connection per
thread" for us, hence this module.

On PostgreSQL each process keeps a few autocommit psycopg connections of its own
(HotConnections). Statements are SQLAlchemy Core objects
built once at import, compiled once per process into SQL text, and sent with
psycopg's automatic server-side preparation. Every statement is its own
transaction, committed before `first()` returns: a hot path that needs two
writes to be atomic writes them as one statement (a CTE).

On any other database (SQLite, the laptop default) the same statement objects run
through SQLAlchemy on an autocommit connection: slower, the same results.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any, cast

import psycopg
from flask import Flask, current_app
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.rows import namedtuple_row
from psycopg.types.json import Json
from sqlalchemy import JSON
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from ciam.extensions import db

HOT_SQL = "ciam.hotsql"


class _Compiled:
    """A statement's PostgreSQL text and which of its parameters are JSON."""

    __slots__ = ("json_params", "sql")

    def __init__(self, statement: ClauseElement, dialect) -> None:
        # A DML or SELECT statement compiles with the dialect's SQLCompiler.
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = str(compiled)
        self.json_params = frozenset(
            name for name, bind in compiled.binds.items() if isinstance(bind.type, JSON)
        )


_COMPILED: dict[int, _Compiled] = {}


def compiled_for_psycopg(statement: ClauseElement, dialect) -> _Compiled:
    """A prebuilt statement (a module-level constant: cached by identity) as
    PostgreSQL text for psycopg, compiled once per process. Also used by the login
    path's pipelined writes (ciam.accounts.sessions.writes.write_together)."""
    found = _COMPILED.get(id(statement))
    if found is None:
        found = _COMPILED[id(statement)] = _Compiled(statement, dialect)
    return found


def psycopg_params(compiled: _Compiled, params: Mapping[str, Any]) -> dict:
    """The parameters for psycopg, JSON ones wrapped (psycopg adapts no dict alone)."""
    if not compiled.json_params:
        return dict(params)
    return {
        name: Json(value) if name in compiled.json_params and value is not None else value
        for name, value in params.items()
    }


# enable_seqscan=off: every statement here is a lookup by a unique or indexed key,
# and psycopg prepares it; PostgreSQL then caches a generic plan, built once with
# the statistics of that moment. Built while a table is small (a new install, or
# before autovacuum analyzed it), that plan read the table sequentially, and kept
# doing so as the table grew: measured, a refresh rotation went from 0.5 to 4 ms
# of database time within a minute on a new database (tests/test_hotsql.py). Off
# only makes a sequential scan the planner's last resort on these connections.
SESSION_OPTIONS = "-c timezone=UTC -c enable_seqscan=off"


class HotConnections:
    """A small free list of autocommit psycopg connections to the app's PostgreSQL.

    Each statement takes an idle connection (or opens one), runs, and gives it
    back, so a sync worker uses one connection and a threaded one as many as it
    runs statements at once; more than MAX_IDLE idle connections are closed.
    Why not psycopg_pool: its checkout and return (with their checks and
    background threads) cost more than the statement's own CPU here."""

    MAX_IDLE = 4

    def __init__(self) -> None:
        self._url: str | None = None  # read from the engine on first use
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection] = []
        self._pid = os.getpid()
        # A forked child never touches its parent's sockets: it keeps a reference
        # to them (so that garbage collection does not end them for the parent too).
        self._inherited: list[psycopg.Connection] = []

    def _conninfo(self) -> str:
        if self._url is None:
            url = db.engine.url.set(drivername="postgresql")
            self._url = url.render_as_string(hide_password=False)
        return self._url

    def checkout(self) -> psycopg.Connection:
        with self._lock:
            if self._pid != os.getpid():
                self._inherited += self._idle
                self._idle, self._pid = [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = psycopg.connect(
                self._conninfo(),
                autocommit=True,
                options=SESSION_OPTIONS,
                row_factory=namedtuple_row,
            )
        return conn

    def checkin(self, conn: psycopg.Connection) -> None:
        if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
            with self._lock:
                if self._pid == os.getpid() and len(self._idle) < self.MAX_IDLE:
                    self._idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def first(statement: ClauseElement, params: Mapping[str, Any]):
    """Run one prebuilt statement as its own transaction; return its first row
    (attribute access by column label) or None."""
    hot: HotConnections | None = current_app.extensions.get(HOT_SQL)
    if hot is None:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            result = conn.execute(cast(Executable, statement), dict(params))
            return result.first() if result.returns_rows else None
    compiled = compiled_for_psycopg(statement, db.engine.dialect)
    values = psycopg_params(compiled, params)
    try:
        return _run(hot, compiled.sql, values)
    except psycopg.OperationalError:
        # A connection the server closed (restart, idle timeout) was dropped; a read
        # is tried once more on a new one. A write is not: it may have committed
        # before the connection broke.
        if not getattr(statement, "is_select", False):
            raise
        return _run(hot, compiled.sql, values)


def _run(hot: HotConnections, sql: str, values: dict):
    conn = hot.checkout()
    try:
        cursor = conn.execute(sql, values)
        # Whether rows came back, from the result's status: `cursor.description`
        # would build a Column object per column (~50 µs for a 15-column row).
        result = cursor.pgresult
        return cursor.fetchone() if result and result.status == ExecStatus.TUPLES_OK else None
    except psycopg.OperationalError:
        conn.close()
        raise
    finally:
        hot.checkin(conn)


def enabled() -> bool:
    """Whether statements run on PostgreSQL through this module's connections."""
    return HOT_SQL in current_app.extensions


def setup_hotsql(app: Flask) -> None:
    postgresql = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    if postgresql and app.config["CIAM_DB_HOT_CONNECTIONS"]:
        app.extensions[HOT_SQL] = HotConnections()


def close_hotsql(app: Flask) -> None:
    hot = app.extensions.get(HOT_SQL)
    if hot is not None:
        hot.close()
