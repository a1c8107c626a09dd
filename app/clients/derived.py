"""What is derived from a card's values: completeness, search text, duplicate match keys and the per-field value
index the list filters and sorts by. Written in one place, on every save, import and template change.

Sensitive values stay in the card: no derived column or side row holds a value of a sensitive field
(sensitive table fields included). Exact lookup of sensitive identifiers will go through a keyed hash.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.card_templates.models import CardTemplate, FieldDef
from app.card_templates.services import fields_by_key
from app.clients.models import Client, ClientFieldValue, ClientMatchKey
from app.extensions import db
from app.followups.grading import apply_grade
from app.tenancy import current_tenant_id
from app.values import (FIELD_TYPES, display_value, is_empty, normalize_company_name, normalize_text, phone_digits,
                        search_text)


def _shareable(fields: Iterable[FieldDef]) -> list[FieldDef]:
    """The fields whose values may be copied out of the card into derived data."""
    return [fd for fd in fields if not fd.sensitive]


def completeness(template: CardTemplate, values: dict) -> float:
    """Share of the card filled, required fields weighing three times as much."""
    total = filled = 0
    for fd in fields_by_key(template, include_archived=False).values():
        weight = 3 if fd.required else 1
        total += weight
        if not is_empty(values.get(fd.key)):
            filled += weight
    return round(filled / total, 4) if total else 1.0


def card_search_text(fields: Iterable[FieldDef], *, name: str, number: str, tags, values: dict) -> str:
    """The lower-case blob active search looks in: name, number, tags and every non-sensitive value."""
    parts = [name or "", number or "", " ".join(tags or [])]
    for fd in _shareable(fields):
        value = (values or {}).get(fd.key)
        if is_empty(value):
            continue
        try:
            parts.append(search_text(fd.type, value, fd.spec()))
        except Exception:  # a stored value never blocks a save
            parts.append(str(value))
    return normalize_text(" ".join(p for p in parts if p)).lower()[:20000]


def build_search_text(template: CardTemplate, client: Client) -> str:
    return card_search_text(fields_by_key(template).values(), name=client.name, number=client.number,
                            tags=client.tags, values=client.values or {})


def card_match_keys(fields: Iterable[FieldDef], name: str, values: dict) -> set[tuple[str, str]]:
    """Normalized keys for duplicate detection; empty values and sensitive fields never produce a key."""
    keys = set()
    norm = normalize_company_name(name or "")
    if norm:
        keys.add(("name", norm[:200]))
    for fd in _shareable(fields):
        value = (values or {}).get(fd.key)
        if is_empty(value):
            continue
        if fd.type == "table":
            for row in value if isinstance(value, list) else []:
                for col in fd.columns or []:
                    if col.get("type") in ("phone", "email") and isinstance(row, dict) \
                            and not is_empty(row.get(col["key"])):
                        keys |= _contact_keys(col["type"], row[col["key"]])
        elif fd.type in ("phone", "email"):
            keys |= _contact_keys(fd.type, value)
        elif fd.identifier:
            norm_value = normalize_text(display_value(fd.type, value, fd.spec())).lower().replace(" ", "")
            if norm_value:
                keys.add((f"field:{fd.key}", norm_value[:200]))
    return keys


def match_keys(template: CardTemplate, name: str, values: dict) -> set[tuple[str, str]]:
    return card_match_keys(fields_by_key(template).values(), name, values)


def _contact_keys(kind: str, value) -> set[tuple[str, str]]:
    if kind == "phone":
        digits = phone_digits(str(value))
        return {("phone", digits)} if len(digits) >= 5 else set()
    text = normalize_text(str(value)).lower()
    return {("email", text[:200])} if text else set()


def write_match_keys(template: CardTemplate, client: Client) -> None:
    db.session.execute(delete(ClientMatchKey).where(ClientMatchKey.client_id == client.id))
    for kind, value in sorted(match_keys(template, client.name, client.values or {})):
        db.session.add(ClientMatchKey(client_id=client.id, kind=kind, value=value))


def field_value_rows(template: CardTemplate, values: dict) -> list[tuple[str, float | None, str | None]]:
    """(key, num, txt) rows of ClientFieldValue for a card's values: what the list filters and sorts by."""
    return [row for fd in fields_by_key(template).values() for row in _field_value_rows(fd, values.get(fd.key))]


def _field_value_rows(fd: FieldDef, value) -> list[tuple[str, float | None, str | None]]:
    if fd.sensitive or is_empty(value):
        return []
    ft = FIELD_TYPES.get(fd.type)
    index = ft.index if ft else None
    if index == "num":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [(fd.key, float(value), None)]
    elif index == "multi":
        return [(fd.key, None, o[:200]) for o in dict.fromkeys(value if isinstance(value, list) else [value])
                if isinstance(o, str)]
    elif index == "txt" and isinstance(value, str):
        return [(fd.key, None, value[:200])]
    return []


def reindex_field_values(template: CardTemplate, key: str) -> None:
    """Rebuild one field's ClientFieldValue rows on every card of the tenant (after the field's type or its
    sensitive flag changed: a text field turned into a select keeps its values, but now the list filters by them)."""
    fd = fields_by_key(template).get(key)
    tid = current_tenant_id()
    db.session.flush()
    db.session.execute(delete(ClientFieldValue).where(ClientFieldValue.tenant_id == tid, ClientFieldValue.key == key))
    if fd is None:
        return
    rows = [{"tenant_id": tid, "client_id": cid, "key": k, "num": n, "txt": t}
            for cid, values in db.session.execute(select(Client.id, Client.values).where(Client.tenant_id == tid))
            for k, n, t in _field_value_rows(fd, (values or {}).get(key))]
    if rows:
        db.session.execute(ClientFieldValue.__table__.insert(), rows)


def write_field_values(template: CardTemplate, client: Client) -> None:
    """Bring the card's ClientFieldValue rows in line with its values (after the card is flushed)."""
    db.session.execute(delete(ClientFieldValue).where(ClientFieldValue.client_id == client.id))
    rows = field_value_rows(template, client.values or {})
    if rows:
        db.session.execute(ClientFieldValue.__table__.insert(), [
            {"tenant_id": client.tenant_id, "client_id": client.id, "key": k, "num": n, "txt": t} for k, n, t in rows])


def derive_columns(template: CardTemplate, client: Client) -> None:
    """Set the card's own derived columns before its flush, so one save is one UPDATE and one version."""
    client.completeness = completeness(template, client.values or {})
    client.search_text = build_search_text(template, client)
    apply_grade(client)  # the tenant's grading rules; a manual override stays


def write_side_rows(template: CardTemplate, client: Client, *, values_changed: bool = True) -> None:
    """Rewrite the card's match keys and (when its values changed) its value index rows, after its flush."""
    write_match_keys(template, client)
    if values_changed:
        write_field_values(template, client)


def rederive_field(template: CardTemplate, key: str) -> int:
    """After a field's sensitive or identifier flag changed: search text and match keys of every card holding a
    value for it are rebuilt, and its value index too. Derived columns only, so card versions stay."""
    count = 0
    for client in db.session.scalars(select(Client).order_by(Client.id)):
        if is_empty((client.values or {}).get(key)):
            continue
        text = build_search_text(template, client)
        if text != client.search_text:
            # Not a card edit: bypass the version counter (no one's open form goes stale for this).
            db.session.execute(update(Client).where(Client.id == client.id).values(search_text=text),
                               execution_options={"synchronize_session": False})
            set_committed_value(client, "search_text", text)
        write_match_keys(template, client)
        count += 1
    reindex_field_values(template, key)
    return count
