"""Helpers for the self-service tests: forms with CSRF tokens, signing in, and reading
the emails that the real SMTP server (tests/smtp.py) received."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import Message
from urllib.parse import urlsplit

from ciam.accounts.models import LoginSession
from ciam.db import utcnow
from ciam.extensions import db
from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
URL = re.compile(r"https?://\S+")
FORGED_CSRF = "forged." + "a" * 40


def csrf(client, path: str, **kwargs) -> str:
    page = client.get(path, **kwargs)
    assert page.status_code == 200, (path, page.status_code)
    return CSRF.search(page.get_data(as_text=True)).group(1)


def post_form(client, path: str, data: dict, **kwargs):
    """GET the page for its CSRF token, then POST the form, like a browser."""
    return client.post(path, data={"csrf_token": csrf(client, path, **kwargs), **data}, **kwargs)


def login(client, email: str, password: str = PASSWORD):
    response = post_form(client, "/login", {"email": email, "password": password, "next": ""})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def age_login(user_id, minutes: int) -> None:
    """Make the person's open sessions look signed in `minutes` ago."""
    db.session.execute(
        db.update(LoginSession)
        .where(LoginSession.user_id == user_id)
        .values(auth_time=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def body(message: Message) -> str:
    return message.get_payload(decode=True).decode()


def link_in(message: Message) -> str:
    [url] = URL.findall(body(message))
    return url


def path_of(url: str) -> str:
    return urlsplit(url).path


def mail_to(smtp, address: str) -> list[Message]:
    return [m for m in smtp.messages if m["To"] == address]


def open_sessions(user_id) -> int:
    db.session.expire_all()
    return len(
        list(
            db.session.scalars(
                db.select(LoginSession).where(
                    LoginSession.user_id == user_id, LoginSession.ended_at.is_(None)
                )
            )
        )
    )
