"""Log lines: one per request (ciam.ops.requests), one per audit event
(ciam.ops.events), and what the modules log, all on one stream, JSON by default.

The request id of the request being served is in a context variable, so every line
written while it runs carries it, whoever writes it.

What never goes in a line: passwords, tokens, codes, secrets, links or one-time
codes. The request line names the route template, never the path or the query
(reset and invitation links carry their token in the path, the authorization
response its code in the query); an audit line names the tag and the ids, never the
event's data; the database hides statement parameters (ciam.config).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import TextIO

from flask import Flask

# Built once: json.dumps with arguments builds a new encoder on every call.
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode
REQUEST_ID: ContextVar[str | None] = ContextVar("ciam_request_id", default=None)


class LogSink:
    """Where the lines go: the process's stderr unless a test points it elsewhere.
    The request and event lines are written here directly, without a LogRecord:
    building one (caller lookup, thread and process names) costs more than the
    whole line (docs/benchmarks.md, "Request metrics and logs")."""

    def __init__(self) -> None:
        self.stream: TextIO | None = None  # None: sys.stderr as it is at write time
        self.json = True

    def write(self, line: str) -> None:
        # One write of the whole line: lines from threads do not interleave.
        (self.stream or sys.stderr).write(line + "\n")

    def fields(self, level: str, fields: dict) -> None:
        """One line of `fields` (a timestamp and the level first): a JSON object, or
        `key=value` pairs as text."""
        self.line({"ts": round(time.time(), 3), "level": level, **fields})

    def line(self, line: dict) -> None:
        """`line` as it is: the caller put "ts" and "level" in it."""
        if self.json:
            self.write(_ENCODE(line))
        else:
            self.write(" ".join(f"{key}={value}" for key, value in line.items()))


SINK = LogSink()


class SinkHandler(logging.Handler):
    """The `ciam` logger's handler: formats a record as the other lines are."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {
                "logger": record.name,
                "message": record.getMessage(),
                "request_id": REQUEST_ID.get(),
            }
            if record.exc_info:
                fields["exception"] = logging.Formatter().formatException(record.exc_info)
            SINK.fields(record.levelname.lower(), fields)
        except Exception:  # logging must never break the request
            self.handleError(record)


def setup_logging(app: Flask) -> None:
    """The `ciam` logger writes to the sink at CIAM_LOG_LEVEL, and does not pass its
    records on to the root logger: a server's own logging set-up (gunicorn's, say)
    would print them a second time, in another format."""
    SINK.json = app.config["CIAM_LOG_FORMAT"] == "json"
    logger = logging.getLogger("ciam")
    logger.setLevel(app.config["CIAM_LOG_LEVEL"])
    if not any(isinstance(handler, SinkHandler) for handler in logger.handlers):
        logger.addHandler(SinkHandler())
    logger.propagate = False
