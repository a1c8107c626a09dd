"""Untrusted text and JSON from requests and uploads: refuse control characters and deeply nested JSON before
they reach the database (PostgreSQL rejects NUL in text) or a recursive walk (Python's stack)."""
from __future__ import annotations

import json
import re

from flask_babel import lazy_gettext as _l

# C0 and C1 control characters except tab, newline and carriage return, and lone UTF-16 surrogates ("\ud800"
# in JSON), none of which a person types or PostgreSQL can always store.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_JSON_DEPTH = 32  # our deepest document (a template export) is 6 levels

CONTROL_CHARS_MESSAGE = _l("The input contains invisible control characters (such as a NUL byte) that cannot be "
                           "saved. Remove them and try again.")
NESTED_MESSAGE = _l("The JSON is nested too deeply (at most %(n)d levels).", n=MAX_JSON_DEPTH)


class BadInput(ValueError):
    """Input refused before it is used; `message` says why, for the person who sent it."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def has_control_chars(text: str) -> bool:
    return bool(_BAD_CHARS.search(text))


def strip_control_chars(text: str) -> str:
    """The text without the characters has_control_chars() refuses (for headers such as User-Agent)."""
    return _BAD_CHARS.sub("", text)


def check_texts(texts) -> None:
    """Raise BadInput if any of these strings has a control character."""
    for text in texts:
        if isinstance(text, str) and _BAD_CHARS.search(text):
            raise BadInput(CONTROL_CHARS_MESSAGE)


def check_json(data) -> None:
    """Raise BadInput for JSON nested deeper than MAX_JSON_DEPTH or holding a control character in a string."""
    stack = [(data, 1)]
    while stack:  # iterative: the check itself must not recurse
        value, depth = stack.pop()
        if isinstance(value, str):
            check_texts((value,))
        elif isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise BadInput(NESTED_MESSAGE)
            if isinstance(value, dict):
                check_texts(value.keys())
                stack.extend((v, depth + 1) for v in value.values())
            else:
                stack.extend((v, depth + 1) for v in value)


def load_json(text: str, **kwargs):
    """json.loads, then check_json(); raises BadInput for nesting and control characters, ValueError otherwise."""
    try:
        data = json.loads(text, **kwargs)
    except RecursionError:
        raise BadInput(NESTED_MESSAGE) from None
    check_json(data)
    return data
