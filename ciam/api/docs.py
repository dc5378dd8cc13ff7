"""The API reference page at /api/v1/docs (DESIGN §6), which the discovery
document's `service_documentation` names.

flask-smorest's own reference pages (ReDoc, Swagger UI, RapiDoc) load their script
from a CDN and start it with an inline script, which our Content-Security-Policy
(`script-src 'self'`, no inline script) refuses. This page is rendered on the
server from the same OpenAPI document, so it needs neither and cannot drift from
the code either.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask_smorest import Api

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def operations(spec: dict) -> list[dict]:
    """Every operation of an OpenAPI document, in path order."""
    found = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [p for p in operation.get("parameters", []) if "name" in p],
                    "responses": sorted(operation.get("responses", {}).items()),
                }
            )
    return found


def register_docs(app: Flask, api: Api, url_prefix: str) -> None:
    """Serve the reference of `api` at `url_prefix`/docs (public: it holds no data)."""
    bp = Blueprint("api_docs", __name__)

    @bp.get("/docs")
    def reference():
        spec = api.spec.to_dict()
        return render_template(
            "api/docs.html",
            info=spec.get("info", {}),
            operations=operations(spec),
            openapi_url=url_prefix + "/openapi.json",
        )

    app.register_blueprint(bp, url_prefix=url_prefix)
