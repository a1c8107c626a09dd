"""Lunar birthdays and festivals against published dates; yearly reminders never come from sensitive fields."""
from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from app.followups import reminders
from app.followups.models import FollowUp  # noqa: F401
from app.tenancy import tenant_context
from tests import factories

# Published dates (国务院办公厅 holiday notices and the 农历 almanac).
MID_AUTUMN = {2025: date(2025, 10, 6), 2026: date(2026, 9, 25), 2027: date(2027, 9, 15), 2028: date(2028, 10, 3),
              2029: date(2029, 9, 22), 2030: date(2030, 9, 12)}
SPRING = {2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6), 2028: date(2028, 1, 26),
          2029: date(2029, 2, 13), 2030: date(2030, 2, 3)}
DRAGON_BOAT = {2025: date(2025, 5, 31), 2026: date(2026, 6, 19), 2027: date(2027, 6, 9), 2028: date(2028, 5, 28),
               2029: date(2029, 6, 16), 2030: date(2030, 6, 5)}


@pytest.mark.parametrize("year", range(2025, 2031))
def test_lunar_8_15_birthday_falls_on_mid_autumn_each_year(year):
    born = date(1980, 9, 23)  # 1980-09-23 was 农历八月十五
    assert reminders.lunar_month_day(born) == (8, 15)
    assert reminders.next_anniversary(born, date(year, 1, 1), lunar=True) == MID_AUTUMN[year]
    # As a solar birthday it stays on 23 September.
    assert reminders.next_anniversary(born, date(year, 1, 1)) == date(year, 9, 23)


@pytest.mark.parametrize("year", range(2025, 2031))
def test_lunar_festivals_against_published_dates(year):
    found = {f.key: f.day for f in reminders.festivals(date(year, 1, 1), date(year, 12, 31))}
    assert found["spring"] == SPRING[year]
    assert found["mid_autumn"] == MID_AUTUMN[year]
    assert found["dragon_boat"] == DRAGON_BOAT[year]
    assert found["national_day"] == date(year, 10, 1) and found["new_year"] == date(year, 1, 1)


def test_leap_month_birthday_is_kept_in_the_ordinary_month():
    born = date(2025, 7, 26)  # 闰六月初二 of 2025
    assert reminders.lunar_month_day(born) == (6, 2)
    # 2026 has no leap sixth month: the birthday is 六月初二 = 2026-07-15.
    assert reminders.next_anniversary(born, date(2026, 1, 1), lunar=True) == date(2026, 7, 15)


def test_29_february_and_day_30_of_a_short_month():
    assert reminders.next_anniversary(date(2000, 2, 29), date(2026, 1, 1)) == date(2026, 2, 28)
    # 腊月三十 in a year whose 腊月 has 29 days falls on 腊月廿九 (the eve of the new year).
    assert reminders.lunar_date(2025, 12, 30) == date(2026, 2, 16)


def test_official_holiday_flag_comes_from_the_schedule():
    found = {f.key: f for f in reminders.festivals(date(2026, 1, 1), date(2026, 12, 31))}
    assert found["national_day"].days_off and found["spring"].days_off
    assert not found["qixi"].days_off


def test_anniversaries_skip_sensitive_fields_and_use_lunar_labels(tenant_a):
    card = factories.client(tenant_a, "华光", fields={"pic_birthday": "1980-09-23", "legal_rep_birthday": "1975-03-02"})
    with tenant_context(tenant_a.id):
        from app.card_templates.services import fields_by_key, load_template

        fields = fields_by_key(load_template())
        yearly = {fd.key for fd in reminders.yearly_fields()}
        assert "pic_birthday" in yearly and all(not fields[k].sensitive for k in yearly)
        fields["pic_birthday"].label = "农历生日"
        db.session.flush()
        found = reminders.anniversaries([card.id], date(2026, 1, 1), date(2026, 12, 31))
        by_key = {a.field_key: a for a in found}
        assert by_key["pic_birthday"].day == date(2026, 9, 25) and by_key["pic_birthday"].lunar
        assert by_key["legal_rep_birthday"].day == date(2026, 3, 2)
        db.session.rollback()
