"""Grading on every save: thresholds, no value no grade, sticky overrides, preview equal to the re-grade."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.clients import services as cs
from app.clients.models import Client, ClientChange
from app.extensions import db
from app.followups import services as fs
from app.tenancy import tenant_context
from tests import factories


def _grade(bundle, amount):
    fields = {"annual_amount": amount} if amount is not None else {}
    card = factories.client(bundle, f"客户{amount}", fields=fields)
    with tenant_context(bundle.id):
        return db.session.get(Client, card.id).grade


@pytest.mark.parametrize("amount, grade", [("50万", "A"), (500000, "A"), ("499,999.99", "B"), ("10万", "B"),
                                           ("99999", "C"), (0, "C"), (None, None)])
def test_default_thresholds_on_create(tenant_a, amount, grade):
    assert _grade(tenant_a, amount) == grade


def test_update_regrades_and_clearing_the_amount_ungrades(tenant_a):
    card = factories.client(tenant_a, "华光", fields={"annual_amount": "20万"})
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        client = db.session.get(Client, card.id)
        assert (client.grade, client.grade_source) == ("B", "rule")
        cs.update_client(owner, client, version=client.version, fields={"annual_amount": "80万"})
        assert client.grade == "A"
        cs.update_client(owner, client, version=client.version, fields={"annual_amount": None})
        assert (client.grade, client.grade_source) == (None, None)


def test_override_is_sticky_until_cleared(tenant_a):
    card = factories.client(tenant_a, "华光", fields={"annual_amount": "20万"})
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        client = db.session.get(Client, card.id)
        with pytest.raises(cs.ValidationFailed) as e:
            fs.set_grade_override(owner, client, "A", "")
        assert "reason" in e.value.errors
        with pytest.raises(cs.ValidationFailed):
            fs.set_grade_override(owner, client, "Z", "战略客户")
        fs.set_grade_override(owner, client, "A", "集团战略客户")
        db.session.commit()
        cs.update_client(owner, client, version=client.version, fields={"annual_amount": "1万"})
        assert (client.grade, client.grade_source) == ("A", "manual")
        assert fs.override_reason(client) == "集团战略客户"
        # A rule change leaves the override alone.
        _rules, n = fs.save_rules_and_regrade(owner, {"field": "annual_amount", "grades": [
            {"name": "A", "min": 5000000}, {"name": "B", "min": None}]})
        assert n == 0
        client = db.session.get(Client, card.id)
        assert client.grade == "A"
        fs.set_grade_override(owner, client, None)
        assert (client.grade, client.grade_source) == ("B", "rule")
        actions = db.session.scalars(select(ClientChange.action).where(ClientChange.client_id == card.id)
                                     .order_by(ClientChange.id)).all()
        assert actions == ["create", "grade", "edit", "grade"]


def test_preview_equals_the_regrade_and_history_is_recorded(tenant_a):
    amounts = ["60万", "45万", "12万", "8万", None, "300万"]
    cards = [factories.client(tenant_a, f"客户{i}", fields={"annual_amount": a} if a else {})
             for i, a in enumerate(amounts)]
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        new = {"field": "annual_amount", "grades": [{"name": "S", "min": 1000000}, {"name": "A", "min": 400000},
                                                    {"name": "B", "min": 100000}, {"name": "C", "min": None}],
               "cadence_days": {"S": 14, "A": 30, "B": 90, "C": 180}}
        preview = fs.grade_moves(fs.validate_rules(new))
        assert {(m.name, m.before, m.after) for m in preview} == {("客户1", "B", "A"), ("客户5", "A", "S")}
        assert fs.summarize_moves(preview) == [("A", "S", 1), ("B", "A", 1)]
        versions = {c.id: db.session.get(Client, c.id).version for c in cards}
        _rules, n = fs.save_rules_and_regrade(owner, new)
        db.session.commit()
    with tenant_context(tenant_a.id):
        grades = {c.name: c.grade for c in db.session.scalars(select(Client))}
        assert grades == {"客户0": "A", "客户1": "A", "客户2": "B", "客户3": "C", "客户4": None, "客户5": "S"}
        assert n == len(preview) == 2
        changes = db.session.scalars(select(ClientChange).where(ClientChange.action == "grade")).all()
        assert sorted((c.changes["@grade"]["from"], c.changes["@grade"]["to"]) for c in changes) == \
            [("A", "S"), ("B", "A")]
        # Re-grading is derived data: no card version moves, so nobody's open form goes stale.
        assert {c.id: db.session.get(Client, c.id).version for c in cards} == versions
        # And new saves use the new rules.
        fresh = factories.client(tenant_a, "新客户", fields={"annual_amount": "150万"})
    with tenant_context(tenant_a.id):
        assert db.session.get(Client, fresh.id).grade == "S"


@pytest.mark.parametrize("bad, key", [
    ({"field": "no_such", "grades": [{"name": "A", "min": None}]}, "field"),
    ({"field": "annual_amount", "grades": [{"name": "A", "min": 1}, {"name": "B", "min": 5}]}, "grades"),
    ({"field": "annual_amount", "grades": [{"name": "A", "min": None}, {"name": "B", "min": None}]}, "grades"),
    ({"field": "annual_amount", "grades": [{"name": "A", "min": 5}, {"name": "A", "min": None}]}, "grades"),
    ({"field": "annual_amount", "grades": []}, "grades"),
    ({"field": "annual_amount", "grades": [{"name": "A", "min": None}], "cadence_days": {"A": 0}}, "cadence_days"),
    ({"field": "name_en", "grades": [{"name": "A", "min": None}]}, "field"),
])
def test_invalid_rules_change_nothing(tenant_a, bad, key):
    factories.client(tenant_a, "华光", fields={"annual_amount": "20万"})
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        with pytest.raises(cs.ValidationFailed) as e:
            fs.save_rules_and_regrade(owner, bad)
        assert key in e.value.errors
        db.session.rollback()
        assert db.session.scalars(select(Client.grade)).all() == ["B"]
