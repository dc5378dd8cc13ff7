"""ciam.hotsql: the per-thread autocommit PostgreSQL connections of the hot paths."""

from __future__ import annotations

import psycopg
import pytest

from ciam import hotsql
from ciam.extensions import db
from ciam.hotsql import HOT_SQL
from tests.conftest import require_service

_SETTING = db.select(db.func.current_setting(db.bindparam("name")).label("value"))


@pytest.fixture
def hot(app):
    require_service(HOT_SQL in app.extensions, "hot connections need PostgreSQL")
    with app.app_context():
        yield app.extensions[HOT_SQL]


def test_statements_run_in_utc_with_durable_commits(hot):
    """Timestamps come back in UTC whatever the server's zone, and commits wait for
    the WAL (a rotated refresh token must stay rotated after a crash)."""
    assert hotsql.first(_SETTING, {"name": "TimeZone"}).value == "UTC"
    assert hotsql.first(_SETTING, {"name": "synchronous_commit"}).value == "on"


def test_connections_are_reused_never_shared_and_bounded(hot):
    """Statements running at once (threads of a gthread or granian worker) get
    different connections; a returned one is reused; idle ones beyond MAX_IDLE are
    closed, so a server that starts a thread per request cannot pile them up."""
    hot.close()
    held = [hot.checkout() for _ in range(hot.MAX_IDLE + 2)]
    assert len({id(conn) for conn in held}) == len(held)
    for conn in held:
        hot.checkin(conn)
    assert sum(not conn.closed for conn in held) == hot.MAX_IDLE
    again = hot.checkout()
    assert any(again is conn for conn in held)
    hot.checkin(again)


def test_a_connection_left_in_a_transaction_is_not_reused(hot):
    """Only a connection with no transaction open goes back to the free list."""
    conn = hot.checkout()
    conn.execute("BEGIN")
    hot.checkin(conn)
    assert conn.closed


def test_a_read_survives_a_connection_the_server_closed(hot):
    """A connection PostgreSQL terminated (restart, idle timeout) is replaced, and a
    read is tried once more on the new one: the request does not fail."""
    pid = hotsql.first(db.select(db.func.pg_backend_pid().label("pid")), {}).pid
    with psycopg.connect(_admin_url(hot), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    row = hotsql.first(db.select(db.func.pg_backend_pid().label("pid")), {})
    assert row.pid != pid


def test_a_write_on_a_closed_connection_is_not_retried(hot):
    """A write may have committed before its connection broke, so it is not sent
    twice: the error surfaces, and the next statement gets a new connection."""
    pid = hotsql.first(db.select(db.func.pg_backend_pid().label("pid")), {}).pid
    with psycopg.connect(_admin_url(hot), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    write = db.text("CREATE TEMP TABLE hotsql_probe (x int)")
    with pytest.raises(psycopg.OperationalError):
        hotsql.first(write, {})
    assert hotsql.first(db.select(db.func.pg_backend_pid().label("pid")), {}).pid != pid


def test_switched_off_the_same_statements_run_through_sqlalchemy(app):
    """CIAM_DB_HOT_CONNECTIONS=0 (a pooler without prepared statements), or SQLite:
    hotsql.first runs the statement through SQLAlchemy and answers the same."""
    hot = app.extensions.pop(HOT_SQL, None)
    try:
        with app.app_context():
            assert not hotsql.enabled()
            row = hotsql.first(db.select((db.literal(41) + 1).label("n")), {})
            assert row.n == 42
    finally:
        if hot is not None:
            app.extensions[HOT_SQL] = hot


def _admin_url(hot) -> str:
    return hot._conninfo()


# The rotation's lookup (ciam.oidc.refresh_tokens._ROTATE), as a statement PREPARE can type.
_CLAIM = (
    "UPDATE tokens SET refresh_used_at = $1 WHERE refresh_token_hash = $2"
    " AND client_id = $3 AND refresh_used_at IS NULL AND refresh_expires_at > $1"
)


def _generic_plan(conn: psycopg.Connection) -> str:
    conn.execute("ANALYZE tokens")  # the statistics of a (nearly) empty table
    conn.execute("SET plan_cache_mode = force_generic_plan")
    try:
        conn.execute(f"PREPARE claim_plan AS {_CLAIM}")
        rows = conn.execute("EXPLAIN EXECUTE claim_plan(now(), 'h', 'c')").fetchall()
        conn.execute("DEALLOCATE claim_plan")
    finally:
        conn.execute("RESET plan_cache_mode")
    return "\n".join(row[0] for row in rows)


def test_a_cached_plan_built_on_a_small_table_still_uses_the_index(hot):
    """PostgreSQL caches a generic plan for a prepared statement, built with the
    statistics of that moment. On a new install every table is small, and such a
    plan read the table sequentially for ever after (a refresh went from 0.5 to 4 ms
    of database time within a minute). The hot connections keep the index lookup."""
    conn = hot.checkout()
    try:
        plan = _generic_plan(conn)
    finally:
        hot.checkin(conn)
    assert "Seq Scan" not in plan, plan
    assert "Index Scan" in plan, plan
