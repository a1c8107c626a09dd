"""The Today page (the home page after sign-in): whom to call, birthdays and anniversaries, holiday greetings."""
from __future__ import annotations

from datetime import timedelta

from app.followups import reminders
from app.followups import services as fs


def today_context(user) -> dict:
    """What the Today page shows: whom to call, birthdays and anniversaries, holiday greetings."""
    today = fs.local_today()
    items = fs.due_list(user, until=today + timedelta(days=7), today=today)
    client_ids = fs.my_clients(user).with_only_columns(fs.Client.id).order_by(None)
    start, end = reminders.window(today, 14)
    return dict(today=today, overdue=[i for i in items if i.due_date < today],
                due_today=[i for i in items if i.due_date == today],
                this_week=[i for i in items if i.due_date > today],
                anniversaries=reminders.anniversaries(client_ids, start, end),
                festivals=reminders.festivals(start, end))
