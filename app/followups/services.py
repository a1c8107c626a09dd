"""Follow-ups, grading operations (override, preview, re-grade) and the due list. Plain functions; routes and the
API call them with explicit arguments and commit once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, insert, or_, select, update

from app.accounts.models import User
from app.card_templates.services import fields_by_key, load_template
from app.clients.access import is_admin, require, visible_clients
from app.clients.handover import register_handover_hook
from app.clients.history import record_change
from app.clients.merge import register_merge_hook
from app.clients.models import Client, ClientChange, ClientCoOwner, ClientFieldValue
from app.clients.services import ValidationFailed, flush_versioned
from app.db_types import utcnow
from app.extensions import db
from app.followups.contacts import (CHURN_STAGE, DEFAULT_CHURN_REASONS, churn_reasons,  # noqa: F401
                                   recompute_due, refresh_contacts, rule_of, set_grades, stop_due)
from app.followups.grading import grade_for, parse_rules, rules_of
from app.followups.models import ClientContact, FollowUp, FollowUpRevision
from app.tenancy import current_tenant
from app.values import InvalidValue, parse_value

DEFAULT_METHODS = ["电话", "上门拜访", "邮件", "微信", "视频会议"]
FOLLOWUP_FIELDS = ("date", "method", "content", "feedback", "plan", "next_date", "satisfaction")
MAX_TEXT = 4000


def local_today(tenant=None) -> date:
    """Today in the tenant's time zone (Asia/Shanghai unless set)."""
    tenant = tenant or current_tenant()
    try:
        zone = ZoneInfo((tenant.timezone if tenant else None) or "Asia/Shanghai")
    except Exception:
        zone = ZoneInfo("Asia/Shanghai")
    return datetime.now(zone).date()


def methods(tenant=None) -> list[str]:
    return list(((tenant or current_tenant()).settings or {}).get("followup_methods") or DEFAULT_METHODS)


# ---------------------------------------------------------------- grading

@dataclass
class GradeMove:
    client_id: int
    number: str
    name: str
    before: str | None
    after: str | None
    version: int


def grade_moves(rules: dict) -> list[GradeMove]:
    """Every card whose rule grade would change under `rules` (manual overrides stay), by number. Values come from
    the value index (never a sensitive value, and no card JSON read)."""
    if rules.get("mode") == "points":
        return _points_moves(rules)
    value = ClientFieldValue
    rows = db.session.execute(
        select(Client.id, Client.number, Client.name, Client.grade, Client.version, value.num)
        .outerjoin(value, and_(value.client_id == Client.id, value.key == rules["field"], value.num.is_not(None)))
        .where(or_(Client.grade_source.is_(None), Client.grade_source != "manual"))
        .order_by(Client.number, Client.id))
    moves = []
    for cid, number, name, before, version, num in rows:
        after = grade_for(rules, {rules["field"]: num} if num is not None else {})
        if after != before:
            moves.append(GradeMove(cid, number, name, before, after, version))
    return moves


def _points_moves(rules: dict) -> list[GradeMove]:
    keys = [f["field"] for f in rules["factors"]]
    values: dict[int, dict] = {}
    for cid, key, num, txt in db.session.execute(
            select(ClientFieldValue.client_id, ClientFieldValue.key, ClientFieldValue.num, ClientFieldValue.txt)
            .where(ClientFieldValue.key.in_(keys))):
        values.setdefault(cid, {})[key] = num if num is not None else txt
    moves = []
    for cid, number, name, before, version in db.session.execute(
            select(Client.id, Client.number, Client.name, Client.grade, Client.version)
            .where(or_(Client.grade_source.is_(None), Client.grade_source != "manual"))
            .order_by(Client.number, Client.id)):
        after = grade_for(rules, values.get(cid, {}))
        if after != before:
            moves.append(GradeMove(cid, number, name, before, after, version))
    return moves


def summarize_moves(moves: list[GradeMove]) -> list[tuple[str | None, str | None, int]]:
    """(from, to, count) per kind of move, largest first: "23 clients go from B to A"."""
    counts: dict = {}
    for m in moves:
        counts[(m.before, m.after)] = counts.get((m.before, m.after), 0) + 1
    return sorted(((a, b, n) for (a, b), n in counts.items()), key=lambda t: (-t[2], str(t[0]), str(t[1])))


def validate_rules(data: dict) -> dict:
    """The rules from input, or ValidationFailed."""
    rules, errors = parse_rules(data, fields_by_key(load_template()))
    if errors:
        raise ValidationFailed(errors)
    return rules


def save_rules_and_regrade(actor: User, data: dict) -> tuple[dict, int]:
    """Admins: store the tenant's grading rules and re-grade every card in this transaction; each card whose grade
    changed gets a history entry. Returns (rules, number re-graded)."""
    require(actor, "clients.edit", None, _l("Your role cannot change client cards."))
    if not is_admin(actor):
        from app.clients.access import NotAllowed
        raise NotAllowed(_l("Only owners and admins change the grading rules."))
    rules = validate_rules(data)
    tenant = current_tenant()
    tenant.update_settings(grading=rules)
    db.session.flush()
    moves = grade_moves(rules)
    by_target: dict = {}
    for m in moves:
        by_target.setdefault(m.after, []).append(m.client_id)
    for grade, ids in by_target.items():
        for start in range(0, len(ids), 1000):
            # A derived column, not a card edit: no version bump, so nobody's open form goes stale.
            db.session.execute(update(Client).where(Client.id.in_(ids[start:start + 1000]))
                               .values(grade=grade, grade_source="rule" if grade else None),
                               execution_options={"synchronize_session": False})
            set_grades(grade, ids[start:start + 1000])
    recompute_due(rules)  # new grades or a new cadence move the due dates
    if moves:
        now = utcnow()
        db.session.execute(ClientChange.__table__.insert(), [
            {"tenant_id": tenant.id, "client_id": m.client_id, "version": m.version, "actor_id": actor.id, "at": now,
             "action": "grade", "changes": {"@grade": {"from": m.before, "to": m.after}}, "note": ""}
            for m in moves])
    db.session.expire_all()
    return rules, len(moves)


def set_grade_override(user: User, client: Client, grade: str | None, reason: str = "") -> Client:
    """Fix a card's grade by hand with a reason (sticky until cleared), or clear it (grade None: the rules apply)."""
    require(user, "clients.edit", client, _l("Your role cannot change client cards."))
    rules = rules_of(current_tenant())
    before = (client.grade, client.grade_source)
    reason = (reason or "").strip()
    if grade is not None:
        names = [g["name"] for g in rules["grades"]]
        errors = {}
        if grade not in names:
            errors["grade"] = _l("Choose one of: %(choices)s.", choices="、".join(names))
        if not reason:
            errors["reason"] = _l("Say why this client gets a different grade.")
        elif len(reason) > 300:
            errors["reason"] = _l("Use at most %(n)d characters.", n=300)
        if errors:
            raise ValidationFailed(errors)
        client.grade, client.grade_source = grade, "manual"
    else:
        if client.grade_source != "manual":
            return client
        client.grade_source = None
        client.grade = grade_for(rules, client.values or {})
        client.grade_source = "rule" if client.grade else None
    client.updated_at = utcnow()
    flush_versioned(client)
    refresh_contacts([client.id])
    record_change(client, user, "grade", {"@grade": {"from": before[0], "to": client.grade},
                                          "@grade_source": {"from": before[1], "to": client.grade_source}},
                  note=reason if grade is not None else "")
    return client


def apply_grade_override(user, client, data: dict) -> None:
    """PATCH /clients/{id} with "grade_override": {"grade", "reason"} sets a manual grade; null clears it.
    Raises ValidationFailed with the errors under "grade_override"."""
    if "grade_override" not in data:
        return
    value = data["grade_override"]
    if value is not None:
        if not isinstance(value, dict) or set(value) - {"grade", "reason"} or not isinstance(value.get("grade"), str) \
                or not isinstance(value.get("reason", ""), str):
            raise ValidationFailed({"grade_override": _l("Send {\"grade\": …, \"reason\": …} or null.")})
    try:
        set_grade_override(user, client, value["grade"] if value else None, (value or {}).get("reason", ""))
    except ValidationFailed as e:
        raise ValidationFailed({"grade_override": " ".join(str(m) for m in e.errors.values())}) from None


def override_reason(client: Client) -> str:
    """The reason given for a card's manual grade (its latest grade change)."""
    if client.grade_source != "manual":
        return ""
    change = db.session.scalars(select(ClientChange).where(ClientChange.client_id == client.id,
                                                           ClientChange.action == "grade")
                                .order_by(ClientChange.id.desc()).limit(1)).first()
    return change.note if change else ""


def mark_churned(user: User, client: Client, reason: str, *, version: int | None = None) -> Client:
    """Move a client to the churn stage (流失) with a reason from the tenant's list; the reason is kept as the note
    of the stage change, which the quarterly review counts."""
    from app.clients.services import update_client

    require(user, "clients.edit", client, _l("Your role cannot change client cards."))
    reasons = churn_reasons()
    tenant = current_tenant()
    errors = {}
    if CHURN_STAGE not in tenant.stages:
        errors["stage"] = _l("This company has no stage %(stage)s.", stage=CHURN_STAGE)
    if reason not in reasons:
        errors["churn_reason"] = _l("Choose one of: %(choices)s.", choices="、".join(reasons))
    if errors:
        raise ValidationFailed(errors)
    return update_client(user, client, version=version, stage=CHURN_STAGE, churn_reason=reason)


# ---------------------------------------------------------------- follow-ups

def parse_followup(raw: dict, *, partial: bool = False) -> tuple[dict, dict]:
    """Parse form or JSON input of a follow-up: (values, errors). Dates accept the Chinese formats."""
    values, errors = {}, {}
    allowed = methods()
    for name in FOLLOWUP_FIELDS:
        if partial and name not in raw:
            continue
        value = raw.get(name)
        if isinstance(value, str):
            value = value.strip()
        if name in ("date", "next_date"):
            if value in (None, ""):
                if name == "date":
                    errors[name] = _l("Enter the date of the contact.")
                else:
                    values[name] = None
                continue
            try:
                values[name] = date.fromisoformat(parse_value("date", value, {}))
            except (InvalidValue, ValueError, TypeError):
                errors[name] = _l("Enter a date such as 2024-06-30 or 2024年6月30日.")
        elif name == "method":
            if value not in allowed:
                errors[name] = _l("Choose one of: %(choices)s.", choices="、".join(allowed))
            else:
                values[name] = value
        elif name == "satisfaction":
            if value in (None, ""):
                values[name] = None
                continue
            try:
                number = int(value) if not isinstance(value, bool) else None
            except (TypeError, ValueError):
                number = None
            if number is None or not 1 <= number <= 5 or (isinstance(value, float) and value != number):
                errors[name] = _l("Rate satisfaction from 1 to 5.")
            else:
                values[name] = number
        else:
            if value is not None and not isinstance(value, str):
                errors[name] = _l("Enter text.")
            elif value and len(value) > MAX_TEXT:
                errors[name] = _l("Use at most %(n)d characters.", n=MAX_TEXT)
            elif name == "content" and not value:
                errors[name] = _l("Write what was discussed.")
            else:
                values[name] = value or ""
    if not errors and values.get("next_date") and values.get("date") and values["next_date"] < values["date"]:
        errors["next_date"] = _l("The next contact comes after this one.")
    if not errors and values.get("date") and values["date"] > local_today() + timedelta(days=1):
        errors["date"] = _l("A follow-up records a contact that happened; plan later ones as the next contact date.")
    return values, errors


def add_followup(user: User, client: Client, raw: dict) -> FollowUp:
    """Record a contact with the client. Raises NotAllowed or ValidationFailed (nothing written)."""
    followup = FollowUp(**prepare_followup(user, client, raw))
    db.session.add(followup)
    db.session.flush()
    refresh_contacts([client.id])
    return followup


def prepare_followup(user: User, client: Client, raw: dict, *, author_id: int | None = None) -> dict:
    """Check one follow-up of a card without writing it: the column values `write_followups` inserts.
    `author_id` keeps the original author of an imported record (default: the user). Raises NotAllowed or
    ValidationFailed."""
    require(user, "clients.edit", client, _l("Your role cannot log follow-ups."))
    values, errors = parse_followup(raw)
    if errors:
        raise ValidationFailed(errors)
    return {"client_id": client.id, "author_id": author_id or user.id,
            "assignee_id": client.owner_id or user.id, **values}


def write_followups(rows: list[dict]) -> list[int]:
    """Insert prepared follow-ups in one statement (import, restore); their ids in the order given."""
    if not rows:
        return []
    tid, now = current_tenant().id, utcnow()
    stmt = insert(FollowUp).returning(FollowUp.id, sort_by_parameter_order=True)
    ids = list(db.session.scalars(stmt, [{"tenant_id": tid, "created_at": now, "updated_at": now, **row}
                                         for row in rows]))
    refresh_contacts(row["client_id"] for row in rows)
    return ids


def remove_followups(ids: list[int]) -> tuple[int, int]:
    """Delete the given follow-ups (undo of an import): (removed, kept). One edited since it was written is kept,
    so no later work is lost."""
    removed = kept = 0
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        edited = set(db.session.scalars(select(FollowUpRevision.follow_up_id)
                                        .where(FollowUpRevision.follow_up_id.in_(chunk))))
        found = db.session.execute(select(FollowUp.id, FollowUp.client_id).where(FollowUp.id.in_(chunk))).all()
        gone = [i for i, _cid in found if i not in edited]
        kept += len(edited)
        if gone:
            db.session.execute(delete(FollowUp).where(FollowUp.id.in_(gone)),
                               execution_options={"synchronize_session": False})
            refresh_contacts(cid for i, cid in found if i not in edited)
        removed += len(gone)
    return removed, kept


def can_edit_followup(user: User, followup: FollowUp, client: Client) -> bool:
    from app.clients.access import can
    return can(user, "clients.edit", client) and (is_admin(user) or followup.author_id == user.id)


def update_followup(user: User, followup: FollowUp, client: Client, raw: dict) -> FollowUp:
    """The author or an admin changes a follow-up; the values before are kept as a revision."""
    if not can_edit_followup(user, followup, client):
        from app.clients.access import NotAllowed
        raise NotAllowed(_l("Only the author and admins edit a follow-up."))
    values, errors = parse_followup(raw, partial=True)
    if errors:
        raise ValidationFailed(errors)
    changes = {}
    for name, value in values.items():
        before = getattr(followup, name)
        if before != value:
            changes[name] = {"from": before.isoformat() if isinstance(before, date) else before,
                             "to": value.isoformat() if isinstance(value, date) else value}
            setattr(followup, name, value)
    if changes:
        followup.updated_at = utcnow()
        db.session.add(FollowUpRevision(follow_up_id=followup.id, actor_id=user.id, changes=changes))
        db.session.flush()
        if {"date", "next_date"} & set(changes):
            refresh_contacts([client.id])
    return followup


def followups_of(client: Client, limit: int = 200) -> list[FollowUp]:
    """The card's follow-ups, latest contact first."""
    return db.session.scalars(select(FollowUp).where(FollowUp.client_id == client.id)
                              .order_by(FollowUp.date.desc(), FollowUp.id.desc()).limit(limit)).all()


def revisions_of(followup: FollowUp) -> list[FollowUpRevision]:
    return db.session.scalars(select(FollowUpRevision).where(FollowUpRevision.follow_up_id == followup.id)
                              .order_by(FollowUpRevision.id.desc())).all()


@register_merge_hook
def _move_followups(actor: User, kept: Client, other: Client) -> None:
    # The contact record follows the client: the merged-away card's follow-ups now belong to the kept one.
    db.session.execute(update(FollowUp).where(FollowUp.client_id == other.id).values(client_id=kept.id),
                       execution_options={"synchronize_session": False})
    refresh_contacts([kept.id])
    stop_due(other.id)  # archived right after the hooks


@register_handover_hook
def _hand_over_followups(actor: User, from_user: User, moved: dict[int, int]) -> None:
    # Planned next contacts of the leaver's cards go to the cards' new owners; the records keep their author.
    by_owner: dict[int, list[int]] = {}
    for client_id, to in moved.items():
        by_owner.setdefault(to, []).append(client_id)
    for to, ids in by_owner.items():
        db.session.execute(update(FollowUp).where(FollowUp.client_id.in_(ids), FollowUp.assignee_id == from_user.id)
                           .values(assignee_id=to), execution_options={"synchronize_session": False})


# ---------------------------------------------------------------- the due list

@dataclass
class DueItem:
    client_id: int
    number: str
    name: str
    grade: str | None
    last_contact: date | None
    due_date: date
    days_overdue: int
    rule: str  # next_date | cadence | first_visit


def my_clients(user: User):
    """The active cards this user owns or co-owns (churned ones excluded): whom they should call."""
    co = select(ClientCoOwner.client_id).where(ClientCoOwner.user_id == user.id)
    return (visible_clients(user).where(Client.archived_at.is_(None), Client.stage != CHURN_STAGE)
            .where(or_(Client.owner_id == user.id, Client.id.in_(co))))


def _due_rows(user: User, until: date):
    """(client_id, due_date, last_contact, next_date) of the user's own and co-owned active cards due by `until`,
    from the contact summary (an owner or co-owner always sees the card, so no other access rule applies)."""
    co = select(ClientCoOwner.client_id).where(ClientCoOwner.user_id == user.id)
    cols = (ClientContact.client_id, ClientContact.due_date, ClientContact.last_contact, ClientContact.next_date)
    own = select(*cols).where(ClientContact.owner_id == user.id, ClientContact.due_date <= until)
    shared = select(*cols).where(ClientContact.client_id.in_(co), ClientContact.due_date <= until,
                                 or_(ClientContact.owner_id.is_(None), ClientContact.owner_id != user.id))
    return own.union_all(shared).subquery()


def _items(rows, today: date) -> list[DueItem]:
    return [DueItem(r.client_id, r.number, r.name, r.grade, r.last_contact, r.due_date, (today - r.due_date).days,
                    rule_of(r.last_contact, r.next_date)) for r in rows]


def _due_select(due, *, where=None, limit: int | None = None):
    """The due rows in order (most overdue first; the same day by card), limited before the cards are joined, so
    a short list reads only its own cards."""
    inner = select(due).order_by(due.c.due_date, due.c.client_id)
    if where is not None:
        inner = inner.where(where)
    if limit is not None:
        inner = inner.limit(limit)
    inner = inner.subquery()
    return (select(inner, Client.number, Client.name, Client.grade).join(Client, Client.id == inner.c.client_id)
            .order_by(inner.c.due_date, inner.c.client_id))


def due_list(user: User, *, until: date, today: date | None = None, limit: int | None = None) -> list[DueItem]:
    """The user's clients due for contact by `until`, most overdue first (the same day in the order the cards were
    made): due from the latest follow-up's next contact date, else the last contact plus the grade's cadence, else
    the first-visit rule from creation."""
    today = today or local_today()
    return _items(db.session.execute(_due_select(_due_rows(user, until), limit=limit)), today)


@dataclass
class DueOverview:
    overdue: list[DueItem]
    due_today: list[DueItem]
    this_week: list[DueItem]
    counts: dict  # overdue / due_today / this_week -> number


def due_overview(user: User, *, today: date, until: date, limit: int = 50) -> DueOverview:
    """Today's lists: the most overdue, due today and up to `until`, each at most `limit` long, with their counts
    (a few index range scans whatever the number of clients)."""
    due = _due_rows(user, until)
    n = db.session.execute(select(
        func.count().filter(due.c.due_date < today), func.count().filter(due.c.due_date == today),
        func.count().filter(due.c.due_date > today))).one()
    overdue = _items(db.session.execute(_due_select(due, where=due.c.due_date < today, limit=limit)), today)
    today_items = _items(db.session.execute(_due_select(due, where=due.c.due_date == today, limit=limit)), today)
    week = _items(db.session.execute(_due_select(due, where=due.c.due_date > today, limit=limit)), today)
    return DueOverview(overdue, today_items, week,
                       {"overdue": n[0] or 0, "due_today": n[1] or 0, "this_week": n[2] or 0})
