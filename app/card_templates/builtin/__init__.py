"""The built-in card templates, one JSON file each in the template export/import format.

The JSON files are the source of truth (format ``clientcard.template/1``); this module only
lists and loads them.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path

# The first is the default: the compact relationship form a small firm fills in a few minutes; the 131-field
# key-account sheet stays one click away on the signup page.
BUILTIN_KEYS = ("relationship", "key_account_company", "key_account_person", "real_estate_visitor", "telesales")
DEFAULT_KEY = "relationship"

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


def builtin_overview(english: bool = False) -> list[dict]:
    """What signup shows of each built-in template: name, who it suits, its sections with their field counts."""
    from app.card_templates.builtin_texts import SUITS

    out = []
    for key in BUILTIN_KEYS:
        data = _load(key)
        sections = [{"label": (s.get("label_en") if english else None) or s["label"], "fields": len(s.get("fields", []))}
                    for s in data["sections"]]
        out.append({"key": key, "name": data["name_en"] if english else data["name"], "suits": str(SUITS[key]),
                    "sections": sections, "fields": sum(s["fields"] for s in sections)})
    return out
