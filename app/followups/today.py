"""The Today page (the home page after sign-in): whom to call, birthdays and anniversaries, holiday greetings."""
from __future__ import annotations

from datetime import timedelta

from app.followups import reminders
from app.followups import services as fs

LIST_LIMIT = 20  # per list, light on a phone; the heading shows the full count


def today_context(user) -> dict:
    """What the Today page shows: whom to call, birthdays and anniversaries, holiday greetings."""
    today = fs.local_today()
    due = fs.due_overview(user, today=today, until=today + timedelta(days=7), limit=LIST_LIMIT)
    client_ids = fs.my_clients(user).with_only_columns(fs.Client.id).order_by(None)
    start, end = reminders.window(today, 14)
    return dict(today=today, overdue=due.overdue, due_today=due.due_today, this_week=due.this_week,
                due_counts=due.counts, list_limit=LIST_LIMIT,
                anniversaries=reminders.anniversaries(client_ids, start, end),
                festivals=reminders.festivals(start, end))
