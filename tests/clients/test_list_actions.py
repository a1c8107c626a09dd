"""Bulk actions and saved views on the client list."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db as _db
from tests import factories


def _models():
    from app.clients import models

    return models


def _rows(html):
    return re.findall(r'<td class="name"><a href="/clients/\d+">([^<]+)</a>', html)


def _make(tenant, as_tenant, n=3):
    ids = []
    with as_tenant(tenant):
        for i in range(n):
            ids.append(factories.client(tenant, f"批量客户{i}").id)
    return ids


def _history(tenant, as_tenant, client_id):
    M = _models()
    with as_tenant(tenant):
        return _db.session.scalars(select(M.ClientChange).where(M.ClientChange.client_id == client_id)
                                   .order_by(M.ClientChange.id)).all()


def test_bulk_archive_refreshes_rows_and_records_history(login, tenant_a, as_tenant, hx):
    ids = _make(tenant_a, as_tenant)
    b = login(tenant_a.owner)
    page = b.get("/clients/").get_data(as_text=True)
    assert 'hx-confirm="Archive __N__ clients?"' in page or "__N__" in page
    assert "data-select-all" in page
    r = b.post("/clients/bulk", data={"action": "archive", "ids": ids[:2]}, headers=hx)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html
    assert _rows(html) == ["批量客户2"]
    assert 'class="flash flash-success"' in html and "2" in html
    for cid in ids[:2]:
        assert [c.action for c in _history(tenant_a, as_tenant, cid)][-1] == "archive"


def test_bulk_owner_stage_and_tags(login, tenant_a, as_tenant, hx):
    ids = _make(tenant_a, as_tenant)
    member = factories.user(tenant_a, "m@a.example", "member", "小王")
    with as_tenant(tenant_a):
        member_id = member.id
    b = login(tenant_a.owner)
    assert b.post("/clients/bulk", data={"action": "owner", "to_owner": member_id, "ids": ids}, headers=hx).status_code == 200
    assert b.post("/clients/bulk", data={"action": "stage", "to_stage": "成交", "ids": ids[:1]}, headers=hx).status_code == 200
    b.post("/clients/bulk", data={"action": "add_tag", "bulk_tag": "展会", "ids": ids}, headers=hx)
    b.post("/clients/bulk", data={"action": "remove_tag", "bulk_tag": "展会", "ids": ids[2:]}, headers=hx)
    M = _models()
    with as_tenant(tenant_a):
        clients = {c.id: c for c in _db.session.scalars(select(M.Client))}
        assert {c.owner_id for c in clients.values()} == {member_id}
        assert clients[ids[0]].stage == "成交" and clients[ids[1]].stage == "潜在"
        assert clients[ids[0]].tags == ["展会"] and clients[ids[2]].tags == []
    keys = [set(c.changes) for c in _history(tenant_a, as_tenant, ids[0])]
    assert {"@owner"} in keys and {"@stage"} in keys and {"@tags"} in keys


def test_bulk_needs_a_selection_and_valid_input(login, tenant_a, as_tenant, hx):
    ids = _make(tenant_a, as_tenant, 1)
    b = login(tenant_a.owner)
    r = b.post("/clients/bulk", data={"action": "archive"}, headers=hx)
    assert 'class="flash flash-error"' in r.get_data(as_text=True)
    r = b.post("/clients/bulk", data={"action": "stage", "to_stage": "不存在", "ids": ids}, headers=hx)
    html = r.get_data(as_text=True)
    assert 'class="flash flash-error"' in html and "潜在、意向" in html
    assert len(_history(tenant_a, as_tenant, ids[0])) == 1  # nothing was written


def test_bulk_without_htmx_redirects_back_to_the_list(login, tenant_a, as_tenant):
    ids = _make(tenant_a, as_tenant, 1)
    b = login(tenant_a.owner)
    r = b.post("/clients/bulk", data={"action": "archive", "ids": ids, "list_query": "sort=name"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/clients/?sort=name")


def test_bulk_is_for_editors_and_own_tenant_only(login, two_tenants, as_tenant, hx):
    a, b_tenant = two_tenants
    ids = _make(a, as_tenant, 2)
    viewer = factories.user(a, "v@a.example", "viewer")
    assert login(viewer).post("/clients/bulk", data={"action": "archive", "ids": ids}, headers=hx).status_code == 403
    page = login(viewer).get("/clients/").get_data(as_text=True)
    assert "bulk-form" not in page and 'name="ids"' not in page
    other = login(b_tenant.owner)
    r = other.post("/clients/bulk", data={"action": "archive", "ids": ids}, headers=hx)
    assert 'class="flash flash-error"' in r.get_data(as_text=True)
    M = _models()
    with as_tenant(a):
        assert all(c.archived_at is None for c in _db.session.scalars(select(M.Client)))


def test_saved_views_save_list_and_delete(login, tenant_a, as_tenant, hx):
    _make(tenant_a, as_tenant, 1)
    b = login(tenant_a.owner)
    r = b.post("/clients/views", data={"name": "我的重点", "q": "批量", "tag": "重点", "sort": "name"}, headers=hx)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html and 'id="saved-views"' in html
    assert re.search(r'href="/clients/\?q=%E6%89%B9%E9%87%8F&amp;tag=%E9%87%8D%E7%82%B9&amp;sort=name">我的重点</a>', html)
    page = b.get("/clients/").get_data(as_text=True)
    assert "我的重点" in page
    # another user of the same tenant does not see it
    other = factories.user(tenant_a, "o@a.example", "member")
    assert "我的重点" not in login(other).get("/clients/").get_data(as_text=True)
    M = _models()
    with as_tenant(tenant_a):
        view_id = _db.session.scalars(select(M.SavedView.id)).one()
    assert login(other).post(f"/clients/views/{view_id}/delete", headers=hx).status_code == 404
    r = b.post(f"/clients/views/{view_id}/delete", headers=hx)
    assert r.status_code == 200 and "我的重点" not in r.get_data(as_text=True)


def test_saved_view_needs_a_name_and_works_without_js(login, tenant_a, hx):
    b = login(tenant_a.owner)
    r = b.post("/clients/views", data={"name": " ", "q": "x"}, headers=hx)
    assert r.status_code == 422 and 'class="field-error"' in r.get_data(as_text=True)
    r = b.post("/clients/views", data={"name": "归档", "query": "archived=archived&sort=name"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/clients/?archived=archived&sort=name")


def test_saved_view_of_another_tenant_is_404(login, two_tenants, as_tenant):
    a, b_tenant = two_tenants
    login(a.owner).post("/clients/views", data={"name": "甲的视图", "q": "x"})
    M = _models()
    with as_tenant(a):
        view_id = _db.session.scalars(select(M.SavedView.id)).one()
    assert login(b_tenant.owner).post(f"/clients/views/{view_id}/delete").status_code == 404
