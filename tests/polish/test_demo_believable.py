"""Demo data a person reading it would believe: totals add up, dates in order, grades match amounts."""
from sqlalchemy import select

from app.clients.models import Client
from app.demo import grade_for, load_demo
from app.extensions import db as _db
from app.tenancy import tenant_context


def test_demo_cards_agree_with_themselves(db):
    tenant = load_demo("demo@example.com", "demo-pass-2026")
    with tenant_context(tenant.id):
        clients = _db.session.scalars(select(Client)).all()
        staffed = [c.values for c in clients if "staff_total" in c.values]
        assert staffed
        for v in staffed:
            assert v["staff_male"] + v["staff_female"] == v["staff_total"]
            assert v["staff_senior_titles"] + v["staff_mid_titles"] <= v["staff_total"]
        for c in clients:
            v = c.values
            assert c.grade == grade_for(v)
            if "founded_on" in v and "first_deal_date" in v:
                assert v["founded_on"] <= v["first_deal_date"]
            if "founded_on" in v and "legal_rep_since" in v:
                assert v["founded_on"] <= v["legal_rep_since"]
            if "market_share_national" in v:
                assert v["market_share_regional"] >= v["market_share_national"]
            if c.stage == tenant.stages[0]:
                assert "annual_amount" not in v and c.grade is None
