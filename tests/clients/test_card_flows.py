"""Card flows: conflicts between two users, sensitive fields, history/as-of/revert, view log, print, prep,
archive/restore/delete."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.accounts.models import AuditRecord
from app.clients import services as cs
from app.card_templates.services import load_template
from app.clients.access import NotAllowed
from app.db_types import utcnow
from app.clients.models import Client, ClientChange
from app.extensions import db
from tests import factories
from tests.clients.test_card_page import _card, _changes, _fresh, _uid, _views, form_data

HX = {"HX-Request": "true"}
ADDRESS = "上海市徐汇区虹桥路 88 弄 6 号"


def test_two_users_editing_the_same_section_get_a_conflict_and_lose_nothing(tenant_a, login):
    li = factories.user(tenant_a, "li@a.example", "member", "李四")
    c = _card(tenant_a)
    boss, colleague = login(tenant_a.owner), login(li)
    form_boss = form_data(boss.get(f"/clients/{c.id}/sections/basic/edit", headers=HX).get_data(as_text=True))
    form_li = form_data(colleague.get(f"/clients/{c.id}/sections/basic/edit", headers=HX).get_data(as_text=True))
    form_boss.update({"f.address": "北京路 1 号", "f.industry": "贸易/进出口", "f.business_phone": "021-55881234"})
    assert boss.post(f"/clients/{c.id}/sections/basic", headers=HX, data=form_boss).status_code == 200
    form_li.update({"f.address": "南京路 2 号", "f.industry": "批发/零售", "f.business_phone": "021-55881234",
                    "f.postal_code": "200001"})
    r = colleague.post(f"/clients/{c.id}/sections/basic", headers=HX, data=form_li)
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and 'data-testid="conflict"' in html
    # What changed meanwhile: who, which field, before and after ...
    assert "老板" in html and "北京路 1 号" in html and "详细地址" in html
    # ... and the colleague's own input is still in the form, with the new version.
    again = form_data(html)
    assert again["f.address"] == "南京路 2 号" and again["f.postal_code"] == "200001" and again["version"] == "2"
    assert _fresh(tenant_a, c.id).values["address"] == "北京路 1 号"
    # "Save my version anyway" re-submits with the new version.
    r = colleague.post(f"/clients/{c.id}/sections/basic", headers=HX, data=again)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert _fresh(tenant_a, c.id).values["address"] == "南京路 2 号"
    # Both saves are in the history: nothing is lost.
    edits = [ch for ch in _changes(tenant_a, c.id) if ch.action == "edit"]
    assert [e.changes["address"]["to"] for e in edits] == ["北京路 1 号", "南京路 2 号"]


def test_different_sections_do_not_conflict(tenant_a, login):
    li = factories.user(tenant_a, "li@a.example", "member", "李四")
    c = _card(tenant_a)
    boss, colleague = login(tenant_a.owner), login(li)
    f1 = form_data(boss.get(f"/clients/{c.id}/sections/staff/edit", headers=HX).get_data(as_text=True))
    f2 = form_data(colleague.get(f"/clients/{c.id}/sections/products/edit", headers=HX).get_data(as_text=True))
    f1["f.staff_total"] = "120"
    f2["f.main_products"] = "光学镜头"
    assert boss.post(f"/clients/{c.id}/sections/staff", headers=HX, data=f1).status_code == 200
    assert colleague.post(f"/clients/{c.id}/sections/products", headers=HX, data=f2).status_code == 200
    values = _fresh(tenant_a, c.id).values
    assert values["staff_total"] == 120 and values["main_products"] == "光学镜头"


def test_header_conflict_keeps_input(tenant_a, login):
    li = factories.user(tenant_a, "li@a.example", "member", "李四")
    c = _card(tenant_a)
    boss, colleague = login(tenant_a.owner), login(li)
    owner = str(_uid(tenant_a))
    assert boss.post(f"/clients/{c.id}/header", headers=HX, data={"version": "1", "name": "华光科技", "stage": "意向",
                                                                  "owner_id": owner}).status_code == 200
    r = colleague.post(f"/clients/{c.id}/header", headers=HX, data={"version": "1", "name": "华光光电", "stage": "成交",
                                                                    "owner_id": owner, "tags": "重点"})
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and 'value="华光光电"' in html and 'value="重点"' in html and "华光科技" in html


def _sensitive_card(bundle):
    return _card(bundle, fields={"legal_rep_home_address": ADDRESS, "legal_rep_phone": "138 0013 8000"})


def test_sensitive_values_never_reach_other_users(tenant_a, login):
    member = factories.user(tenant_a, "zhao@a.example", "member", "赵六")
    viewer = factories.user(tenant_a, "v@a.example", "viewer", "钱七")
    c = _sensitive_card(tenant_a)
    for user in (member, viewer):
        b = login(user)
        for url in (f"/clients/{c.id}", f"/clients/{c.id}/sections/legal_rep", f"/clients/{c.id}/history",
                    f"/clients/{c.id}/print", f"/clients/{c.id}/prep", f"/clients/{c.id}/history/1"):
            html = b.get(url).get_data(as_text=True)
            assert ADDRESS not in html and "虹桥路" not in html, url
        html = b.get(f"/clients/{c.id}").get_data(as_text=True)
        assert "13800138000" in html.replace(" ", "") or "138 0013 8000" in html  # the rest of the section shows
        assert "hidden (sensitive)" in html or "已隐藏（敏感）" in html or "隐藏" in html
        assert b.post(f"/clients/{c.id}/sections/legal_rep/reveal", data={"reason": "x"}).status_code == 403
    b = login(member)
    html = b.get(f"/clients/{c.id}/sections/legal_rep/edit", headers=HX).get_data(as_text=True)
    assert ADDRESS not in html and 'name="f.legal_rep_home_address"' not in html
    # Saving that section leaves the hidden value alone.
    data = form_data(html)
    data["f.legal_rep_phone"] = "139 0000 0000"
    assert b.post(f"/clients/{c.id}/sections/legal_rep", headers=HX, data=data).status_code == 200
    assert _fresh(tenant_a, c.id).values["legal_rep_home_address"] == ADDRESS


def test_owner_opens_sensitive_section_with_a_reason(tenant_a, login):
    c = _sensitive_card(tenant_a)
    b = login(tenant_a.owner)
    html = b.get(f"/clients/{c.id}").get_data(as_text=True)
    assert ADDRESS not in html and 'data-testid="reveal"' in html and 'name="reason"' in html
    # Editing a collapsed section shows it collapsed, not the values.
    assert ADDRESS not in b.get(f"/clients/{c.id}/sections/legal_rep/edit", headers=HX).get_data(as_text=True)
    r = b.post(f"/clients/{c.id}/sections/legal_rep/reveal", headers=HX, data={"reason": ""})
    assert r.status_code == 422 and ADDRESS not in r.get_data(as_text=True)
    r = b.post(f"/clients/{c.id}/sections/legal_rep/reveal", headers=HX, data={"reason": "准备拜访"})
    assert r.status_code == 200 and ADDRESS in r.get_data(as_text=True)
    log = [(v.kind, v.reason) for v in _views(tenant_a, c.id)]
    assert ("sensitive", "准备拜访") in log
    # Now the section can be edited, and its history shows the value.
    assert ADDRESS in b.get(f"/clients/{c.id}/sections/legal_rep/edit", headers=HX).get_data(as_text=True)
    assert ADDRESS in b.get(f"/clients/{c.id}/history", headers=HX).get_data(as_text=True)
    # A fresh open of the card collapses it again.
    assert ADDRESS not in b.get(f"/clients/{c.id}").get_data(as_text=True)


def test_tenant_setting_never_asks_no_reason_but_still_logs(tenant_a, login):
    with factories.tenant_context(tenant_a.id):
        tenant_a.tenant.update_settings(sensitive_reason="never")
        db.session.commit()
    c = _sensitive_card(tenant_a)
    b = login(tenant_a.owner)
    html = b.get(f"/clients/{c.id}").get_data(as_text=True)
    assert 'name="reason"' not in html and 'data-testid="reveal"' in html
    r = b.post(f"/clients/{c.id}/sections/legal_rep/reveal", headers=HX, data={})
    assert r.status_code == 200 and ADDRESS in r.get_data(as_text=True)
    assert "sensitive" in [v.kind for v in _views(tenant_a, c.id)]


def test_co_owner_sees_sensitive_fields(tenant_a, login):
    member = factories.user(tenant_a, "zhao@a.example", "member", "赵六")
    c = _card(tenant_a, fields={"legal_rep_home_address": ADDRESS}, co_owner_ids=[_uid(member)])
    b = login(member)
    assert 'data-testid="reveal"' in b.get(f"/clients/{c.id}").get_data(as_text=True)
    r = b.post(f"/clients/{c.id}/sections/legal_rep/reveal", headers=HX, data={"reason": "交接"})
    assert ADDRESS in r.get_data(as_text=True)


def test_history_as_of_and_revert(tenant_a, login):
    c = _card(tenant_a, fields={"address": "北京路 1 号"})
    b = login(tenant_a.owner)
    data = form_data(b.get(f"/clients/{c.id}/sections/basic/edit", headers=HX).get_data(as_text=True))
    data.update({"f.address": "南京路 2 号", "f.industry": "贸易/进出口", "f.business_phone": "021-55881234"})
    assert b.post(f"/clients/{c.id}/sections/basic", headers=HX, data=data).status_code == 200
    data = form_data(b.get(f"/clients/{c.id}/sections/staff/edit", headers=HX).get_data(as_text=True))
    data["f.staff_total"] = "88"
    assert b.post(f"/clients/{c.id}/sections/staff", headers=HX, data=data).status_code == 200
    r = b.get(f"/clients/{c.id}/history")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" in html
    assert "北京路 1 号" in html and "南京路 2 号" in html and "详细地址" in html and "员工合计" in html and "88" in html
    r = b.get(f"/clients/{c.id}/history", headers=HX)
    assert r.status_code == 200 and "<html" not in r.get_data(as_text=True)
    # As of version 1: the old address, no staff count.
    html = b.get(f"/clients/{c.id}/history/1").get_data(as_text=True)
    assert "北京路 1 号" in html and "南京路 2 号" not in html and 'data-testid="edit"' not in html
    assert b.get(f"/clients/{c.id}/history/99").status_code == 404
    # Revert the address in one click.
    edit = [ch for ch in _changes(tenant_a, c.id) if ch.action == "edit"][0]
    r = b.post(f"/clients/{c.id}/history/{edit.id}/revert", headers=HX, data={"key": "address", "version": "3"})
    assert r.status_code == 200 and "<html" not in r.get_data(as_text=True)
    fresh = _fresh(tenant_a, c.id)
    assert fresh.values["address"] == "北京路 1 号" and fresh.values["staff_total"] == 88
    last = _changes(tenant_a, c.id)[-1]
    assert last.action == "revert" and last.changes == {"address": {"from": "南京路 2 号", "to": "北京路 1 号"}}
    # A revert from a stale page changes nothing and says so.
    r = b.post(f"/clients/{c.id}/history/{edit.id}/revert", headers=HX, data={"key": "industry", "version": "3"})
    assert r.status_code == 200 and _fresh(tenant_a, c.id).values.get("industry") == "贸易/进出口"
    # A required field is not reverted to empty: the reason is shown, nothing changes.
    r = b.post(f"/clients/{c.id}/history/{edit.id}/revert", headers=HX, data={"key": "industry", "version": "4"})
    assert r.status_code == 422 and "所属行业" in r.get_data(as_text=True)
    # Non-htmx: a redirect back to the history.
    staff = [ch for ch in _changes(tenant_a, c.id) if ch.action == "edit"][1]
    r = b.post(f"/clients/{c.id}/history/{staff.id}/revert", data={"key": "staff_total", "version": "4"})
    assert r.status_code == 302 and "staff_total" not in _fresh(tenant_a, c.id).values


def test_view_log_per_card_and_per_user(tenant_a, login):
    member = factories.user(tenant_a, "zhao@a.example", "member", "赵六")
    c = _card(tenant_a)
    m = login(member)
    m.get(f"/clients/{c.id}")
    m.get(f"/clients/{c.id}/print")
    m.get(f"/clients/{c.id}/prep")
    assert m.get(f"/clients/{c.id}/views").status_code == 403
    assert m.get(f"/clients/view-log?user={_uid(member)}").status_code == 403
    b = login(tenant_a.owner)
    r = b.get(f"/clients/{c.id}/views", headers=HX)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html and html.count("赵六") >= 3
    assert b.get(f"/clients/{c.id}/views").status_code == 200
    html = b.get(f"/clients/view-log?user={_uid(member)}").get_data(as_text=True)
    assert "<html" in html and c.number in html and "上海华光科技有限公司" in html
    r = b.get(f"/clients/view-log?user={_uid(member)}", headers=HX)
    assert "<html" not in r.get_data(as_text=True) and c.number in r.get_data(as_text=True)
    assert b.get("/clients/view-log?user=999999").status_code == 404
    assert {v.kind for v in _views(tenant_a, c.id)} >= {"open", "print", "prep"}


def test_visit_prep_orders_what_matters(tenant_a, login):
    c = _card(tenant_a, fields={"address": "北京路 1 号"})
    with factories.tenant_context(tenant_a.id):
        old = utcnow() - timedelta(days=400)
        db.session.execute(update(ClientChange).where(ClientChange.client_id == c.id).values(at=old))
        db.session.execute(update(Client).where(Client.id == c.id).values(created_at=old))
        db.session.commit()
        template = load_template()
        client = db.session.get(Client, c.id)
        items = cs.visit_prep(template, client)
        reasons = [i.reason for i in items]
        assert reasons == sorted(reasons, key=["required", "brief", "never", "stale"].index)
        assert items[0].field.key in ("business_phone", "industry")
        assert [i.field.key for i in items if i.reason == "stale"] == ["address"]
        assert any(i.reason == "never" and i.field.t_hints() for i in items)
    b = login(tenant_a.owner)
    html = b.get(f"/clients/{c.id}/prep").get_data(as_text=True)
    assert "<html" in html and "业务电话" in html and "data-print" in html
    assert "您的业务主要包括哪些方面" in html  # the industry field's question to ask
    r = b.get(f"/clients/{c.id}/prep", headers=HX)
    assert "<html" not in r.get_data(as_text=True)


def test_print_view_is_logged(tenant_a, login):
    c = _card(tenant_a, fields={"address": "北京路 1 号"})
    b = login(tenant_a.owner)
    html = b.get(f"/clients/{c.id}/print").get_data(as_text=True)
    assert "北京路 1 号" in html and "print.css" in html and 'data-print' in html
    assert [v.kind for v in _views(tenant_a, c.id)] == ["print"]


def test_archive_restore_and_delete(tenant_a, login):
    admin = factories.user(tenant_a, "admin@a.example", "admin", "管理员")
    c = _card(tenant_a)
    b = login(tenant_a.owner)
    r = b.post(f"/clients/{c.id}/archive")
    assert r.status_code == 302
    html = b.get(f"/clients/{c.id}").get_data(as_text=True)
    assert 'data-testid="archived-banner"' in html and 'data-testid="restore"' in html
    r = b.post(f"/clients/{c.id}/restore", headers=HX)
    assert r.status_code == 204 and r.headers["HX-Redirect"].endswith(f"/clients/{c.id}")
    assert [ch.action for ch in _changes(tenant_a, c.id)] == ["create", "archive", "restore"]
    # Permanent delete: owners only, typed confirmation.
    a = login(admin)
    assert a.get(f"/clients/{c.id}/delete").status_code == 403
    assert a.post(f"/clients/{c.id}/delete", data={"confirm_name": c.name}).status_code == 403
    assert b.get(f"/clients/{c.id}/delete").status_code == 200
    r = b.get(f"/clients/{c.id}/delete", headers=HX)
    assert r.status_code == 200 and "<html" not in r.get_data(as_text=True)
    r = b.post(f"/clients/{c.id}/delete", headers=HX, data={"confirm_name": "上海华光"})
    assert r.status_code == 422 and _fresh(tenant_a, c.id) is not None
    r = b.post(f"/clients/{c.id}/delete", data={"confirm_name": c.name})
    assert r.status_code == 302
    with factories.tenant_context(tenant_a.id):
        assert db.session.get(Client, c.id) is None
        audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "client.delete")).one()
        assert audit.detail["number"] == c.number and audit.detail["name"] == c.name


def test_delete_permanently_service_refuses_non_owners(tenant_a):
    admin = factories.user(tenant_a, "admin@a.example", "admin")
    c = factories.client(tenant_a)
    with factories.tenant_context(tenant_a.id):
        import pytest

        with pytest.raises(NotAllowed):
            cs.delete_permanently(db.session.merge(admin), db.session.get(Client, c.id))
