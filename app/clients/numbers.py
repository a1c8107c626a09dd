"""Client numbers (客户编号): a tenant's pattern such as {YYYY}{MM}{SEQ:3}, gap-free per period."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.accounts.models import Tenant
from app.clients.models import ClientNumberCounter
from app.db_types import utcnow
from app.extensions import db

PATTERN_TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|SEQ(?::(\d))?)\}")


def validate_number_pattern(pattern: str) -> str | None:
    if not pattern or len(pattern) > 40:
        return _l("Enter a pattern of at most 40 characters.")
    if "{SEQ" not in pattern:
        return _l("The pattern needs a {SEQ} or {SEQ:3} part for the running number.")
    leftover = PATTERN_TOKEN.sub("", pattern)
    if "{" in leftover or "}" in leftover:
        return _l("Use only {YYYY}, {YY}, {MM}, {DD} and {SEQ:n} in braces.")
    return None


def _number_period(tenant: Tenant, pattern: str, now: datetime | None) -> tuple[dict, str]:
    """The date parts of a pattern in the tenant's time zone, and the period its sequence counts in."""
    local = (now or utcnow()).astimezone(ZoneInfo(tenant.timezone or "Asia/Shanghai"))
    parts = {"YYYY": f"{local.year:04d}", "YY": f"{local.year % 100:02d}", "MM": f"{local.month:02d}",
             "DD": f"{local.day:02d}"}
    period = "".join(parts[m.group(1)] for m in PATTERN_TOKEN.finditer(pattern) if not m.group(1).startswith("SEQ")) or "all"
    return parts, period


def _render_number(pattern: str, parts: dict, seq: int) -> str:
    def render(m):
        token = m.group(1)
        if token.startswith("SEQ"):
            return f"{seq:0{int(m.group(2) or 1)}d}"
        return parts[token]

    return PATTERN_TOKEN.sub(render, pattern)


def preview_number(tenant: Tenant, pattern: str | None = None, now: datetime | None = None) -> str:
    """The number the next new client would get (nothing is allocated)."""
    pattern = pattern or tenant.setting("number_pattern")
    parts, period = _number_period(tenant, pattern, now)
    last = db.session.execute(select(ClientNumberCounter.last_value)
                              .where(ClientNumberCounter.period == period)).scalar_one_or_none() or 0
    return _render_number(pattern, parts, last + 1)


def allocate_number(tenant: Tenant, now: datetime | None = None) -> str:
    """The next client number: gap-free per period, under concurrent creation (row lock on the counter)."""
    return allocate_numbers(tenant, 1, now)[0]


def allocate_numbers(tenant: Tenant, count: int, now: datetime | None = None) -> list[str]:
    """The next `count` client numbers with one bump of the counter row, which stays locked until the transaction
    ends (gap-free: a rolled-back transaction gives its numbers back). Callers allocate as late as they can."""
    pattern = tenant.setting("number_pattern")
    parts, period = _number_period(tenant, pattern, now)
    bump = (update(ClientNumberCounter).where(ClientNumberCounter.period == period)
            .values(last_value=ClientNumberCounter.last_value + count).returning(ClientNumberCounter.last_value))
    last = db.session.execute(bump).scalar_one_or_none()
    if last is None:  # the period's first number
        dialect = db.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        db.session.execute(dialect_insert(ClientNumberCounter)
                           .values(tenant_id=tenant.id, period=period, last_value=0)
                           .on_conflict_do_nothing(index_elements=["tenant_id", "period"]))
        last = db.session.execute(bump).scalar_one()
    return [_render_number(pattern, parts, seq) for seq in range(last - count + 1, last + 1)]


def advance_counters(tenant: Tenant, numbers: list[str]) -> None:
    """Move the counters past numbers written as they were (a restored export), so new cards never repeat one.
    Numbers that do not follow the tenant's pattern leave the counters alone."""
    pattern = tenant.setting("number_pattern")
    widths = {"YYYY": r"\d{4}", "YY": r"\d{2}", "MM": r"\d{2}", "DD": r"\d{2}"}
    regex, pos = "", 0
    for m in PATTERN_TOKEN.finditer(pattern):
        regex += re.escape(pattern[pos:m.start()])
        token = m.group(1)
        regex += r"(?P<seq>\d+)" if token.startswith("SEQ") else f"({widths[token]})"
        pos = m.end()
    regex = re.compile(regex + re.escape(pattern[pos:]))
    seq_group = regex.groupindex["seq"]
    highest: dict[str, int] = {}
    for number in numbers:
        m = regex.fullmatch(number or "")
        if m is None:
            continue
        period = "".join(g for i, g in enumerate(m.groups(), 1) if i != seq_group) or "all"
        highest[period] = max(highest.get(period, 0), int(m.group("seq")))
    for period, seq in highest.items():
        row = db.session.scalars(select(ClientNumberCounter).where(ClientNumberCounter.period == period)).first()
        if row is None:
            db.session.add(ClientNumberCounter(tenant_id=tenant.id, period=period, last_value=seq))
        elif row.last_value < seq:
            row.last_value = seq
    db.session.flush()
