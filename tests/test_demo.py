"""Demo and benchmark data: the demo tenant, and bulk-seeded clients that look like ones made in the app."""
from __future__ import annotations

import random
import re

from sqlalchemy import func, select

from app.extensions import db as _db
from app.tenancy import all_tenants, tenant_context


def test_load_demo_builds_a_realistic_company(db):
    from app.accounts.models import Tenant, User
    from app.clients.models import Client, ClientChange, ClientCoOwner
    from app.demo import DEMO_COMPANY, load_demo

    tenant = load_demo("demo@example.com", "demo-pass-2026")
    tid = tenant.id
    with tenant_context(tid):
        assert _db.session.get(Tenant, tid).name == DEMO_COMPANY
        roles = sorted(_db.session.scalars(select(User.role)))
        assert roles == ["member", "member", "owner", "viewer"]
        clients = _db.session.scalars(select(Client)).all()
        assert len(clients) == 40
        assert all(re.fullmatch(r"\d{9}", c.number) for c in clients)
        assert len({c.number for c in clients}) == 40
        assert all(c.values.get("industry") and c.values.get("business_phone") for c in clients)
        assert sum(len(c.values) for c in clients) / 40 > 40  # about 60% of the fields filled
        assert sum(1 for c in clients if c.archived_at) == 2
        assert any(c.grade == "A" for c in clients) and any(c.tags for c in clients)
        assert _db.session.execute(select(func.count(ClientCoOwner.id))).scalar_one() > 0
        edits = _db.session.execute(select(func.count(ClientChange.id)).where(ClientChange.action == "edit")).scalar_one()
        assert edits >= 8


def test_demo_owner_can_sign_in_and_find_clients(db, login):
    from app.accounts.services import find_user_by_email
    from app.clients.models import Client
    from app.demo import load_demo

    tenant = load_demo("demo@example.com", "demo-pass-2026")
    with tenant_context(tenant.id):
        name = _db.session.scalars(select(Client.name).where(Client.archived_at.is_(None)).order_by(Client.id)).first()
    owner = find_user_by_email("demo@example.com")
    html = login(owner, "demo-pass-2026").get("/clients/", query_string={"q": name[:4]}).get_data(as_text=True)
    assert name in html


def test_seed_bench_bulk_rows_match_what_the_services_write(db):
    from app.card_templates.services import load_template
    from app.clients.listing import count_clients, list_clients, parse_list_params
    from app.clients.models import Client, ClientMatchKey, ClientNumberCounter
    from app.clients.derived import completeness
    from app.clients.duplicates import find_duplicates
    from app.clients.services import parse_fields
    from app.accounts.models import User
    from app.demo import seed_bench

    big_id = seed_bench(3, 120, 4, seed=3)
    assert _db.session.execute(all_tenants(select(func.count(Client.id)))).scalar_one() == 120 + 3 * 4
    with tenant_context(big_id):
        template = load_template()
        clients = _db.session.scalars(select(Client)).all()
        assert len(clients) == 120 and len({c.number for c in clients}) == 120
        counters = _db.session.scalars(select(ClientNumberCounter)).all()
        assert sum(c.last_value for c in counters) == 120
        for c in random.Random(1).sample(clients, 15):
            # every stored value is what the value library would have stored
            raw = {k: ("是" if v is True else "否" if v is False else v) for k, v in c.values.items()}
            values, errors = parse_fields(template, raw)
            assert errors == {}, (c.name, {k: str(e) for k, e in errors.items()})
            assert values == c.values
            assert c.completeness == completeness(template, c.values)
            assert c.name.lower()[:6] in c.search_text
        assert _db.session.execute(select(func.count(ClientMatchKey.id))).scalar_one() > 120
        owner = _db.session.scalars(select(User).where(User.role == "owner")).one()
        sample = clients[5]
        assert [d.client_id for d in find_duplicates(owner, template, sample.name, {})] == [sample.id]
        page = list_clients(owner, parse_list_params({"q": sample.name[2:8]}, template), template)
        assert sample.id in [c.id for c in page.items]
        assert count_clients(owner, parse_list_params({"field": "industry", "option": sample.values["industry"]},
                                                      template), template) >= 1
