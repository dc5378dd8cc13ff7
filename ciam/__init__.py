"""ciam: customer identity and access management, an OIDC provider tied to the CRM."""

from __future__ import annotations

from flask import Flask

from ciam.config import load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config, then extensions, then one setup call per domain."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config(app.instance_path, config))

    from ciam import models  # noqa: F401  (every table known to Alembic and the ORM)
    from ciam.accounts import setup_accounts
    from ciam.api import setup_api
    from ciam.cli import setup_cli
    from ciam.crm import setup_crm
    from ciam.db_migrations import setup_schema
    from ciam.delegation import setup_delegation
    from ciam.errors import setup_errors
    from ciam.extensions import csrf, db, limiter
    from ciam.invitations import setup_invitations
    from ciam.oidc import setup_oidc
    from ciam.ops import setup_ops
    from ciam.outbox import setup_outbox
    from ciam.request_hooks import setup_proxies, setup_request_hooks
    from ciam.roles import setup_roles

    db.init_app(app)
    setup_schema(app)  # `ciam db ...`; Alembic loads only when such a command runs
    csrf.init_app(app)
    limiter.init_app(app)

    setup_request_hooks(app)
    setup_errors(app)
    setup_accounts(app)
    setup_oidc(app)
    setup_delegation(app)
    setup_roles(app)
    setup_crm(app)
    setup_invitations(app)
    setup_api(app)
    setup_outbox(app)
    setup_cli(app)
    setup_ops(app)  # outermost but ProxyFix: sees every request, and the client's address
    setup_proxies(app)
    return app
