"""The private calendar feed: a per-user iCalendar URL (unguessable token, only its hash stored, revocable) with the
user's due follow-ups, yearly reminders and holiday greetings. Client names and field labels only, never a value of
a sensitive field."""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask_babel import force_locale, gettext as _
from icalendar import Calendar, Event
from sqlalchemy import select, update

from app.accounts.models import User, hash_token
from app.db_types import utcnow
from app.extensions import db
from app.followups import reminders
from app.followups import services as fs
from app.followups.models import CalendarFeed
from app.tenancy import all_tenants, tenant_context

FEED_DAYS = 60


def active_feed(user: User) -> CalendarFeed | None:
    return db.session.scalars(select(CalendarFeed).where(CalendarFeed.user_id == user.id,
                                                         CalendarFeed.revoked_at.is_(None))).first()


def revoke_feeds(user: User) -> None:
    """End every calendar link of this user."""
    db.session.execute(update(CalendarFeed).where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
                       .values(revoked_at=utcnow()), execution_options={"synchronize_session": False})


def new_feed(user: User) -> str:
    """A new private link (the old one stops working); the token is shown once."""
    revoke_feeds(user)
    token = "cal_" + secrets.token_urlsafe(32)
    db.session.add(CalendarFeed(user_id=user.id, token_hash=hash_token(token)))
    db.session.flush()
    return token


def feed_for_token(token: str) -> bytes | None:
    """The iCalendar body for a live token, or None (unknown, revoked, or its user deactivated)."""
    if not token or len(token) > 100:
        return None
    feed = db.session.scalars(all_tenants(select(CalendarFeed).where(CalendarFeed.token_hash == hash_token(token),
                                                                     CalendarFeed.revoked_at.is_(None)))).first()
    if feed is None:
        return None
    with tenant_context(feed.tenant_id):
        user = db.session.get(User, feed.user_id)
        if user is None or not user.active:
            return None
        with force_locale(user.language or "zh_CN"):
            return build_calendar(user)


def build_calendar(user: User) -> bytes:
    """Due follow-ups (overdue ones on today), birthdays and anniversaries, and festivals for the next weeks."""
    today = fs.local_today()
    end = today + timedelta(days=FEED_DAYS)
    cal = Calendar()
    cal.add("prodid", "-//ClientCard//Follow-ups//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", _("ClientCard follow-ups"))
    stamp = utcnow()

    def event(uid, day, summary, description=""):
        ev = Event()
        ev.add("uid", f"{uid}@clientcard")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", day)
        ev.add("dtend", day + timedelta(days=1))
        ev.add("summary", summary)
        if description:
            ev.add("description", description)
        cal.add_component(ev)

    for item in fs.due_list(user, until=end, today=today):
        day = max(item.due_date, today)
        note = _("%(n)d days overdue", n=item.days_overdue) if item.days_overdue > 0 else ""
        event(f"due-{item.client_id}-{item.due_date.isoformat()}", day,
              _("Follow up: %(name)s", name=item.name), f"{item.number} {note}".strip())
    ids = fs.my_clients(user).with_only_columns(fs.Client.id).order_by(None)
    for a in reminders.anniversaries(ids, today, end):
        event(f"yearly-{a.client_id}-{a.day.isoformat()}-{a.field_key}", a.day,
              f"{a.name}: {a.field_label}", a.number)
    for f in reminders.festivals(today, end):
        event(f"festival-{f.key}-{f.day.isoformat()}", f.day, _("Greet clients: %(name)s", name=f.name))
    return cal.to_ical()
