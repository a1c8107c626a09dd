"""Yearly reminders (birthdays, anniversaries: solar or 农历) and the holiday greetings due, from the lunar-python
calendar and chinese-calendar's official holiday schedule. Only non-sensitive fields feed reminders: their values
come from the value index, which never holds a sensitive value."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, timedelta

import chinese_calendar
from flask_babel import lazy_gettext as _l
from lunar_python import Lunar, LunarYear, Solar
from sqlalchemy import select

from app.card_templates.models import FieldDef
from app.card_templates.cache import cached_template
from app.card_templates.services import fields_by_key
from app.clients.models import Client, ClientFieldValue
from app.extensions import db

# Festivals on their lunar dates, then on solar dates: the greetings the seeds ask for (节日问候).
LUNAR_FESTIVALS = (("spring", _l("Spring Festival"), 1, 1), ("lantern", _l("Lantern Festival"), 1, 15),
                   ("dragon_boat", _l("Dragon Boat Festival"), 5, 5), ("qixi", _l("Qixi Festival"), 7, 7),
                   ("mid_autumn", _l("Mid-Autumn Festival"), 8, 15), ("double_ninth", _l("Double Ninth Festival"), 9, 9))
SOLAR_FESTIVALS = (("new_year", _l("New Year's Day"), 1, 1), ("womens_day", _l("Women's Day"), 3, 8),
                   ("labour_day", _l("Labour Day"), 5, 1), ("national_day", _l("National Day"), 10, 1))


@lru_cache(maxsize=4096)  # lunar-python is slow; a date's conversion never changes
def lunar_date(year: int, month: int, day: int) -> date:
    """The solar date of a lunar month/day in a lunar year; day 30 of a short month falls on its day 29."""
    days = LunarYear.fromYear(year).getMonth(month).getDayCount()
    solar = Lunar.fromYmd(year, month, min(day, days)).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


@lru_cache(maxsize=65536)
def lunar_month_day(born: date) -> tuple[int, int]:
    """The lunar month and day of a solar date. A leap month (闰月) counts as its ordinary month, as people keep a
    leap-month birthday in the ordinary month in the years without that leap month."""
    lunar = Solar.fromYmd(born.year, born.month, born.day).getLunar()
    return abs(lunar.getMonth()), lunar.getDay()


def next_anniversary(born: date, start: date, *, lunar: bool = False) -> date:
    """The first yearly return of `born` on or after `start` (29 February falls on 28 February in other years)."""
    if lunar:
        month, day = lunar_month_day(born)
        for year in (start.year - 1, start.year, start.year + 1):
            when = lunar_date(year, month, day)
            if when >= start:
                return when
    for year in (start.year, start.year + 1):
        try:
            when = born.replace(year=year)
        except ValueError:
            when = date(year, 2, 28)
        if when >= start:
            return when
    raise AssertionError("unreachable")  # pragma: no cover


def is_lunar_field(fd: FieldDef) -> bool:
    """A field kept on the lunar calendar: set in its settings, or labelled 农历 (农历生日)."""
    return (fd.settings or {}).get("calendar") == "lunar" or "农历" in (fd.label or "")


@dataclass
class Festival:
    key: str
    name: object  # a lazy string, translated when shown
    day: date
    days_off: bool  # an official day off (chinese-calendar), when the schedule is known


def festivals(start: date, end: date) -> list[Festival]:
    """The festivals between start and end (inclusive), lunar ones on their solar dates."""
    return list(_festivals(start, end))


@lru_cache(maxsize=64)  # the same for every user on a given day
def _festivals(start: date, end: date) -> tuple[Festival, ...]:
    found = []
    for year in range(start.year - 1, end.year + 1):
        for key, name, month, day in LUNAR_FESTIVALS:
            found.append((key, name, lunar_date(year, month, day)))
        qingming = Lunar.fromYmd(year, 6, 1).getJieQiTable().get("清明")
        if qingming is not None:
            found.append(("qingming", _l("Qingming Festival"),
                          date(qingming.getYear(), qingming.getMonth(), qingming.getDay())))
        for key, name, month, day in SOLAR_FESTIVALS:
            found.append((key, name, date(year + 1, month, day)))
    out = []
    unique = {(key, day): name for key, name, day in found}
    for (key, day), name in sorted(unique.items(), key=lambda t: (t[0][1], t[0][0])):
        if start <= day <= end:
            try:
                off = bool(chinese_calendar.get_holiday_detail(day)[1])
            except NotImplementedError:  # beyond the published schedule
                off = False
            out.append(Festival(key, name, day, off))
    return tuple(out)


@dataclass
class Anniversary:
    client_id: int
    number: str
    name: str
    field_key: str
    field_label: str
    original: date
    day: date
    lunar: bool


def yearly_fields(template=None) -> list[FieldDef]:
    """Date fields flagged "remind every year" that may feed reminders (never a sensitive one)."""
    template = template or cached_template()
    return [fd for fd in fields_by_key(template, include_archived=False).values()
            if fd.yearly_reminder and fd.type == "date" and not fd.sensitive]


def anniversaries(client_ids, start: date, end: date, template=None) -> list[Anniversary]:
    """Birthdays and anniversaries of these clients between start and end, soonest first."""
    fields = {fd.key: fd for fd in yearly_fields(template)}
    if not fields:
        return []
    out = []
    rows = db.session.execute(
        select(ClientFieldValue.client_id, ClientFieldValue.key, ClientFieldValue.txt, Client.number, Client.name)
        .join(Client, Client.id == ClientFieldValue.client_id)
        .where(ClientFieldValue.key.in_(list(fields)), ClientFieldValue.client_id.in_(client_ids)))
    for cid, key, txt, number, name in rows:
        try:
            original = date.fromisoformat(txt or "")
        except ValueError:
            continue
        fd = fields[key]
        lunar = is_lunar_field(fd)
        day = next_anniversary(original, start, lunar=lunar)
        if day <= end:
            out.append(Anniversary(cid, number, name, key, fd.t(), original, day, lunar))
    out.sort(key=lambda a: (a.day, a.number))
    return out


def window(today: date, days: int) -> tuple[date, date]:
    return today, today + timedelta(days=days)
