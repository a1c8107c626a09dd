"""The built-in card templates, one JSON file each in the template export/import format.

The JSON files are the source of truth (format ``clientcard.template/1``); this module only
lists and loads them.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path

BUILTIN_KEYS = ("key_account_company", "key_account_person", "relationship", "real_estate_visitor", "telesales")  # first is the default
DEFAULT_KEY = "key_account_company"

_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def _load(key: str) -> dict:
    with open(_DIR / f"{key}.json", encoding="utf-8") as fh:
        return json.load(fh)


def load_builtin(key: str) -> dict:
    """The parsed JSON of a built-in template (cached; a fresh copy each call). KeyError if unknown."""
    if key not in BUILTIN_KEYS:
        raise KeyError(key)
    return copy.deepcopy(_load(key))


def builtin_choices() -> list[tuple[str, str, str]]:
    """(key, name_zh, name_en) of every built-in template, the default first."""
    out = []
    for key in BUILTIN_KEYS:
        data = _load(key)
        out.append((key, data["name"], data["name_en"]))
    return out
