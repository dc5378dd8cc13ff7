"""The Blueprint every API module uses: flask-smorest's, with our body parser and
`Cache-Control: no-store` on every answer.

- Bodies are parsed by webargs through `ARGUMENTS_PARSER`, so this is the one place
  where every JSON body of the API is read: a body nesting too deeply for Python's
  decoder is a 400 `invalid_json` like any other malformed body (ciam.jsonsafe),
  never a RecursionError and a 500.
- ASVS 5.0 V14.3.2: answers carrying personal data must not be kept by caches; every
  API answer gets `no-store` (the OpenAPI document is served by flask-smorest's own
  blueprint, not this one, and stays cacheable).
"""

from __future__ import annotations

import typing

import flask
from flask import Response
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from ciam import jsonsafe


class ApiParser(FlaskParser):
    """webargs' Flask parser, decoding JSON bodies with ciam.jsonsafe."""

    def load_json(self, req: flask.Request, schema) -> typing.Any:
        if not is_json_request(req):
            return core.missing
        body = req.get_data(cache=True)
        if not body:
            return core.missing  # as webargs: no body, the schema says what is required
        try:
            return jsonsafe.loads(body)
        except ValueError as error:  # JSONDecodeError, bad UTF-8 included
            abort(400, exc=error, messages={"json": [_reason(error)]})


def _reason(error: ValueError) -> str:
    if str(error).startswith(jsonsafe.TOO_DEEP):
        return jsonsafe.TOO_DEEP
    return "Invalid JSON body."


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = ApiParser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.after_request(_no_store)
