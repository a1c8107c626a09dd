"""The contact summary (client_contact): per card its owner, grade, last contact, the latest follow-up's next
contact date and the due date, kept in step by the card services (create, save, archive, grade) and the follow-up
services in the same transaction. Today, the due list and the calendar feed read only the rows due in their window;
a rule change moves the due dates with a few set-based UPDATEs. Dates, owner and grade only: no field value."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update

from app.clients.derived import _upsert
from app.clients.models import Client
from app.extensions import db
from app.followups.grading import rules_of
from app.followups.models import ClientContact, FollowUp
from app.tenancy import current_tenant

CHURN_STAGE = "流失"
DEFAULT_CHURN_REASONS = ["价格", "服务不满意", "被竞争对手抢走", "客户业务变化", "联系不上", "其他"]
CHUNK = 2000


def churn_reasons(tenant=None) -> list[str]:
    """The tenant's reasons a client is lost (流失), in the order offered."""
    return list(((tenant or current_tenant()).settings or {}).get("churn_reasons") or DEFAULT_CHURN_REASONS)


def tenant_zone(tenant) -> ZoneInfo:
    try:
        return ZoneInfo((tenant.timezone if tenant else None) or "Asia/Shanghai")
    except Exception:
        return ZoneInfo("Asia/Shanghai")


def due_of(rules: dict, grade: str | None, created_on: date, last: date | None,
           nxt: date | None) -> tuple[date, str]:
    """(due date, rule): the latest follow-up's next contact date, else the last contact plus the grade's cadence,
    else the first-visit rule from creation."""
    if nxt is not None:
        return nxt, "next_date"
    if last is not None:
        cadence = rules["cadence_days"]
        return last + timedelta(days=cadence.get(grade, max(cadence.values(), default=180))), "cadence"
    return created_on + timedelta(days=rules["first_visit_days"]), "first_visit"


def rule_of(last: date | None, nxt: date | None) -> str:
    return "next_date" if nxt is not None else "cadence" if last is not None else "first_visit"


def _latest(ids: list[int]) -> dict[int, tuple[date, date | None]]:
    """client id -> (date, next_date) of its latest follow-up."""
    rank = func.row_number().over(partition_by=FollowUp.client_id,
                                  order_by=(FollowUp.date.desc(), FollowUp.id.desc())).label("rank")
    sub = (select(FollowUp.client_id, FollowUp.date, FollowUp.next_date, rank)
           .where(FollowUp.client_id.in_(ids)).subquery())
    return {cid: (last, nxt) for cid, last, nxt, _rank in db.session.execute(select(sub).where(sub.c.rank == 1))}


def refresh_contacts(client_ids: Iterable[int]) -> None:
    """Recompute the contact summary of these cards from the cards and their follow-ups (after their flush)."""
    ids = [i for i in dict.fromkeys(client_ids) if i is not None]
    if not ids:
        return
    tenant = current_tenant()
    rules, zone = rules_of(tenant), tenant_zone(tenant)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        latest = _latest(chunk)
        rows = []
        for cid, owner_id, grade, stage, archived_at, created_at in db.session.execute(
                select(Client.id, Client.owner_id, Client.grade, Client.stage, Client.archived_at, Client.created_at)
                .where(Client.id.in_(chunk))):
            created_on = created_at.astimezone(zone).date() if created_at else date.today()
            last, nxt = latest.get(cid, (None, None))
            active = archived_at is None and stage != CHURN_STAGE
            rows.append({"tenant_id": tenant.id, "client_id": cid, "owner_id": owner_id, "grade": grade,
                         "created_on": created_on, "last_contact": last, "next_date": nxt,
                         "due_date": due_of(rules, grade, created_on, last, nxt)[0] if active else None})
        if rows:
            db.session.execute(_upsert(ClientContact, rows, ["client_id"],
                                       ["owner_id", "grade", "created_on", "last_contact", "next_date", "due_date"]),
                               rows)


def rebuild_contacts() -> int:
    """Recompute the whole tenant's contact summary (after bulk loads that bypass the card services)."""
    ids = db.session.scalars(select(Client.id).order_by(Client.id)).all()
    refresh_contacts(ids)
    return len(ids)


def _plus_days(column, days: int):
    if db.session.get_bind().dialect.name == "postgresql":
        return column + int(days)
    return func.date(column, f"+{int(days)} days")


def recompute_due(rules: dict) -> None:
    """After a change of the cadence or first-visit rule: every active card's due date, set-based (a next contact
    date planned in a follow-up stays)."""
    run = {"synchronize_session": False}
    base = update(ClientContact).where(ClientContact.due_date.is_not(None), ClientContact.next_date.is_(None))
    cadence = rules["cadence_days"]
    for grade, days in cadence.items():
        db.session.execute(base.where(ClientContact.last_contact.is_not(None), ClientContact.grade == grade)
                           .values(due_date=_plus_days(ClientContact.last_contact, days)), execution_options=run)
    db.session.execute(base.where(ClientContact.last_contact.is_not(None),
                                  or_(ClientContact.grade.is_(None), ClientContact.grade.not_in(list(cadence))))
                       .values(due_date=_plus_days(ClientContact.last_contact, max(cadence.values(), default=180))),
                       execution_options=run)
    db.session.execute(base.where(ClientContact.last_contact.is_(None))
                       .values(due_date=_plus_days(ClientContact.created_on, rules["first_visit_days"])),
                       execution_options=run)


def set_grades(grade: str | None, ids: list[int]) -> None:
    """A re-grade moved these cards to `grade` (their due dates follow in recompute_due)."""
    db.session.execute(update(ClientContact).where(ClientContact.client_id.in_(ids)).values(grade=grade),
                       execution_options={"synchronize_session": False})


def stop_due(client_id: int) -> None:
    """A card about to leave the active list (merged away): nobody is asked to call it any more."""
    db.session.execute(update(ClientContact).where(ClientContact.client_id == client_id).values(due_date=None),
                       execution_options={"synchronize_session": False})
