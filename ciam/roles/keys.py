"""The shape of a key (business role, app role): what a CRM field or a claim can hold."""

from __future__ import annotations

import re

from ciam.roles.errors import InvalidKey

KEY = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,79}$")


def checked_key(key: str, what: str = "A key") -> str:
    """The key, lower-cased, or InvalidKey when it is not 1-80 letters, digits, . _ : -"""
    key = (key or "").strip().lower()
    if not KEY.match(key):
        raise InvalidKey(
            f"{what} is 1-80 lower-case letters, digits, '.', '_', ':' or '-' "
            f"(starting with a letter or digit): {key!r}."
        )
    return key
