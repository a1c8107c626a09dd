"""Points mode: a weighted score of several fields (付款态度 points per option, 年合作金额 times a weight) graded by
thresholds, previewed like the one-field rules, applied on every save, through the settings page and the API."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from app.accounts.models import User
from app.clients import services as cs
from app.clients.models import Client, ClientChange
from app.extensions import db
from app.followups import services as fs
from app.followups.grading import grade_for, rules_of, score_of
from app.tenancy import current_tenant, tenant_context
from tests import factories
from tests.api.conftest import make_token

POINTS = {"mode": "points",
          "factors": [{"field": "payment_attitude", "weight": 1, "points": {"爽快": 30, "一般": 20, "迟缓": 5}},
                      {"field": "annual_amount", "weight": 0.0001}],
          "grades": [{"name": "A", "min": 80}, {"name": "B", "min": 50}, {"name": "C", "min": None}],
          "cadence_days": {"A": 30, "B": 90, "C": 180}}


def _card(bundle, name, **fields):
    return inspect(factories.client(bundle, name, fields=fields)).identity[0]


def test_score_and_grade():
    rules = {**POINTS, "field": "annual_amount"}
    assert score_of(rules, {"payment_attitude": "爽快", "annual_amount": 500000}) == 80
    assert grade_for(rules, {"payment_attitude": "爽快", "annual_amount": 500000}) == "A"
    assert grade_for(rules, {"payment_attitude": "一般", "annual_amount": 300000}) == "B"
    assert grade_for(rules, {"payment_attitude": "为难"}) == "C"  # an option left out scores 0, but is a value
    assert grade_for(rules, {"annual_amount": 100000}) == "C"
    assert score_of(rules, {}) is None and grade_for(rules, {"name_en": "x"}) is None  # nothing scored, no grade


def test_preview_equals_the_regrade_and_saves_follow_the_rules(tenant_a):
    ids = {n: _card(tenant_a, n, **f) for n, f in (
        ("甲", {"payment_attitude": "爽快", "annual_amount": "50万"}),   # 80: A (was A)
        ("乙", {"payment_attitude": "一般", "annual_amount": "30万"}),   # 50: B (was B)
        ("丙", {"payment_attitude": "爽快", "annual_amount": "20万"}),   # 50: B (was B)
        ("丁", {"annual_amount": "45万"}),                               # 45: C (was B)
        ("戊", {"payment_attitude": "迟缓"}),                             # 5: C (was none)
        ("己", {}))}                                                      # none: none
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        preview = fs.grade_moves(fs.validate_rules(POINTS))
        assert {(m.name, m.before, m.after) for m in preview} == {("丁", "B", "C"), ("戊", None, "C")}
        rules, n = fs.save_rules_and_regrade(owner, POINTS)
        db.session.commit()
        assert n == 2 and rules["mode"] == "points"
        grades = {c.name: c.grade for c in db.session.scalars(select(Client))}
        assert grades == {"甲": "A", "乙": "B", "丙": "B", "丁": "C", "戊": "C", "己": None}
        assert fs.grade_moves(rules_of(current_tenant())) == []  # preview after saving: nothing left to move
        # A save scores the card under the tenant's rules and shows the move in its own history entry.
        client = db.session.get(Client, ids["丁"])
        cs.update_client(owner, client, version=client.version, fields={"payment_attitude": "爽快"})
        assert client.grade == "B"  # 30 + 45
        last = db.session.scalars(select(ClientChange).where(ClientChange.client_id == client.id)
                                  .order_by(ClientChange.id.desc()).limit(1)).one()
        assert last.changes["@grade"] == {"from": "C", "to": "B"}


@pytest.mark.parametrize("factors, needle", [
    ([], "factors"),
    ([{"field": "payment_attitude", "weight": 1}], "factors"),                                # no option points
    ([{"field": "payment_attitude", "points": {"很好": 10}}], "factors"),                      # no such option
    ([{"field": "pic_marital_status", "points": {"已婚": 1}}], "factors"),                      # sensitive
    ([{"field": "annual_amount"}, {"field": "annual_amount"}], "factors"),                      # twice
    ([{"field": "annual_amount", "weight": "x"}], "factors"),
    ([{"field": "name_en"}], "factors"),                                                       # a text field
])
def test_invalid_factors_change_nothing(tenant_a, factors, needle):
    _card(tenant_a, "华光", annual_amount="20万")
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        with pytest.raises(cs.ValidationFailed) as e:
            fs.save_rules_and_regrade(owner, {**POINTS, "factors": factors})
        assert needle in e.value.errors
        db.session.rollback()
        assert rules_of(current_tenant())["mode"] == "amount"


def test_settings_page_points_preview_then_save(tenant_a, login, hx):
    _card(tenant_a, "甲", payment_attitude="爽快", annual_amount="50万")
    _card(tenant_a, "丁", annual_amount="45万")
    b = login(tenant_a.owner)
    page = b.get("/settings/grading").get_data(as_text=True)
    assert 'name="mode" value="points"' in page and 'name="factor_0"' in page
    form = {"mode": "points", "factor_0": "payment_attitude", "weight_0": "1", "points_0": "爽快=30，一般=20；迟缓=5",
            "factor_1": "annual_amount", "weight_1": "0.0001", "name_0": "A", "min_0": "80", "days_0": "30",
            "name_1": "B", "min_1": "50", "days_1": "90", "name_2": "C", "min_2": "", "days_2": "180",
            "first_visit_days": "5"}
    preview = b.get("/settings/grading/preview", query_string=form, headers=hx)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "<html" not in text and "丁" in text and "甲" not in text
    bad = b.get("/settings/grading/preview", query_string={**form, "points_0": "爽快三十"}, headers=hx)
    assert bad.status_code == 422 and "爽快=30" in bad.get_data(as_text=True)
    assert b.post("/settings/grading", data=form).status_code == 302
    page = b.get("/settings/grading").get_data(as_text=True)
    assert 'value="points" checked' in page and "爽快=30，一般=20，迟缓=5" in page and 'value="0.0001"' in page
    with tenant_context(tenant_a.id):
        assert sorted(db.session.scalars(select(Client.grade))) == ["A", "C"]


def test_api_put_points_rules(tenant_a, client):
    _card(tenant_a, "丁", annual_amount="45万")
    h = {"Authorization": f"Bearer {make_token(tenant_a.owner)}"}
    r = client.put("/api/v1/settings/grading", headers=h, json={"mode": "points", "factors": [{"field": "x"}],
                                                                "grades": POINTS["grades"]})
    assert r.status_code == 422 and "factors" in r.json["errors"]
    r = client.put("/api/v1/settings/grading", headers=h, json={k: v for k, v in POINTS.items()})
    assert r.status_code == 200 and r.json["regraded"] == 1 and r.json["mode"] == "points"
    got = client.get("/api/v1/settings/grading", headers=h).json
    assert got["factors"] == POINTS["factors"] and got["grades"] == POINTS["grades"]
