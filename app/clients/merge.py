"""Merge two cards of the same client: field-by-field choice, both histories kept, the other card archived."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from app.accounts.models import User
from app.card_templates.models import CardTemplate, FieldDef
from app.card_templates.services import load_template
from app.clients.models import Client, ClientChange, ClientMatchKey, ClientView
from app.clients.access import NotAllowed, assignable_user_ids, card_view, require
from app.clients.history import record_change
from app.clients.services import ValidationFailed, VersionConflict, clean_tags, flush_versioned, update_client
from app.db_types import utcnow
from app.extensions import db
from app.values import is_empty

# What else belongs to a card (follow-ups, share links, reminders) moves through these hooks:
# fn(actor, kept, other) runs in the merge's transaction, after the values were merged.
MERGE_HOOKS: list[Callable[[User, Client, Client], None]] = []


def register_merge_hook(fn):
    MERGE_HOOKS.append(fn)
    return fn


@register_merge_hook
def _move_views(actor: User, kept: Client, other: Client) -> None:
    # The view log follows the client: who looked at either card stays visible on the kept one.
    db.session.execute(update(ClientView).where(ClientView.client_id == other.id).values(client_id=kept.id),
                       execution_options={"synchronize_session": False})


@dataclass
class MergeRow:
    field: FieldDef
    kept_value: object
    other_value: object
    default: str  # "kept" | "other"
    visible: bool  # False: sensitive and hidden from this user; the default rule decides


def default_choice(kept_value, other_value) -> str:
    """Keep non-empty values, preferring the kept card's."""
    return "other" if is_empty(kept_value) and not is_empty(other_value) else "kept"


def merge_plan(user: User, template: CardTemplate, kept: Client, other: Client) -> list[MergeRow]:
    """The active fields whose values differ between the two cards, with the default choice."""
    kept_view, other_view = card_view(user, kept, template, reveal=True), card_view(user, other, template, reveal=True)
    rows = []
    for section in template.sections:
        if section.archived:
            continue
        for fd in section.active_fields:
            a, b = (kept.values or {}).get(fd.key), (other.values or {}).get(fd.key)
            if a == b or (is_empty(a) and is_empty(b)):
                continue
            rows.append(MergeRow(fd, a, b, default_choice(a, b),
                                 kept_view.field_visible(fd) and other_view.field_visible(fd)))
    return rows


def merge_clients(user: User, kept: Client, other: Client, *, kept_version: int | None, other_version: int | None,
                  choices: dict | None = None, name_from: str = "kept", template: CardTemplate | None = None) -> Client:
    """Merge `other` into `kept`: chosen values, tags, co-owners, view log and hooks move; both histories
    stay readable from the kept card; the other card is archived and marked as merged."""
    template = template or load_template()
    require(user, "clients.edit", kept, _l("Your role cannot change client cards."))
    if kept.id == other.id:
        raise ValidationFailed({"other": _l("Choose two different cards.")})
    if kept.archived:
        raise ValidationFailed({"other": _l("Restore this card before merging another one into it.")})
    if other_version is not None and other_version != other.version:
        newer = db.session.scalars(select(ClientChange).where(ClientChange.client_id == other.id,
                                                              ClientChange.version > other_version)
                                   .order_by(ClientChange.id)).all()
        raise VersionConflict(other, newer)
    choices = choices or {}
    fields = {}
    plan = merge_plan(user, template, kept, other)
    if any(not row.visible for row in plan):
        # Merging would move sensitive values the user may not read from one card to the other.
        raise NotAllowed(_l("These cards differ in sensitive fields you cannot see; ask an admin or the cards' "
                            "owners to merge them."))
    for row in plan:
        choice = choices.get(row.field.key, row.default)
        if choice == "other":
            fields[row.field.key] = row.other_value
    active = assignable_user_ids()
    co_owners = [u for u in dict.fromkeys([*kept.co_owner_ids, other.owner_id, *other.co_owner_ids])
                 if u is not None and u != kept.owner_id and (u in kept.co_owner_ids or u in active)]
    tags = clean_tags([*(kept.tags or []), *(other.tags or [])])[:30]
    name = other.name if name_from == "other" else None
    before_version = kept.version
    # Merging gathers both cards' owners on the kept card: a rule of the merge, not a reassignment.
    update_client(user, kept, version=kept_version, name=name, tags=tags, co_owner_ids=co_owners, fields=fields,
                  action="merge", template=template, required_keys=set(), access_checked=True)
    marker = {"@merged_from": {"from": None, "to": {"id": other.id, "number": other.number, "name": other.name}}}
    if kept.version == before_version:  # nothing differed: still record the merge as its own version
        kept.updated_at = utcnow()
        flush_versioned(kept)
        record_change(kept, user, "merge", marker, note=other.number)
    else:
        change = db.session.scalars(select(ClientChange).where(ClientChange.client_id == kept.id)
                                    .order_by(ClientChange.id.desc()).limit(1)).one()
        change.changes = {**change.changes, **marker}
        change.note = other.number
    for hook in MERGE_HOOKS:
        hook(user, kept, other)
    other.archived_at = utcnow()
    other.updated_at = utcnow()
    flush_versioned(other)
    # The merged-away card no longer counts as a duplicate; restoring it rebuilds its keys.
    db.session.execute(delete(ClientMatchKey).where(ClientMatchKey.client_id == other.id))
    record_change(other, user, "merged_into", {"@archived": {"from": False, "to": True},
                                         "@merged_into": {"from": None, "to": {"id": kept.id, "number": kept.number,
                                                                              "name": kept.name}}},
            note=kept.number)
    return kept


def merged_into(client: Client) -> dict | None:
    """For an archived card merged into another: {"id", "number", "name"} of that card."""
    if not client.archived:
        return None
    change = db.session.scalars(select(ClientChange).where(ClientChange.client_id == client.id,
                                                           ClientChange.action.in_(("merged_into", "restore")))
                                .order_by(ClientChange.id.desc()).limit(1)).first()
    if change is None or change.action != "merged_into":
        return None
    return ((change.changes or {}).get("@merged_into") or {}).get("to")
