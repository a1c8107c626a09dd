"""Writes to client cards: create, update, archive, delete, and values rewritten by template changes. Every write
to a card goes through here (UI, API, merge, hand-over, template editor and import alike); access is decided in
app.clients.access, derived data in app.clients.derived, history in app.clients.history, numbers in
app.clients.numbers."""
from __future__ import annotations

import gc
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from app.accounts.models import AuditRecord, Tenant, User
from app.bulk import insert_rows
from app.card_templates.models import CardTemplate, FieldDef
from app.card_templates.cache import cached_template
from app.card_templates.services import FieldIndex, fields_by_key
from app.clients.access import (NotAllowed, assignable_user_ids, check_limit, is_admin, require, unreadable_keys,
                                visible_clients)
from app.clients.derived import (derive_columns, insert_field_values, insert_match_keys, match_keys,
                                 write_match_keys, write_search_grams, write_side_rows)
from app.clients.duplicates import (DuplicateCandidate, DuplicateFound, candidates_of, existing_matches,
                                   find_duplicates)
from app.clients.history import field_last_changed, record_change
from app.clients.models import (Client, ClientChange, ClientCoOwner, ClientFieldValue, ClientMatchKey,
                                ClientSearchGrams, ClientView)
from app.clients.numbers import allocate_numbers
from app.db_types import utcnow
from app.extensions import db
from app.followups.contacts import CHURN_STAGE, churn_reasons, refresh_contacts
from app.followups.grading import current_rules
from app.followups.models import ClientContact
from app.tenancy import current_tenant
from app.values import InvalidValue, is_empty, normalize_text, parse_value

MAX_TAGS = 30
# A revert or an import's undo puts back a recorded state: a churn it restores had its reason when it happened.
RESTORING_ACTIONS = ("revert", "undo")


class ValidationFailed(Exception):
    """Input did not validate; `errors` maps field key (or name/stage/owner/tags) to a message."""

    def __init__(self, errors: dict):
        super().__init__("invalid input")
        self.errors = errors


class VersionConflict(Exception):
    """The card changed since the user loaded it."""

    def __init__(self, client: Client, changes: list[ClientChange]):
        super().__init__("stale version")
        self.client = client
        self.changes = changes


# ---------------------------------------------------------------- values

def active_user_ids() -> set[int]:
    return set(db.session.scalars(select(User.id).where(User.active.is_(True))))


def parse_fields(template: CardTemplate, raw: dict, *, allow_retired: bool = False,
                 person_ids: set[int] | None = None, current: dict | None = None,
                 fx: FieldIndex | None = None) -> tuple[dict, dict]:
    """Parse raw input for the given field keys: (values with None for cleared keys, errors). A batch passes its
    FieldIndex (and the active colleagues' ids), built once."""
    if fx is not None:
        if person_ids is None and any(fx.parse[k][1] == "person" for k in raw if k in fx.parse):
            person_ids = active_user_ids()
        return _parse_fields_fx(fx, raw, allow_retired, person_ids, current)
    fields = fields_by_key(template)
    if person_ids is None and any(fields.get(k) and fields[k].type == "person" for k in raw):
        person_ids = active_user_ids()
    values, errors = {}, {}
    for key, raw_value in raw.items():
        fd = fields.get(key)
        if fd is None:
            errors[key] = _l("There is no field %(key)s on this card.", key=key)
            continue
        if fd.archived:
            errors[key] = _l("The field %(label)s is archived; restore it to edit its value.", label=fd.label)
            continue
        try:
            values[key] = parse_value(fd.type, raw_value, fd.spec(allow_retired=True, person_ids=person_ids))
            if not allow_retired and _adds_retired_option(fd, values[key], (current or {}).get(key)):
                # Re-parse strictly for the value library's own message naming the retired option.
                parse_value(fd.type, raw_value, fd.spec(allow_retired=False, person_ids=person_ids))
        except InvalidValue as e:
            values.pop(key, None)
            errors[key] = e.message
    return values, errors


def _parse_fields_fx(fx: FieldIndex, raw: dict, allow_retired: bool, person_ids, current) -> tuple[dict, dict]:
    """parse_fields with the template's FieldIndex (a batch): the same values and errors."""
    values, errors = {}, {}
    plain = fx.parse
    for key, raw_value in raw.items():
        entry = plain.get(key)
        if entry is None:
            errors[key] = _l("There is no field %(key)s on this card.", key=key)
            continue
        fd, ftype, archived, watch_retired = entry
        if archived:
            errors[key] = _l("The field %(label)s is archived; restore it to edit its value.", label=fd.label)
            continue
        try:
            values[key] = parse_value(ftype, raw_value, {**fx.spec(key), "allow_retired": True,
                                                         "person_ids": person_ids})
            if watch_retired and not allow_retired and _adds_retired_option(fd, values[key],
                                                                            (current or {}).get(key)):
                # Re-parse strictly for the value library's own message naming the retired option.
                parse_value(ftype, raw_value, fd.spec(allow_retired=False, person_ids=person_ids))
        except InvalidValue as e:
            values.pop(key, None)
            errors[key] = e.message
    return values, errors


def _adds_retired_option(fd: FieldDef, new, old) -> bool:
    """A retired option may stay on a card that has it, but is never chosen anew."""
    if fd.type not in ("select", "multiselect") or not fd.retired_options or new is None:
        return False
    as_set = lambda v: set(v) if isinstance(v, list) else ({v} if v is not None else set())  # noqa: E731
    return bool((as_set(new) - as_set(old)) & set(fd.retired_options))


def missing_required(template: CardTemplate, values: dict, only_keys=None, fx: FieldIndex | None = None) -> dict:
    errors = {}
    required = fx.required if fx is not None else [
        fd for fd in fields_by_key(template, include_archived=False).values() if fd.required]
    for fd in required:
        if only_keys is not None and fd.key not in only_keys:
            continue
        if is_empty(values.get(fd.key)):
            errors[fd.key] = _l("%(label)s is required.", label=fd.t())
    return errors


# ---------------------------------------------------------------- writes

def _check_meta(tenant: Tenant, *, name=None, stage=None, owner_id=None, tags=None, co_owner_ids=None,
                check_name=True, assignable: set[int] | None = None) -> dict:
    errors = {}
    if check_name:
        if not name or not normalize_text(name):
            errors["name"] = _l("Enter the client's name.")
        elif len(name) > 200:
            errors["name"] = _l("Use at most %(n)d characters.", n=200)
    if stage is not None and stage not in tenant.stages:
        errors["stage"] = _l("Choose one of: %(choices)s.", choices="、".join(tenant.stages))
    ids = set()
    if owner_id is not None or co_owner_ids:
        ids = assignable if assignable is not None else assignable_user_ids()
    if owner_id is not None and owner_id not in ids:
        errors["owner"] = _l("Choose an active colleague who may edit cards as owner.")
    if co_owner_ids and not set(co_owner_ids) <= ids:
        errors["co_owners"] = _l("Co-owners must be active colleagues who may edit cards.")
    if tags is not None:
        if len(tags) > MAX_TAGS:
            errors["tags"] = _l("Use at most %(n)d tags.", n=MAX_TAGS)
        elif any(len(t) > 40 for t in tags):
            errors["tags"] = _l("A tag has at most 40 characters.")
    return errors


def clean_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = re.split(r"[,，、;；\s]+", tags)
    out = []
    for t in tags or []:
        t = normalize_text(str(t))
        if t and t not in out:
            out.append(t)
    return out


def create_client(user: User, *, name: str, stage: str | None = None, owner_id: int | None = None,
                  tags=None, fields: dict | None = None, co_owner_ids=None, allow_duplicate: bool = False,
                  template: CardTemplate | None = None, enforce_required: bool = True,
                  plan_checked: bool = False) -> Client:
    """Validate and create a client card, number it and record its creation.
    Raises NotAllowed (LimitReached beyond the plan), ValidationFailed or DuplicateFound."""
    if not plan_checked:  # before the form is checked: at the limit, filling it in would be wasted work
        check_limit(current_tenant(), "clients")
    template = template or cached_template()
    prepared = _prepare_client(user, template, name=name, stage=stage, owner_id=owner_id, tags=tags, fields=fields,
                               co_owner_ids=co_owner_ids, allow_duplicate=allow_duplicate,
                               enforce_required=enforce_required)
    return _write_new_clients(user, template, [prepared])[0]


@dataclass
class _NewCard:
    client: Client
    co_owner_ids: list[int]
    changes: dict
    keys: set


def _prepare_client(user: User, template: CardTemplate, *, name: str, stage: str | None = None,
                    owner_id: int | None = None, tags=None, fields: dict | None = None, co_owner_ids=None,
                    allow_duplicate: bool = False, enforce_required: bool = True,
                    assignable: set[int] | None = None, fx: FieldIndex | None = None,
                    rules: dict | None = None, person_ids: set[int] | None = None,
                    parsed: tuple[dict, dict] | None = None) -> _NewCard:
    """Everything about a new card that needs no write: access, validation, duplicates, derived columns. A batch
    passes what it read once for all its cards (field index, grading rules, colleagues); `parsed`: what
    parse_fields gave for these `fields` already (the import parses a row once to look for its card)."""
    fx = fx if fx is not None else FieldIndex(template)
    require(user, "clients.create", message=_l("Your role cannot create client cards."))
    tenant = current_tenant()
    name = normalize_text(name or "")
    stage = stage or tenant.stages[0]
    owner_id = owner_id if owner_id is not None else user.id
    tags = clean_tags(tags)
    co_owner_ids = [i for i in dict.fromkeys(co_owner_ids or []) if i != owner_id]
    if not is_admin(user) and user.id != owner_id and user.id not in co_owner_ids \
            and unreadable_keys(user, None, template, [k for k, v in (fields or {}).items() if not is_empty(v)]):
        # Whoever writes a sensitive value must be able to read it on the card they create.
        raise NotAllowed(_l("Sensitive fields can be filled only by admins and the card's owners."))
    errors = _check_meta(tenant, name=name, stage=stage, owner_id=owner_id, tags=tags, co_owner_ids=co_owner_ids,
                         assignable=assignable)
    values, field_errors = parsed if parsed is not None else parse_fields(template, fields or {}, fx=fx,
                                                                          person_ids=person_ids)
    errors.update(field_errors)
    values = {k: v for k, v in values.items() if not is_empty(v)}
    if enforce_required:
        for key, msg in missing_required(template, values, fx=fx).items():
            errors.setdefault(key, msg)
    if errors:
        raise ValidationFailed(errors)
    if not allow_duplicate:
        candidates = find_duplicates(user, template, name, values, fx=fx)
        if candidates:
            raise DuplicateFound(candidates)
    now = utcnow()
    # The number is allocated in _write_new_clients (a single create last, so the tenant's counter row stays locked
    # for as short a time as possible); until then the card holds a unique placeholder.
    client = Client(number=f"pending{secrets.token_hex(12)}", name=name, stage=stage, owner_id=owner_id, tags=tags,
                    values=values, created_by_id=user.id if user else None, created_at=now, updated_at=now)
    derive_columns(template, client, fx, rules)
    changes = {"@name": {"from": None, "to": name}, "@stage": {"from": None, "to": stage},
               "@owner": {"from": None, "to": owner_id}}
    if tags:
        changes["@tags"] = {"from": None, "to": tags}
    if client.grade:
        changes["@grade"] = {"from": None, "to": client.grade}
    changes.update({k: {"from": None, "to": v} for k, v in values.items()})
    return _NewCard(client, co_owner_ids, changes, match_keys(template, name, values, fx))


_INSERT_COLUMNS = ("number", "name", "name_sort", "stage", "owner_id", "tags", "values", "search_text",
                   "completeness", "grade", "grade_source", "created_by_id", "created_at", "updated_at")


def _write_new_clients(user: User, template: CardTemplate, cards: list[_NewCard],
                       numbers: list[str] | None = None, fx: FieldIndex | None = None,
                       number_first: bool = False) -> list[Client]:
    """Insert prepared cards with their side rows and history in a few statements whatever their number, then
    number them all with one bump of the counter (gap-free: the bump is part of this transaction), or with the
    given numbers (a restored export keeps its cards' numbers). `number_first` (a batch): the numbers are allocated
    before the insert, so the rows are written once with their numbers instead of rewritten after (on both
    databases that rewrite re-indexed every card's search text); a single create numbers last, holding the
    counter's row lock for as short a time as possible."""
    tenant = current_tenant()
    tid = tenant.id
    if numbers is None and number_first:
        numbers = allocate_numbers(tenant, len(cards))
    numbered = numbers is not None
    if numbered:
        for card, number in zip(cards, numbers):
            client = card.client
            if client.number in client.search_text:
                client.search_text = client.search_text.replace(client.number, number.lower())
            client.number = number
    rows = [{"tenant_id": tid, "version": 1, "archived_at": None,
             **{k: getattr(card.client, k) for k in _INSERT_COLUMNS}} for card in cards]
    # One multi-row INSERT returning only the ids, in any order, matched to the cards by their unique numbers (or
    # placeholders); the prepared cards, every column set, become the session's persistent cards as if loaded.
    table = Client.__table__
    ids = dict(db.session.execute(insert(table).returning(table.c.number, table.c.id), rows).all())
    clients = []
    for card, row in zip(cards, rows):
        client = card.client
        client.id, client.tenant_id, client.version, client.archived_at = ids[row["number"]], tid, 1, None
        make_transient_to_detached(client)
        clients.append(client)
    db.session.add_all(clients)
    links = {c.id: [ClientCoOwner(tenant_id=tid, client_id=c.id, user_id=uid) for uid in card.co_owner_ids]
             for c, card in zip(clients, cards)}
    every_link = [link for group in links.values() for link in group]
    if every_link:
        db.session.add_all(every_link)
    for c in clients:
        set_committed_value(c, "co_owner_links", links[c.id])
    insert_match_keys([(c, card.keys) for c, card in zip(clients, cards)])
    insert_field_values(template, clients, fx)
    actor_id = user.id if user else None
    insert_rows(ClientChange.__table__, [
        {"tenant_id": tid, "client_id": c.id, "version": 1, "actor_id": actor_id, "at": c.created_at,
         "action": "create", "changes": card.changes, "note": ""} for c, card in zip(clients, cards)])
    db.session.flush()
    if not numbered:
        _number_late(tenant, clients)
    write_search_grams(clients, new=True)
    refresh_contacts([c.id for c in clients])
    return clients


def _number_late(tenant: Tenant, clients: list[Client]) -> None:
    """Number inserted cards (holding placeholders) with one bump of the counter, and put the numbers in their
    search text."""
    numbers = allocate_numbers(tenant, len(clients))
    updates = []
    for client, number in zip(clients, numbers):
        text = client.search_text.replace(client.number, number.lower()) if client.number in client.search_text \
            else client.search_text
        updates.append({"b_id": client.id, "b_number": number, "b_text": text})
    table = Client.__table__
    db.session.execute(table.update().where(table.c.id == bindparam("b_id"))
                       .values(number=bindparam("b_number"), search_text=bindparam("b_text")), updates)
    for client, row in zip(clients, updates):
        set_committed_value(client, "number", row["b_number"])
        set_committed_value(client, "search_text", row["b_text"])


class BatchInvalid(Exception):
    """Some items of a batch did not validate; `errors` maps the item's index to its error (nothing was written)."""

    def __init__(self, errors: dict[int, Exception]):
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


@contextmanager
def gc_paused():
    """Python's cycle collector paused for one bounded batch (at most a few thousand cards): the batch allocates
    many small objects, each allocation burst set off a full collection over the whole process's heap (a quarter
    of a batch's time). Nothing is lost: cycles made meanwhile are collected once it is back on."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def create_clients(user: User, items, *, template: CardTemplate | None = None, allow_duplicate: bool = False,
                   enforce_required: bool = True, numbers: list[str] | None = None) -> list[Client]:
    """Create many cards at once (import, API batch): every item is the keyword arguments of `create_client`.
    All or nothing: when any item fails, BatchInvalid names each failure and no card is written (the caller
    rolls back). The bulk write path lives here so that import and the API share it: every item is validated
    first, then all are written in a few statements and numbered with one bump of the counter. An item that
    looks like an earlier item of the same batch is a duplicate too (unless allow_duplicate)."""
    with gc_paused():
        return _create_clients(user, items, template=template, allow_duplicate=allow_duplicate,
                               enforce_required=enforce_required, numbers=numbers)


def _create_clients(user: User, items, *, template: CardTemplate | None = None, allow_duplicate: bool = False,
                    enforce_required: bool = True, numbers: list[str] | None = None) -> list[Client]:
    items = list(items)
    check_limit(current_tenant(), "clients", adding=len(items))  # once, before anything is written
    template = template or cached_template()
    prepared, errors = [], {}
    seen: dict[tuple, int] = {}
    # Read once for the batch, not per card: colleagues, the template's fields, the grading rules.
    assignable = assignable_user_ids()
    fx = FieldIndex(template)
    rules = current_rules()
    person_ids = active_user_ids() if any(fd.type == "person" for fd in fx.all.values()) else None
    ready: list[tuple[int, _NewCard]] = []
    for index, item in enumerate(items):
        try:
            # Duplicates of existing cards are looked up below for the whole batch at once.
            ready.append((index, _prepare_client(user, template, allow_duplicate=True,
                                                 enforce_required=enforce_required, assignable=assignable, fx=fx,
                                                 rules=rules, person_ids=person_ids, **item)))
        except (ValidationFailed, DuplicateFound, NotAllowed) as exc:
            errors[index] = exc
    existing = {} if allow_duplicate else existing_matches(k for _i, card in ready for k in card.keys)
    for index, card in ready:
        if not allow_duplicate:
            hits = [(cid, kind) for kind, value in card.keys for cid in existing.get((kind, value), ())]
            candidates = candidates_of(user, hits) if hits else []
            if candidates:
                errors[index] = DuplicateFound(candidates)
                continue
            earlier = {seen[k]: k for k in card.keys if k in seen}
            if earlier:
                first = min(earlier)
                errors[index] = DuplicateFound([DuplicateCandidate(
                    None, "", prepared_name(prepared, first), "",
                    sorted({k[0].split(":", 1)[-1] for k in card.keys if seen.get(k) == first}), visible=False)])
                continue
        for k in card.keys:
            seen.setdefault(k, index)
        prepared.append((index, card))
    if errors:
        raise BatchInvalid(dict(sorted(errors.items())))
    if not prepared:
        return []
    return _write_new_clients(user, template, [card for _, card in prepared], numbers, fx, number_first=True)


def prepared_name(prepared, index: int) -> str:
    return next((card.client.name for i, card in prepared if i == index), "")


def update_client(user: User, client: Client, *, version: int | None, name: str | None = None,
                  stage: str | None = None, owner_id: int | None = None, tags=None, co_owner_ids=None,
                  fields: dict | None = None, action: str = "edit", note: str = "",
                  template: CardTemplate | None = None, required_keys=None, access_checked: bool = False,
                  churn_reason: str | None = None) -> Client:
    """Apply a partial change (fields merged key by key; None clears) with optimistic locking and history.
    Raises NotAllowed (before looking at any value), VersionConflict or ValidationFailed. `access_checked`:
    the caller (merge, hand-over) applied its own rule for owners and values. A move to the churn stage (流失)
    needs `churn_reason` from the tenant's list; it is kept as the note of the change, which the review counts."""
    tenant = current_tenant()
    template = template or cached_template()
    if not access_checked:
        _check_update_allowed(user, client, template, owner_id=owner_id, co_owner_ids=co_owner_ids, fields=fields)
    if version is not None and version != client.version:
        newer = db.session.scalars(select(ClientChange).where(ClientChange.client_id == client.id,
                                                              ClientChange.version > version)
                                   .order_by(ClientChange.id)).all()
        raise VersionConflict(client, newer)
    if name is not None:
        name = normalize_text(name)
    if tags is not None:
        tags = clean_tags(tags)
    # Only new assignments must be active colleagues: a card keeps a deactivated owner or co-owner
    # (and person values pointing at them) until someone hands it over, so unrelated edits still save.
    new_owner = owner_id if owner_id is not None and owner_id != client.owner_id else None
    added_co = None if co_owner_ids is None else [i for i in co_owner_ids if i not in client.co_owner_ids]
    errors = _check_meta(tenant, name=name, stage=stage, owner_id=new_owner, tags=tags,
                         co_owner_ids=added_co, check_name=name is not None)
    if stage == CHURN_STAGE and client.stage != CHURN_STAGE and action not in RESTORING_ACTIONS:
        reasons = churn_reasons(tenant)
        if (churn_reason or "").strip() not in reasons:
            errors.setdefault("churn_reason", _l("Choose why this client was lost: %(choices)s.",
                                                 choices="、".join(reasons)))
        else:
            note = churn_reason.strip()
    fields_def = fields_by_key(template)
    person_ids = None
    if any(fields_def.get(k) is not None and fields_def[k].type == "person" for k in (fields or {})):
        held = {v for k, v in (client.values or {}).items()
                if fields_def.get(k) is not None and fields_def[k].type == "person" and isinstance(v, int)}
        person_ids = active_user_ids() | held
    values, field_errors = parse_fields(template, fields or {}, person_ids=person_ids, current=client.values)
    errors.update(field_errors)
    new_values = dict(client.values or {})
    for key, value in values.items():
        if is_empty(value):
            new_values.pop(key, None)
        else:
            new_values[key] = value
    # Required fields are enforced for the fields being saved (a section at a time, or the API's keys).
    check = required_keys if required_keys is not None else set(values)
    for key, msg in missing_required(template, new_values, only_keys=check).items():
        errors.setdefault(key, msg)
    if errors:
        raise ValidationFailed(errors)

    changes = {}
    for key in set(client.values or {}) | set(new_values):
        before, after = (client.values or {}).get(key), new_values.get(key)
        if before != after:
            changes[key] = {"from": before, "to": after}
    for meta, attr, value in (("@name", "name", name), ("@stage", "stage", stage), ("@owner", "owner_id", owner_id),
                              ("@tags", "tags", tags)):
        if value is not None and getattr(client, attr) != value:
            changes[meta] = {"from": getattr(client, attr), "to": value}
            setattr(client, attr, value)
    if co_owner_ids is not None:
        wanted = [i for i in dict.fromkeys(co_owner_ids) if i != client.owner_id]
        if sorted(wanted) != sorted(client.co_owner_ids):
            changes["@co_owners"] = {"from": sorted(client.co_owner_ids), "to": sorted(wanted)}
            client.co_owner_links = [link for link in client.co_owner_links if link.user_id in wanted] + [
                ClientCoOwner(user_id=uid, tenant_id=client.tenant_id)
                for uid in wanted if uid not in client.co_owner_ids]
    if not changes:
        return client
    client.values = new_values
    client.updated_at = utcnow()
    grade_before = client.grade
    derive_columns(template, client)
    if client.grade != grade_before:  # the save's own history entry shows the grade it moved
        changes["@grade"] = {"from": grade_before, "to": client.grade}
    flush_versioned(client)
    # Only field values feed the value index; the name feeds the match keys.
    write_side_rows(template, client, values_changed=any(not k.startswith("@") for k in changes))
    if {"@owner", "@stage", "@grade"} & set(changes):
        refresh_contacts([client.id])
    record_change(client, user, action, changes, note)
    return client


def _check_update_allowed(user: User, client: Client, template: CardTemplate, *, owner_id, co_owner_ids,
                          fields) -> None:
    require(user, "clients.edit", client, _l("Your role cannot change client cards."))
    if unreadable_keys(user, client, template, fields or {}):
        # Refused before any comparison: an unchanged version must not confirm a guessed value.
        raise NotAllowed(_l("Only admins and the card's owners can change its sensitive fields."))
    reassigning = (owner_id is not None and owner_id != client.owner_id) or (
        co_owner_ids is not None
        and set(co_owner_ids) - {client.owner_id if owner_id is None else owner_id} != set(client.co_owner_ids))
    if reassigning:
        require(user, "clients.reassign", client, _l("Only admins and the card's owners can change its owners."))


def flush_versioned(client: Client) -> None:
    """Flush the card's UPDATE; the version check turns a lost race into a VersionConflict."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        fresh = db.session.get(Client, client.id)
        raise VersionConflict(fresh, [])


def set_archived(user: User, client: Client, archived: bool) -> Client:
    """Archive or restore a card (recorded in its history); a restored card takes part in duplicate checks again."""
    require(user, "clients.edit", client, _l("Your role cannot change client cards."))
    if client.archived == archived:
        return client
    before = client.archived
    client.archived_at = utcnow() if archived else None
    client.updated_at = utcnow()
    flush_versioned(client)
    if not archived:  # a card merged away had its match keys removed
        write_match_keys(cached_template(), client)
    refresh_contacts([client.id])
    record_change(client, user, "archive" if archived else "restore", {"@archived": {"from": before, "to": archived}})
    return client


def rewrite_card_values(template: CardTemplate, actor: User | None, updates: dict[int, dict], note: str) -> int:
    """Write values a template change computed (option renamed or moved, type converted) to the cards, in the
    caller's transaction, each recorded in the card's history as a "template" change. Returns the cards changed.
    Raises VersionConflict when a card changed meanwhile."""
    if not updates:
        return 0
    count = 0
    clients = db.session.scalars(select(Client).where(Client.id.in_(list(updates))).order_by(Client.id)).all()
    for client in clients:
        values = dict(client.values or {})
        changes = {}
        for key, new in updates[client.id].items():
            before = values.get(key)
            if is_empty(new):
                values.pop(key, None)
                new = None
            else:
                values[key] = new
            if before != new:
                changes[key] = {"from": before, "to": new}
        if not changes:
            continue
        client.values = values
        client.updated_at = utcnow()
        grade_before = client.grade
        derive_columns(template, client)
        if client.grade != grade_before:
            changes["@grade"] = {"from": grade_before, "to": client.grade}
        flush_versioned(client)
        write_side_rows(template, client)
        if "@grade" in changes:
            refresh_contacts([client.id])
        record_change(client, actor, "template", changes, note)
        count += 1
    return count


def delete_permanently(user: User, client: Client) -> None:
    """Owners only: remove a card for good, leaving an audit record of what was removed."""
    require(user, "clients.delete", client, _l("Only owners delete cards permanently."))
    db.session.add(AuditRecord(actor_id=user.id, action="client.delete", subject=f"{client.number} {client.name}",
                               detail={"client_id": client.id, "number": client.number, "name": client.name}))
    delete_card_rows(client)


# Every table with rows of one card (SQLite runs without foreign-key enforcement, so no cascade removes them; a new
# card may even reuse the id of the last one deleted).
CARD_ROWS = (ClientMatchKey, ClientFieldValue, ClientSearchGrams, ClientContact, ClientView, ClientChange,
             ClientCoOwner)


def delete_card_rows(client: Client) -> None:
    """Delete a card and every row of it (permanent deletion, undoing the import that created it)."""
    for model in CARD_ROWS:
        db.session.execute(delete(model).where(model.client_id == client.id))
    db.session.delete(client)


HOME_COUNT_CAP = 10_000  # the home tile says "10,000+" beyond: the home page never counts a whole large tenant


def home_summary(user: User) -> dict:
    """The home page's tiles: the clients this user sees (capped) and owns, and the latest updated."""
    base = visible_clients(user).where(Client.archived_at.is_(None))
    capped = base.with_only_columns(Client.id).order_by(None).limit(HOME_COUNT_CAP + 1).subquery()
    total = db.session.execute(select(func.count()).select_from(capped)).scalar_one()
    mine = db.session.execute(base.with_only_columns(func.count(Client.id)).where(Client.owner_id == user.id)
                              .order_by(None)).scalar_one()
    recent = db.session.scalars(base.order_by(Client.updated_at.desc(), Client.id.desc()).limit(8)).all()
    label = f"{HOME_COUNT_CAP:,}+" if total > HOME_COUNT_CAP else f"{total:,}"
    return {"total": total, "total_label": label, "mine": mine, "recent": recent}


# ---------------------------------------------------------------- visit prep

STALE_DAYS = 180


@dataclass
class PrepItem:
    field: FieldDef
    reason: str  # required | brief | never | stale
    value: object = None
    last_changed: datetime | None = None


def visit_prep(template: CardTemplate, client: Client, now: datetime | None = None) -> list[PrepItem]:
    """What to find out at the next visit: empty required fields, then empty brief/identifier fields,
    then never-filled fields with questions to ask, then fields unchanged for over 180 days."""
    now = now or utcnow()
    last = field_last_changed(client)
    values = client.values or {}
    groups: dict[str, list[PrepItem]] = {"required": [], "brief": [], "never": [], "stale": []}
    for section in template.sections:
        if section.archived:
            continue
        for fd in section.active_fields:
            value = values.get(fd.key)
            if is_empty(value):
                if fd.required:
                    groups["required"].append(PrepItem(fd, "required"))
                elif fd.in_brief or fd.identifier:
                    groups["brief"].append(PrepItem(fd, "brief"))
                elif fd.key not in last and fd.t_hints():
                    groups["never"].append(PrepItem(fd, "never"))
                continue
            changed = last.get(fd.key) or client.created_at
            if changed is not None and (now - changed).days > STALE_DAYS:
                groups["stale"].append(PrepItem(fd, "stale", value, changed))
    groups["stale"].sort(key=lambda i: i.last_changed)
    return groups["required"] + groups["brief"] + groups["never"] + groups["stale"]
