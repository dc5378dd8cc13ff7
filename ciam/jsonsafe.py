"""JSON from strangers, parsed without a RecursionError escaping.

Python's json decoder recurses once per nesting level: `[` x 5,000 (10 KB) exhausts
the interpreter's recursion limit and raises RecursionError, which no caller expects
from `json.loads` and which would surface as a 500. Here it becomes a ValueError
(json.JSONDecodeError), the error callers already handle for malformed JSON.
"""

from __future__ import annotations

import json
from typing import Any

TOO_DEEP = "The JSON nests too deeply."


def loads(text: str | bytes) -> Any:
    """`json.loads`, raising ValueError (json.JSONDecodeError) for malformed or too deep
    text, never RecursionError."""
    try:
        # bytes: json.loads detects UTF-8/16/32; bad UTF-8 raises UnicodeDecodeError,
        # a ValueError as well.
        return json.loads(text)
    except RecursionError as exc:
        raise json.JSONDecodeError(TOO_DEEP, "", 0) from exc
