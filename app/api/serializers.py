"""JSON shapes of the API: template, client, history, views, duplicates. Values are stored in API form already."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

from sqlalchemy import select

from app.accounts.models import User
from app.clients.derived import core_fields
from app.extensions import db
from app.text_input import load_json


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class People:
    """The tenant's users by id, loaded once per request (a small firm has a few dozen)."""

    def __init__(self):
        self._by_id = None

    def get(self, user_id) -> User | None:
        if user_id is None:
            return None
        if self._by_id is None:
            self._by_id = {u.id: u for u in db.session.scalars(select(User))}
        return self._by_id.get(user_id)

    def ref(self, user_id) -> dict | None:
        user = self.get(user_id)
        return {"id": user.id, "name": user.display_name, "email": user.email} if user else None

    def short(self, user_id) -> dict | None:
        user = self.get(user_id)
        return {"id": user.id, "email": user.email} if user else None


# ---------------------------------------------------------------- template

def column_json(col: dict) -> dict:
    return {"key": col["key"], "label": col.get("label") or col["key"], "type": col.get("type") or "text",
            "options": list(col.get("options") or [])}


def field_json(fd, core_keys: set[str] | None = None) -> dict:
    """A template field; `core_keys` (the card's core, which completeness counts) is computed once per template
    by the caller that serializes many fields."""
    if core_keys is None:
        core_keys = {f.key for f in core_fields(fd.template)} if fd.template else set()
    return {"key": fd.key, "label": fd.label, "type": fd.type, "required": bool(fd.required),
            "sensitive": bool(fd.sensitive), "in_brief": bool(fd.in_brief), "identifier": bool(fd.identifier),
            "yearly_reminder": bool(fd.yearly_reminder), "core": fd.key in core_keys,
            "options": list(fd.options or []), "columns": [column_json(c) for c in fd.columns or []],
            "archived": bool(fd.archived), "section": fd.section.key if fd.section else None,
            "help": fd.help or ""}


def template_json(template) -> dict:
    sections = []
    core_keys = {f.key for f in core_fields(template)}
    for s in template.sections:
        sections.append({"key": s.key, "label": s.label, "archived": bool(s.archived),
                         "in_brief": any(f.in_brief for f in s.fields if not f.archived),
                         "fields": [field_json(f, core_keys) for f in s.fields]})
    return {"version": template.version, "sections": sections}


# ---------------------------------------------------------------- clients

def client_json(client, values: dict, people: People) -> dict:
    """The client object; `values` are the ones its reader may see (app.clients.access.CardView.values)."""
    return {
        "id": client.id, "number": client.number, "name": client.name, "stage": client.stage,
        "grade": client.grade,
        "grade_source": client.grade_source if client.grade_source in ("rule", "manual") else None,
        "owner": people.ref(client.owner_id),
        "co_owners": [r for r in (people.ref(uid) for uid in client.co_owner_ids) if r],
        "tags": list(client.tags or []), "fields": values,
        "completeness": float(client.completeness or 0.0), "version": client.version,
        "archived": client.archived, "created_at": timestamp(client.created_at),
        "updated_at": timestamp(client.updated_at),
    }


def duplicate_json(candidate) -> dict:
    """A duplicate candidate; one the user may not see says only that it exists and who owns it (撞单 check)."""
    if candidate.visible:
        return {"id": candidate.client_id, "number": candidate.number, "name": candidate.name,
                "matched_on": list(candidate.matched_on), "owner": candidate.owner_name, "visible": True}
    return {"id": None, "number": None, "name": None, "matched_on": list(candidate.matched_on),
            "owner": candidate.owner_name, "visible": False}


def change_json(change, people: People, hidden_keys: set[str]) -> dict:
    changes = {k: {"from": v.get("from"), "to": v.get("to")} for k, v in (change.changes or {}).items()
               if k not in hidden_keys}
    return {"at": timestamp(change.at), "actor": people.short(change.actor_id), "action": change.action,
            "version": change.version, "changes": changes, "note": change.note or ""}


def view_json(view, people: People) -> dict:
    return {"at": timestamp(view.at), "user": people.short(view.user_id), "kind": view.kind,
            "reason": view.reason or ""}


# ---------------------------------------------------------------- cursors

def encode_cursor(data) -> str:
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str):
    """The cursor's data, or raise ValueError for anything that is not a cursor we made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return load_json(raw.decode())  # refuses NUL (PostgreSQL) and deep nesting
    except Exception as e:
        raise ValueError("bad cursor") from e
