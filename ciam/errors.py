"""Domain exceptions, and their translation at the edge.

DESIGN §5.6: OAuth endpoints answer RFC 6749 JSON, the API answers
`{"error": code, "message": text, "details": {...}}`, pages show a readable message.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from ciam.extensions import db
from ciam.negotiation import wants_json

log = logging.getLogger(__name__)


class ConfigError(RuntimeError):
    """The server cannot start with this configuration."""


class CiamError(Exception):
    """A domain rule refused the action. `code` is stable, `message` is for people."""

    code = "invalid_request"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class NotFound(CiamError):
    code = "not_found"
    status = 404


class Conflict(CiamError):
    code = "conflict"
    status = 409


class Forbidden(CiamError):
    code = "forbidden"
    status = 403


def _json_error(code: str, message: str, status: int, details: dict | None = None):
    body: dict[str, Any] = {"error": code, "message": message, "error_description": message}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_error(title: str, message: str, status: int):
    return render_template("error.html", title=title, message=message), status


def handle_ciam_error(error: CiamError):
    db.session.rollback()
    if wants_json():
        return _json_error(error.code, error.message, error.status, error.details)
    return _page_error("Something is not right", error.message, error.status)


def handle_http_error(error: HTTPException):
    status = error.code or 500
    if wants_json():
        code = (error.name or "error").lower().replace(" ", "_")
        response = _json_error(code, error.description or error.name, status)
    else:
        response = make_response(_page_error(error.name, error.description or "", status))
    valid_methods = getattr(error, "valid_methods", None)  # werkzeug's MethodNotAllowed
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_error(error)
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    message = "The server could not complete the request. It has been logged."
    if wants_json():
        return _json_error("server_error", message, 500)
    return _page_error("Server error", message, 500)


def setup_errors(app: Flask) -> None:
    app.register_error_handler(CiamError, handle_ciam_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
