"""Every list (web and API, each filter and sort) runs the same small number of SQL statements whatever its page
size: no statement per row (co-owners, owners, tags or anything else a row shows)."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

from app.extensions import db
from app.tenancy import tenant_context
from tests import factories
from tests.api.conftest import make_token


@contextlib.contextmanager
def counting():
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


@pytest.fixture()
def many(tenant_a):
    """30 clients with co-owners, tags, amounts and stages."""
    member = factories.user(tenant_a, "li@a.example", "member", "李四")
    member2 = factories.user(tenant_a, "wang@a.example", "member", "王五")
    from app.clients.services import create_client

    with tenant_context(tenant_a.id):
        from app.accounts.models import User

        owner = db.session.get(User, tenant_a.owner.id)
        for i in range(30):
            create_client(owner, name=f"华光贸易{i:02d}号有限公司", tags=["重点", f"t{i % 3}"],
                          co_owner_ids=[member.id, member2.id] if i % 2 else [member.id],
                          fields={"annual_amount": f"{i + 1}万", "industry": "快消品"},
                          stage="潜在" if i % 2 else None, allow_duplicate=True, enforce_required=False)
        db.session.commit()
    return tenant_a


QUERIES = ["", "q=华光", "q=华", "stage=潜在", "sort=annual_amount", "sort=annual_amount&stage=潜在",
           "sort=name", "tag=重点", "field=industry&option=快消品"]


@pytest.mark.parametrize("query", QUERIES)
def test_api_list_statements_do_not_grow_with_the_page(app, many, query):
    api = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(many.owner)}"}
    api.get("/api/v1/clients?limit=1", headers=headers)  # the token's first use is recorded once
    counts = {}
    for limit in (2, 25):
        with counting() as statements:
            r = api.get(f"/api/v1/clients?{query}&limit={limit}", headers=headers)
        assert r.status_code == 200, r.get_json()
        assert len(r.get_json()["items"]) == limit
        counts[limit] = len(statements)
    assert counts[2] == counts[25], counts
    assert counts[25] <= 12, counts


@pytest.mark.parametrize("query", [q.replace("sort=-", "sort=").replace("sort=annual_amount", "sort=annual_amount")
                                   for q in QUERIES])
def test_web_list_statements_do_not_grow_with_the_page(login, many, query):
    browser = login(many.owner)
    browser.get("/clients/?limit=1")
    counts = {}
    for limit in (2, 25):
        with counting() as statements:
            r = browser.get(f"/clients/?{query}&limit={limit}", headers={"HX-Request": "true"})
        assert r.status_code == 200
        counts[limit] = len(statements)
    assert counts[2] == counts[25], counts
    assert counts[25] <= 12, counts
