"""The pages: the card's follow-up widget (htmx), grading settings with preview, Today, the calendar feed, the API."""
from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar
from sqlalchemy import inspect, update

from app.clients.models import Client
from app.extensions import db
from app.followups.contacts import refresh_contacts
from app.followups.services import local_today
from app.tenancy import tenant_context
from tests import factories
from tests.api.conftest import make_token


def _card(bundle, name, **kw):
    """A card's id (read without reloading the expired row outside its tenant)."""
    return inspect(factories.client(bundle, name, **kw)).identity[0]


def _old(bundle, card_id, days=60):
    from app.db_types import utcnow

    with tenant_context(bundle.id):
        db.session.execute(update(Client).where(Client.id == card_id).values(created_at=utcnow() - timedelta(days=days)),
                           execution_options={"synchronize_session": False})
        refresh_contacts([card_id])  # a direct write bypasses the card services that keep the summary
        db.session.commit()


def test_log_a_followup_from_the_card_and_leave_the_overdue_list(tenant_a, login, hx):
    card = _card(tenant_a, "华光科技", fields={"annual_amount": "60万"})
    _old(tenant_a, card)
    b = login(tenant_a.owner)
    home = b.get("/home").get_data(as_text=True)
    assert 'data-testid="overdue"' in home and "华光科技" in home.split('data-testid="overdue"')[1].split("</ul>")[0]
    page = b.get(f"/clients/{card}").get_data(as_text=True)
    assert f'hx-get="/clients/{card}/followups"' in page
    widget = b.get(f"/clients/{card}/followups", headers=hx)
    assert widget.status_code == 200 and "<html" not in widget.get_data(as_text=True)
    bad = b.post(f"/clients/{card}/followups", data={"date": "2026-13-40", "method": "电话", "content": ""}, headers=hx)
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'id="fu-err-date"' in text and 'id="fu-err-content"' in text
    r = b.post(f"/clients/{card}/followups", headers=hx,
               data={"date": local_today().isoformat(), "method": "微信", "content": "微信确认了下单时间",
                     "next_date": (local_today() + timedelta(days=30)).isoformat(), "satisfaction": "5"})
    assert r.status_code == 200 and r.headers["HX-Trigger"] == "followupsChanged"
    assert "微信确认了下单时间" in r.get_data(as_text=True) and "<html" not in r.get_data(as_text=True)
    home = b.get("/home").get_data(as_text=True)
    assert 'data-testid="overdue-empty"' in home


def test_followup_widget_is_404_for_another_tenant(two_tenants, login):
    a, b_tenant = two_tenants
    card = _card(a, "华光科技")
    b = login(b_tenant.owner)
    assert b.get(f"/clients/{card}/followups").status_code == 404
    assert b.post(f"/clients/{card}/followups", data={"date": "2026-01-01", "method": "电话",
                                                        "content": "x"}).status_code == 404
    assert b.post(f"/clients/{card}/grade", data={"grade": "A", "reason": "x"}).status_code == 404


def test_grade_override_from_the_card(tenant_a, login, hx):
    card = _card(tenant_a, "华光科技", fields={"annual_amount": "5万"})
    b = login(tenant_a.owner)
    r = b.post(f"/clients/{card}/grade", data={"grade": "A", "reason": ""}, headers=hx)
    assert r.status_code == 422 and 'id="fu-err-reason"' in r.get_data(as_text=True)
    r = b.post(f"/clients/{card}/grade", data={"grade": "A", "reason": "集团战略客户"}, headers=hx)
    assert r.status_code == 200 and r.headers["HX-Trigger"] == "cardChanged"
    assert 'data-testid="grade-manual"' in r.get_data(as_text=True) and "集团战略客户" in r.get_data(as_text=True)
    r = b.post(f"/clients/{card}/grade", data={"clear": "1"}, headers=hx)
    with tenant_context(tenant_a.id):
        assert db.session.get(Client, card).grade == "C"


def test_grading_settings_preview_then_save(tenant_a, login, hx):
    for i, amount in enumerate(["45万", "42万", "8万"]):
        _card(tenant_a, f"客户{i}", fields={"annual_amount": amount})
    b = login(tenant_a.owner)
    page = b.get("/settings/grading")
    assert page.status_code == 200 and 'name="min_0" value="500000"' in page.get_data(as_text=True)
    form = {"field": "annual_amount", "name_0": "A", "min_0": "40万", "days_0": "30", "name_1": "B", "min_1": "10万",
            "days_1": "90", "name_2": "C", "min_2": "", "days_2": "180", "first_visit_days": "5"}
    preview = b.get("/settings/grading/preview", query_string=form, headers=hx)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "<html" not in text and "客户0" in text and "客户2" not in text
    assert "2 clients go from B to A" in text or "2 个客户从 B 变为 A" in text
    bad = b.get("/settings/grading/preview", query_string={**form, "min_1": "80万"}, headers=hx)
    assert bad.status_code == 422
    r = b.post("/settings/grading", data=form)
    assert r.status_code == 302
    with tenant_context(tenant_a.id):
        from sqlalchemy import select

        assert sorted(db.session.scalars(select(Client.grade))) == ["A", "A", "C"]
    member = factories.user(tenant_a, "m@a.example", "member")
    assert login(member).get("/settings/grading").status_code == 403


def test_calendar_feed_subscribe_and_revoke(tenant_a, login):
    card = _card(tenant_a, "华光科技", fields={"annual_amount": "60万", "pic_birthday": "1980-09-23",
                                                       "pic_home_address": "北京市朝阳区幸福路"})
    _old(tenant_a, card)
    b = login(tenant_a.owner)
    r = b.post("/calendar")
    text = r.get_data(as_text=True)
    url = text.split('data-testid="calendar-url"')[0].rsplit('value="', 1)[1].split('"')[0]
    path = url.split("://", 1)[1].split("/", 1)[1]
    feed = b.client.application.test_client().get("/" + path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    cal = Calendar.from_ical(feed.data)
    summaries = [str(ev.get("summary")) for ev in cal.walk("VEVENT")]
    assert any("华光科技" in s for s in summaries)
    assert "幸福路" not in feed.get_data(as_text=True)
    b.post("/calendar/revoke")
    assert b.client.application.test_client().get("/" + path).status_code == 404


def test_api_grading_followups_and_due(tenant_a, client):
    token = make_token(tenant_a.owner)
    h = {"Authorization": f"Bearer {token}"}
    card = _card(tenant_a, "华光科技", fields={"annual_amount": "45万"})
    _old(tenant_a, card, days=10)
    r = client.get("/api/v1/settings/grading", headers=h)
    assert r.json["grades"][0] == {"name": "A", "min": 500000} and r.json["cadence_days"]["B"] == 90
    r = client.put("/api/v1/settings/grading", headers=h, json={
        "field": "annual_amount", "grades": [{"name": "A", "min": 400000}, {"name": "B", "min": 100000},
                                             {"name": "C", "min": None}], "cadence_days": {"A": 30, "B": 90, "C": 180}})
    assert r.status_code == 200 and r.json["regraded"] == 1
    r = client.put("/api/v1/settings/grading", headers=h, json={"field": "annual_amount", "grades": "A"})
    assert r.status_code == 422 and "grades" in r.json["errors"]
    due = client.get("/api/v1/followups/due", headers=h).json
    assert due["items"][0]["client"]["id"] == card and due["items"][0]["days_overdue"] == 5
    assert due["items"][0]["last_contact"] is None
    r = client.post(f"/api/v1/clients/{card}/followups", headers=h,
                    json={"date": local_today().isoformat(), "method": "电话", "content": "确认合同"})
    assert r.status_code == 201 and r.json["method"] == "电话"
    r = client.post(f"/api/v1/clients/{card}/followups", headers=h, json={"date": "x", "method": "飞鸽",
                                                                             "content": "y", "extra": 1})
    assert r.status_code == 422 and "extra" in r.json["errors"]
    assert client.get(f"/api/v1/clients/{card}/followups", headers=h).json["total"] == 1
    assert client.get("/api/v1/followups/due", headers=h).json["items"] == []
    assert client.get("/api/v1/followups/due?until=tomorrow", headers=h).status_code == 422
    version = client.get(f"/api/v1/clients/{card}", headers=h).json["version"]
    r = client.patch(f"/api/v1/clients/{card}", headers=h,
                     json={"version": version, "grade_override": {"grade": "C", "reason": "付款慢"}})
    assert r.status_code == 200 and (r.json["grade"], r.json["grade_source"]) == ("C", "manual")
    r = client.patch(f"/api/v1/clients/{card}", headers=h,
                     json={"version": r.json["version"], "grade_override": {"grade": "Q", "reason": "x"}})
    assert r.status_code == 422 and "grade_override" in r.json["errors"]
    version = client.get(f"/api/v1/clients/{card}", headers=h).json["version"]
    r = client.patch(f"/api/v1/clients/{card}", headers=h, json={"version": version, "grade_override": None})
    assert (r.json["grade"], r.json["grade_source"]) == ("A", "rule")
