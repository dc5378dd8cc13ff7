"""API errors: `{"error": code, "message": text, "details": {...}}` (DESIGN §5.6, §6).

Registered on every API blueprint, so errors raised by API views (domain errors,
argument validation by webargs, a body too large) get this shape with `details`
always present, while the rest of the app keeps its own handlers (pages for people).
"""

from __future__ import annotations

import marshmallow as ma
from flask import jsonify
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from ciam.errors import CiamError
from ciam.extensions import db


class ApiErrorSchema(ma.Schema):
    """The body of every API error (documentation; responses are built below)."""

    error = ma.fields.String(metadata={"description": "Stable machine-readable code."})
    message = ma.fields.String(metadata={"description": "Text for people."})
    details = ma.fields.Dict(metadata={"description": "What was wrong, field by field."})


def error_response(status: int, code: str, message: str, details: dict | None = None):
    response = jsonify({"error": code, "message": message, "details": details or {}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _domain_error(error: CiamError):
    db.session.rollback()
    response = error_response(error.status, error.code, error.message, error.details)
    retry_after = error.details.get("retry_after") if error.details else None
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _http_error(error: HTTPException):
    db.session.rollback()
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if "messages" in data:
        # webargs: the body or query did not load (bad JSON, wrong types, unknown
        # fields); its messages say where, e.g. {"json": {"email": ["..."]}}.
        code = "invalid_json" if status == 400 else "validation_error"
        message = (
            "The request body is not valid JSON."
            if status == 400
            else ("The request is not valid; see details.")
        )
        return error_response(status, code, message, data["messages"])
    code = (error.name or "error").lower().replace(" ", "_")
    response = error_response(status, code, error.description or error.name)
    valid_methods = getattr(error, "valid_methods", None)  # werkzeug's MethodNotAllowed
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


def register_api_errors(bp: Blueprint) -> None:
    bp.register_error_handler(CiamError, _domain_error)
    bp.register_error_handler(HTTPException, _http_error)
