"""Operations: health probes, Prometheus metrics, structured logs, `ciam check`."""

from __future__ import annotations

from flask import Flask


def setup_ops(app: Flask) -> None:
    """Called last but one (before setup_proxies): the request observer then wraps
    every other middleware, the fast paths included, and sits inside ProxyFix."""
    from ciam.ops import check, exposition, logs, observer, views

    logs.setup_logging(app)
    app.register_blueprint(views.bp)
    app.cli.add_command(check.check)
    # First, so that a before_request function that answers (a rate limit, say)
    # does not leave the request without its route template.
    app.before_request_funcs.setdefault(None, []).insert(0, observer.remember_route)
    middleware = observer.RequestObserver(app.wsgi_app, app)
    if app.config["CIAM_METRICS_PORT"]:
        port = app.config["CIAM_METRICS_PORT"]
        middleware.first_request_hook = exposition.metrics_port_opener(app, port)
    app.extensions["ciam.ops.observer"] = middleware
    # Flask documents wrapping wsgi_app this way; mypy sees a method assigned.
    app.wsgi_app = middleware  # type: ignore[method-assign]
