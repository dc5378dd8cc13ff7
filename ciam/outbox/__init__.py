"""Transactional outbox (DESIGN §5.3): side effects are rows written in the same
transaction as the change, and leave only after commit."""

from flask import Flask


def setup_outbox(app: Flask) -> None:
    from ciam.outbox import commands, dispatch, sms

    sms.check_config(app)
    dispatch.setup_inline_dispatch(app)
    app.cli.add_command(commands.worker)
