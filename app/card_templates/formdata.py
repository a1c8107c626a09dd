"""Card fields in HTML forms: input names, and turning submitted form data into raw values for the value library."""
from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from app.values import FIELD_TYPES

PREFIX = "f."


def input_name(field_key: str, row: int | None = None, column_key: str | None = None) -> str:
    if row is None:
        return f"{PREFIX}{field_key}"
    return f"{PREFIX}{field_key}.{row}.{column_key}"


def raw_from_form(fields, form: MultiDict) -> dict:
    """Raw values of the given FieldDefs as submitted (every listed field is present; blank means clear)."""
    raw = {}
    for fd in fields:
        name = input_name(fd.key)
        # What the form sends depends on the widget that asked for the value.
        control = FIELD_TYPES[fd.type].widget.control if fd.type in FIELD_TYPES else "input"
        if control == "checkboxes":
            raw[fd.key] = [v for v in form.getlist(name) if v.strip()]
        elif control == "table":
            rows: dict[int, dict] = {}
            pattern = re.compile(re.escape(name) + r"\.(\d+)\.([a-z][a-z0-9_]*)$")
            removed = set(form.getlist(name + ".remove"))
            for key in form.keys():
                m = pattern.match(key)
                if m and m.group(1) not in removed:
                    rows.setdefault(int(m.group(1)), {})[m.group(2)] = form.get(key)
            raw[fd.key] = [rows[i] for i in sorted(rows)]
        else:
            raw[fd.key] = form.get(name, "")
    return raw
