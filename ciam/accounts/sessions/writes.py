"""Several prebuilt writes in the request's transaction, in one round trip."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from sqlalchemy import UpdateBase
from sqlalchemy.exc import DBAPIError

from ciam import hotsql
from ciam.extensions import db

# A write: a prebuilt Core INSERT or UPDATE and the rows (parameter sets) it runs for.
Write = tuple[UpdateBase, Sequence[dict]]


def write_together(writes: Sequence[Write]) -> None:
    """Run these writes, in order, in the request's transaction (committed, or rolled
    back, with everything else the request did: DESIGN §5.2-5.3).

    On PostgreSQL (psycopg) they are sent in one pipeline: one round trip for all,
    and no SQLAlchemy execution overhead per statement. Each statement's SQL is
    compiled once per process. Every row must give every parameter of its statement
    (no column defaults are applied here): event_values, message_values and the
    login's own rows do. Anywhere else (SQLite) they run one by one through
    SQLAlchemy with the same rows.
    """
    connection = db.session.connection()
    driver = connection.connection.driver_connection
    if not isinstance(driver, psycopg.Connection) or not _PIPELINE_SUPPORTED:
        for statement, rows in writes:
            connection.execute(statement, list(rows))
        return
    try:
        with driver.cursor() as cursor, driver.pipeline():
            for statement, rows in writes:
                compiled = hotsql.compiled_for_psycopg(statement, connection.dialect)
                params = [hotsql.psycopg_params(compiled, row) for row in rows]
                if len(params) == 1:
                    cursor.execute(compiled.sql, params[0])
                else:
                    cursor.executemany(compiled.sql, params)
    except psycopg.Error as error:
        # As SQLAlchemy would raise it (IntegrityError, OperationalError...); the
        # transaction is failed and the request rolls it back.
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error


_PIPELINE_SUPPORTED = psycopg.Pipeline.is_supported()  # libpq 14 or later
