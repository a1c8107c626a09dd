"""Client card services: every write to a card goes through here (UI, API and import alike)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field as dc_field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from app.accounts.models import AuditRecord, Tenant, User
from app.card_templates.models import CardTemplate, FieldDef
from app.card_templates.services import fields_by_key, load_template
from app.clients.models import (Client, ClientChange, ClientCoOwner, ClientFieldValue, ClientMatchKey,
                                ClientNumberCounter, ClientView)
from app.db_types import utcnow
from app.extensions import db
from app.tenancy import current_tenant, current_tenant_id
from app.values import (InvalidValue, display_value, is_empty, normalize_company_name, normalize_text,
                        parse_value, phone_digits, search_text)

# Card attributes that are not template fields are recorded in history under these keys.
META_KEYS = ("@name", "@stage", "@owner", "@co_owners", "@tags", "@grade", "@archived")
MAX_TAGS = 30


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


@dataclass
class DuplicateCandidate:
    client_id: int
    number: str
    name: str
    owner_name: str
    matched_on: list[str] = dc_field(default_factory=list)
    visible: bool = True


class DuplicateFound(Exception):
    def __init__(self, candidates: list[DuplicateCandidate]):
        super().__init__("likely duplicate")
        self.candidates = candidates


# ---------------------------------------------------------------- permissions and visibility

def members_see_all(tenant: Tenant | None = None) -> bool:
    tenant = tenant or current_tenant()
    return bool(tenant.setting("members_see_all")) if tenant else True


def visible_clients(user: User):
    """A SELECT of the clients this user may see (the tenant scope is added centrally)."""
    stmt = select(Client)
    if user.role == "member" and not members_see_all(user.tenant):
        co_owned = select(ClientCoOwner.client_id).where(ClientCoOwner.user_id == user.id)
        stmt = stmt.where(or_(Client.owner_id == user.id, Client.id.in_(co_owned)))
    return stmt


def get_visible_client(user: User, client_id: int) -> Client | None:
    return db.session.execute(visible_clients(user).where(Client.id == client_id)).scalar_one_or_none()


def is_client_owner(user: User, client: Client) -> bool:
    return client.owner_id == user.id or user.id in client.co_owner_ids


def can_see_sensitive(user: User, client: Client | None) -> bool:
    """Sensitive fields: admins, and the client's owner and co-owners."""
    if user.is_admin:
        return True
    return client is not None and user.role != "viewer" and is_client_owner(user, client)


def can_edit_client(user: User, client: Client | None = None) -> bool:
    return user.can_edit


# ---------------------------------------------------------------- values

def active_user_ids() -> set[int]:
    return set(db.session.scalars(select(User.id).where(User.active.is_(True))))


def parse_fields(template: CardTemplate, raw: dict, *, allow_retired: bool = False,
                 person_ids: set[int] | None = None, current: dict | None = None) -> tuple[dict, dict]:
    """Parse raw input for the given field keys: (values with None for cleared keys, errors)."""
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


def _adds_retired_option(fd: FieldDef, new, old) -> bool:
    """A retired option may stay on a card that has it, but is never chosen anew."""
    if fd.type not in ("select", "multiselect") or not fd.retired_options or new is None:
        return False
    as_set = lambda v: set(v) if isinstance(v, list) else ({v} if v is not None else set())  # noqa: E731
    return bool((as_set(new) - as_set(old)) & set(fd.retired_options))


def missing_required(template: CardTemplate, values: dict, only_keys=None) -> dict:
    errors = {}
    for fd in fields_by_key(template, include_archived=False).values():
        if only_keys is not None and fd.key not in only_keys:
            continue
        if fd.required and is_empty(values.get(fd.key)):
            errors[fd.key] = _l("%(label)s is required.", label=fd.t())
    return errors


def completeness(template: CardTemplate, values: dict) -> float:
    """Share of the card filled, required fields weighing three times as much."""
    total = filled = 0
    for fd in fields_by_key(template, include_archived=False).values():
        weight = 3 if fd.required else 1
        total += weight
        if not is_empty(values.get(fd.key)):
            filled += weight
    return round(filled / total, 4) if total else 1.0


def build_search_text(template: CardTemplate, client: Client) -> str:
    # Sensitive fields stay out of the search blob: a search must not reveal them.
    parts = [client.name or "", client.number or "", " ".join(client.tags or [])]
    fields = fields_by_key(template)
    for key, value in (client.values or {}).items():
        fd = fields.get(key)
        if fd is None or fd.sensitive or is_empty(value):
            continue
        try:
            parts.append(search_text(fd.type, value, fd.spec()))
        except Exception:  # a stored value never blocks a save
            parts.append(str(value))
    return normalize_text(" ".join(p for p in parts if p)).lower()[:20000]


def match_keys(template: CardTemplate, name: str, values: dict) -> set[tuple[str, str]]:
    """Normalized keys for duplicate detection; empty values never produce a key."""
    keys = set()
    norm = normalize_company_name(name or "")
    if norm:
        keys.add(("name", norm[:200]))
    for fd in fields_by_key(template).values():
        value = values.get(fd.key)
        if is_empty(value):
            continue
        cells = [value]
        if fd.type == "table":
            for row in value:
                for col in fd.columns or []:
                    if col.get("type") in ("phone", "email") and not is_empty(row.get(col["key"])):
                        keys |= _contact_keys(col["type"], row[col["key"]])
            continue
        if fd.type in ("phone", "email"):
            for cell in cells:
                keys |= _contact_keys(fd.type, cell)
        elif fd.identifier:
            norm_value = normalize_text(display_value(fd.type, value, fd.spec())).lower().replace(" ", "")
            if norm_value:
                keys.add((f"field:{fd.key}", norm_value[:200]))
    return keys


def _contact_keys(kind: str, value) -> set[tuple[str, str]]:
    if kind == "phone":
        digits = phone_digits(str(value))
        return {("phone", digits)} if len(digits) >= 5 else set()
    text = normalize_text(str(value)).lower()
    return {("email", text[:200])} if text else set()


def _write_match_keys(client: Client, keys: set[tuple[str, str]]) -> None:
    db.session.execute(delete(ClientMatchKey).where(ClientMatchKey.client_id == client.id))
    for kind, value in sorted(keys):
        db.session.add(ClientMatchKey(client_id=client.id, kind=kind, value=value))


INDEXED_NUM_TYPES = ("number", "money")
INDEXED_TXT_TYPES = ("date", "select", "multiselect")


def field_value_rows(template: CardTemplate, values: dict) -> list[tuple[str, float | None, str | None]]:
    """(key, num, txt) rows of ClientFieldValue for a card's values: what the list filters and sorts by."""
    return [row for fd in fields_by_key(template).values() for row in _field_value_rows(fd, values.get(fd.key))]


def _field_value_rows(fd: FieldDef, value) -> list[tuple[str, float | None, str | None]]:
    if is_empty(value):
        return []
    if fd.type in INDEXED_NUM_TYPES:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [(fd.key, float(value), None)]
    elif fd.type == "multiselect":
        return [(fd.key, None, o[:200]) for o in dict.fromkeys(value if isinstance(value, list) else [value])
                if isinstance(o, str)]
    elif fd.type in INDEXED_TXT_TYPES and isinstance(value, str):
        return [(fd.key, None, value[:200])]
    return []


def reindex_field_values(template: CardTemplate, key: str) -> None:
    """Rebuild one field's ClientFieldValue rows on every card of the tenant (after the field's type changed:
    a text field turned into a select keeps its values, but from now on the list filters by them)."""
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


def find_duplicates(user: User, template: CardTemplate, name: str, values: dict,
                    exclude_id: int | None = None) -> list[DuplicateCandidate]:
    """Clients that look like the same company; hidden ones reveal only that they exist and who owns them."""
    keys = match_keys(template, name, values)
    if not keys:
        return []
    conditions = [((ClientMatchKey.kind == kind) & (ClientMatchKey.value == value)) for kind, value in keys]
    rows = db.session.execute(select(ClientMatchKey.client_id, ClientMatchKey.kind).where(or_(*conditions))).all()
    matched: dict[int, list[str]] = {}
    for client_id, kind in rows:
        if client_id != exclude_id:
            matched.setdefault(client_id, []).append(kind.split(":", 1)[-1] if kind.startswith("field:") else kind)
    if not matched:
        return []
    visible_ids = set(db.session.scalars(visible_clients(user).with_only_columns(Client.id)
                                         .where(Client.id.in_(matched))))
    clients = db.session.scalars(select(Client).where(Client.id.in_(matched)).order_by(Client.id)).all()
    out = []
    for c in clients:
        owner = c.owner.display_name if c.owner else ""
        out.append(DuplicateCandidate(c.id, c.number, c.name, owner, sorted(set(matched[c.id])),
                                      visible=c.id in visible_ids))
    return out


# ---------------------------------------------------------------- numbers

_TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|SEQ(?::(\d))?)\}")


def validate_number_pattern(pattern: str) -> str | None:
    if not pattern or len(pattern) > 40:
        return _l("Enter a pattern of at most 40 characters.")
    if "{SEQ" not in pattern:
        return _l("The pattern needs a {SEQ} or {SEQ:3} part for the running number.")
    leftover = _TOKEN.sub("", pattern)
    if "{" in leftover or "}" in leftover:
        return _l("Use only {YYYY}, {YY}, {MM}, {DD} and {SEQ:n} in braces.")
    return None


def _number_period(tenant: Tenant, pattern: str, now: datetime | None) -> tuple[dict, str]:
    """The date parts of a pattern in the tenant's time zone, and the period its sequence counts in."""
    local = (now or utcnow()).astimezone(ZoneInfo(tenant.timezone or "Asia/Shanghai"))
    parts = {"YYYY": f"{local.year:04d}", "YY": f"{local.year % 100:02d}", "MM": f"{local.month:02d}",
             "DD": f"{local.day:02d}"}
    period = "".join(parts[m.group(1)] for m in _TOKEN.finditer(pattern) if not m.group(1).startswith("SEQ")) or "all"
    return parts, period


def _render_number(pattern: str, parts: dict, seq: int) -> str:
    def render(m):
        token = m.group(1)
        if token.startswith("SEQ"):
            return f"{seq:0{int(m.group(2) or 1)}d}"
        return parts[token]

    return _TOKEN.sub(render, pattern)


def preview_number(tenant: Tenant, pattern: str | None = None, now: datetime | None = None) -> str:
    """The number the next new client would get (nothing is allocated)."""
    pattern = pattern or tenant.setting("number_pattern")
    parts, period = _number_period(tenant, pattern, now)
    last = db.session.execute(select(ClientNumberCounter.last_value)
                              .where(ClientNumberCounter.period == period)).scalar_one_or_none() or 0
    return _render_number(pattern, parts, last + 1)


def allocate_number(tenant: Tenant, now: datetime | None = None) -> str:
    """The next client number: gap-free per period, under concurrent creation (row lock on the counter)."""
    pattern = tenant.setting("number_pattern")
    parts, period = _number_period(tenant, pattern, now)
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    db.session.execute(dialect_insert(ClientNumberCounter).values(tenant_id=tenant.id, period=period, last_value=0)
                       .on_conflict_do_nothing(index_elements=["tenant_id", "period"]))
    seq = db.session.execute(
        update(ClientNumberCounter).where(ClientNumberCounter.period == period)
        .values(last_value=ClientNumberCounter.last_value + 1).returning(ClientNumberCounter.last_value)
    ).scalar_one()
    return _render_number(pattern, parts, seq)


# ---------------------------------------------------------------- writes

def _check_meta(tenant: Tenant, *, name=None, stage=None, owner_id=None, tags=None, co_owner_ids=None,
                check_name=True) -> dict:
    errors = {}
    if check_name:
        if not name or not normalize_text(name):
            errors["name"] = _l("Enter the client's name.")
        elif len(name) > 200:
            errors["name"] = _l("Use at most %(n)d characters.", n=200)
    if stage is not None and stage not in tenant.stages:
        errors["stage"] = _l("Choose one of: %(choices)s.", choices="、".join(tenant.stages))
    ids = active_user_ids() if (owner_id is not None or co_owner_ids) else set()
    if owner_id is not None and owner_id not in ids:
        errors["owner"] = _l("Choose an active colleague as owner.")
    if co_owner_ids and not set(co_owner_ids) <= ids:
        errors["co_owners"] = _l("Co-owners must be active colleagues.")
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


def _record(client: Client, actor: User | None, action: str, changes: dict, note: str = "") -> ClientChange:
    change = ClientChange(client_id=client.id, version=client.version, actor_id=actor.id if actor else None,
                          action=action, changes=changes, note=note[:500])
    db.session.add(change)
    return change


def _derive(template: CardTemplate, client: Client) -> None:
    # Set before the card's flush, so one save is one UPDATE and one version.
    client.completeness = completeness(template, client.values or {})
    client.search_text = build_search_text(template, client)


def _refresh_derived(template: CardTemplate, client: Client) -> None:
    _derive(template, client)
    _write_match_keys(client, match_keys(template, client.name, client.values or {}))
    write_field_values(template, client)


def create_client(user: User, *, name: str, stage: str | None = None, owner_id: int | None = None,
                  tags=None, fields: dict | None = None, co_owner_ids=None, allow_duplicate: bool = False,
                  template: CardTemplate | None = None, enforce_required: bool = True) -> Client:
    """Validate and create a client card, number it and record its creation. Raises ValidationFailed/DuplicateFound."""
    tenant = current_tenant()
    template = template or load_template()
    name = normalize_text(name or "")
    stage = stage or tenant.stages[0]
    owner_id = owner_id if owner_id is not None else user.id
    tags = clean_tags(tags)
    co_owner_ids = [i for i in dict.fromkeys(co_owner_ids or []) if i != owner_id]
    errors = _check_meta(tenant, name=name, stage=stage, owner_id=owner_id, tags=tags, co_owner_ids=co_owner_ids)
    values, field_errors = parse_fields(template, fields or {})
    errors.update(field_errors)
    values = {k: v for k, v in values.items() if not is_empty(v)}
    if enforce_required:
        for key, msg in missing_required(template, values).items():
            errors.setdefault(key, msg)
    if errors:
        raise ValidationFailed(errors)
    if not allow_duplicate:
        candidates = find_duplicates(user, template, name, values)
        if candidates:
            raise DuplicateFound(candidates)
    now = utcnow()
    client = Client(number=allocate_number(tenant), name=name, stage=stage, owner_id=owner_id, tags=tags,
                    values=values, created_by_id=user.id if user else None, created_at=now, updated_at=now)
    _derive(template, client)
    db.session.add(client)
    db.session.flush()
    for uid in co_owner_ids:
        client.co_owner_links.append(ClientCoOwner(user_id=uid, tenant_id=client.tenant_id))
    _write_match_keys(client, match_keys(template, client.name, client.values or {}))
    write_field_values(template, client)
    changes = {"@name": {"from": None, "to": name}, "@stage": {"from": None, "to": stage},
               "@owner": {"from": None, "to": owner_id}}
    if tags:
        changes["@tags"] = {"from": None, "to": tags}
    changes.update({k: {"from": None, "to": v} for k, v in values.items()})
    _record(client, user, "create", changes)
    return client


def update_client(user: User, client: Client, *, version: int | None, name: str | None = None,
                  stage: str | None = None, owner_id: int | None = None, tags=None, co_owner_ids=None,
                  fields: dict | None = None, action: str = "edit", note: str = "",
                  template: CardTemplate | None = None, required_keys=None) -> Client:
    """Apply a partial change (fields merged key by key; None clears) with optimistic locking and history."""
    tenant = current_tenant()
    template = template or load_template()
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
            client.co_owner_links = [l for l in client.co_owner_links if l.user_id in wanted] + [
                ClientCoOwner(user_id=uid, tenant_id=client.tenant_id)
                for uid in wanted if uid not in client.co_owner_ids]
    if not changes:
        return client
    client.values = new_values
    client.updated_at = utcnow()
    _derive(template, client)
    _flush_versioned(client)
    _write_match_keys(client, match_keys(template, client.name, client.values or {}))
    if any(not k.startswith("@") for k in changes):  # only field values feed ClientFieldValue
        write_field_values(template, client)
    _record(client, user, action, changes, note)
    return client


def _flush_versioned(client: Client) -> None:
    """Flush the card's UPDATE; the version check turns a lost race into a VersionConflict."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        fresh = db.session.get(Client, client.id)
        raise VersionConflict(fresh, [])


def set_archived(user: User, client: Client, archived: bool) -> Client:
    """Archive or restore a card (recorded in its history); a restored card takes part in duplicate checks again."""
    if client.archived == archived:
        return client
    before = client.archived
    client.archived_at = utcnow() if archived else None
    client.updated_at = utcnow()
    _flush_versioned(client)
    if not archived:  # a card merged away had its match keys removed
        _write_match_keys(client, match_keys(load_template(), client.name, client.values or {}))
    _record(client, user, "archive" if archived else "restore", {"@archived": {"from": before, "to": archived}})
    return client


class NotAllowed(Exception):
    """The user's role does not allow this action."""


def delete_permanently(user: User, client: Client) -> None:
    """Owners only: remove a card for good, leaving an audit record of what was removed."""
    if user is None or user.role != "owner":
        raise NotAllowed("only owners delete cards permanently")
    db.session.add(AuditRecord(actor_id=user.id, action="client.delete", subject=f"{client.number} {client.name}",
                               detail={"client_id": client.id, "number": client.number, "name": client.name}))
    db.session.execute(delete(ClientMatchKey).where(ClientMatchKey.client_id == client.id))
    db.session.execute(delete(ClientFieldValue).where(ClientFieldValue.client_id == client.id))
    db.session.execute(delete(ClientView).where(ClientView.client_id == client.id))
    db.session.execute(delete(ClientChange).where(ClientChange.client_id == client.id))
    db.session.execute(delete(ClientCoOwner).where(ClientCoOwner.client_id == client.id))
    db.session.delete(client)


VIEW_KINDS = ("open", "print", "pdf", "export", "share", "sensitive", "prep")


def record_view(user: User | None, client: Client, kind: str = "open", reason: str = "") -> None:
    """Log one look at a card (查阅登记): open, print, PDF, export, share, prep, or a sensitive reveal with its reason."""
    db.session.add(ClientView(client_id=client.id, user_id=user.id if user else None, kind=kind,
                              reason=(reason or "")[:500]))


def view_log(client: Client, limit: int = 500) -> list[ClientView]:
    """The latest views of one card, newest first."""
    return db.session.scalars(select(ClientView).where(ClientView.client_id == client.id)
                              .order_by(ClientView.id.desc()).limit(limit)).all()


def views_by_user(user_id: int, limit: int = 500) -> list[tuple[ClientView, Client]]:
    """The latest cards one user looked at, newest first, with the card."""
    return db.session.execute(select(ClientView, Client).join(Client, Client.id == ClientView.client_id)
                              .where(ClientView.user_id == user_id)
                              .order_by(ClientView.id.desc()).limit(limit)).all()


def history(client: Client) -> list[ClientChange]:
    """The card's recorded changes, newest first."""
    return db.session.scalars(select(ClientChange).where(ClientChange.client_id == client.id)
                              .order_by(ClientChange.id.desc())).all()


def merged_card_ids(client: Client) -> list[int]:
    """Ids of the cards merged into this one, directly or through earlier merges."""
    found: list[int] = []
    queue = [client.id]
    while queue:
        cid = queue.pop()
        for change in db.session.scalars(select(ClientChange).where(ClientChange.client_id == cid,
                                                                    ClientChange.action == "merge")):
            other = ((change.changes or {}).get("@merged_from") or {}).get("to") or {}
            oid = other.get("id") if isinstance(other, dict) else None
            if isinstance(oid, int) and oid not in found and oid != client.id:
                found.append(oid)
                queue.append(oid)
    return found


def history_with_merged(client: Client) -> list[ClientChange]:
    """This card's history and that of every card merged into it, newest first."""
    ids = [client.id, *merged_card_ids(client)]
    return db.session.scalars(select(ClientChange).where(ClientChange.client_id.in_(ids))
                              .order_by(ClientChange.at.desc(), ClientChange.id.desc())).all()


def state_as_of(client: Client, version: int) -> dict:
    """The card's name, stage, owner, tags and values as they were at a past version."""
    state = {"@name": client.name, "@stage": client.stage, "@owner": client.owner_id, "@tags": list(client.tags or []),
             "@co_owners": sorted(client.co_owner_ids), "@grade": client.grade, "@archived": client.archived,
             "values": dict(client.values or {})}
    for change in db.session.scalars(select(ClientChange).where(ClientChange.client_id == client.id,
                                                                ClientChange.version > version)
                                     .order_by(ClientChange.id.desc())):
        for key, diff in (change.changes or {}).items():
            if key.startswith("@"):
                state[key] = diff.get("from")
            elif diff.get("from") is None:
                state["values"].pop(key, None)
            else:
                state["values"][key] = diff["from"]
    return state


def home_summary(user: User) -> dict:
    base = visible_clients(user).where(Client.archived_at.is_(None))
    total = db.session.execute(base.with_only_columns(func.count(Client.id)).order_by(None)).scalar_one()
    mine = db.session.execute(base.with_only_columns(func.count(Client.id)).where(Client.owner_id == user.id)
                              .order_by(None)).scalar_one()
    recent = db.session.scalars(base.order_by(Client.updated_at.desc(), Client.id.desc()).limit(8)).all()
    return {"total": total, "mine": mine, "recent": recent}


# ---------------------------------------------------------------- visit prep

STALE_DAYS = 180


@dataclass
class PrepItem:
    field: FieldDef
    reason: str  # required | brief | never | stale
    value: object = None
    last_changed: datetime | None = None


def field_last_changed(client: Client) -> dict[str, datetime]:
    """When each field last changed, from the card's history."""
    out: dict[str, datetime] = {}
    for key, at in db.session.execute(select(ClientChange.changes, ClientChange.at)
                                      .where(ClientChange.client_id == client.id).order_by(ClientChange.id)):
        for k in key or {}:
            out[k] = at
    return out


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
