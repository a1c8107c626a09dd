"""Client numbers: {YYYY}{MM}{SEQ:3} by default, restarting each month in the tenant's time zone; unique and
gap-free under concurrent creation."""
from __future__ import annotations

import os
import threading
from datetime import datetime, timezone

import pytest

from app.clients import services as cs
from app.clients import numbers
from app.extensions import db
from tests import factories


def test_default_pattern_restarts_each_month_in_shanghai_time(tenant_a):
    with factories.tenant_context(tenant_a.id):
        t = tenant_a.tenant
        # 2026-11-30 15:59 UTC is still November in Shanghai; 16:00 UTC is 1 December there.
        nov = datetime(2026, 11, 30, 15, 59, tzinfo=timezone.utc)
        dec = datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
        assert [numbers.allocate_number(t, nov) for _ in range(3)] == ["202611001", "202611002", "202611003"]
        assert numbers.allocate_number(t, dec) == "202612001"
        assert numbers.allocate_number(t, nov) == "202611004"
        assert numbers.allocate_number(t, datetime(2027, 1, 1, 0, 0, tzinfo=timezone.utc)) == "202701001"


def test_custom_patterns(tenant_a):
    with factories.tenant_context(tenant_a.id):
        t = tenant_a.tenant
        now = datetime(2026, 3, 5, 4, 0, tzinfo=timezone.utc)
        t.update_settings(number_pattern="KH-{YY}{MM}{DD}-{SEQ:4}")
        assert numbers.allocate_number(t, now) == "KH-260305-0001"
        t.update_settings(number_pattern="C{SEQ:5}")
        assert [numbers.allocate_number(t, now), numbers.allocate_number(t, datetime(2030, 1, 1, tzinfo=timezone.utc))] == \
            ["C00001", "C00002"]  # no date part: one running sequence
    assert numbers.validate_number_pattern("{YYYY}{MM}") is not None
    assert numbers.validate_number_pattern("{YYYY}{XX}{SEQ:3}") is not None
    assert numbers.validate_number_pattern("{YYYY}{MM}{SEQ:3}") is None


def test_numbers_are_per_tenant(two_tenants):
    a, b = two_tenants
    ca, cb = factories.client(a, "甲"), factories.client(b, "乙")
    with factories.tenant_context(a.id):
        na = db.session.merge(ca).number
    with factories.tenant_context(b.id):
        nb = db.session.merge(cb).number
    assert na == nb and na.endswith("001")


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="parallel creation needs PostgreSQL (SQLite serialises writers)")
def test_parallel_creation_is_unique_and_gap_free(app, tenant_a):
    threads, per_thread = 8, 10
    errors = []
    with factories.tenant_context(tenant_a.id):
        owner_id = db.session.merge(tenant_a.owner).id
    db.session.remove()

    def work():
        from app.accounts.models import User
        from app.tenancy import tenant_context

        try:
            with app.app_context(), tenant_context(tenant_a.id):
                user = db.session.get(User, owner_id)
                for i in range(per_thread):
                    cs.create_client(user, name=f"并发客户 {threading.get_ident()} {i}", allow_duplicate=True,
                                     enforce_required=False)
                    db.session.commit()
                db.session.remove()
        except Exception as e:  # reported below
            errors.append(repr(e))

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not errors
    from sqlalchemy import select

    from app.clients.models import Client

    with factories.tenant_context(tenant_a.id):
        numbers = sorted(db.session.scalars(select(Client.number)))
    assert len(numbers) == threads * per_thread == len(set(numbers))
    seqs = sorted(int(n[-3:]) for n in numbers)
    assert seqs == list(range(1, threads * per_thread + 1))
    assert len({n[:6] for n in numbers}) == 1
