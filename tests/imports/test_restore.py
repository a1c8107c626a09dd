"""Taking all your data away and bringing it back: the full export of company A, restored into a new company B,
reproduces the same cards (number, values, stage, owner by email, co-owner, tags, grade and manual grade, archive
state, follow-ups with their dates and authors) and B's template and settings; refused where it would mix data."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date

from sqlalchemy import inspect, select

from app.accounts.models import Tenant, User
from app.clients.models import Client, ClientChange
from app.extensions import db as _db
from app.followups.models import FollowUp
from app.imports.models import ImportRun
from app.tenancy import tenant_context
from tests import factories

SECRET = "机密住址幸福路8号"


def _company_a(a):
    """Company A as a firm would have it after a year: its own stage, a renamed field, cards of two colleagues, a
    manual grade, an archived card, follow-ups written by a colleague."""
    from app.card_templates.models import FieldDef
    from app.clients.services import create_client, set_archived
    from app.followups.services import add_followup, set_grade_override

    li = factories.user(a, "li@a.example", "member", "李明")
    with tenant_context(a.id):
        tenant = _db.session.get(Tenant, a.id)
        tenant.update_settings(stages=["潜在", "意向", "成交", "长期合作", "流失", "战略"],
                               followup_methods=["电话", "上门拜访", "微信", "展会"])
        fd = _db.session.scalars(select(FieldDef).where(FieldDef.key == "main_business")).one()
        fd.label = "主营业务范围"
        _db.session.commit()
        owner = _db.session.get(User, a.owner.id)
        li = _db.session.merge(li)
        common = {"business_phone": "021-55881234", "industry": "服装"}
        hg = create_client(owner, name="上海华光科技有限公司", stage="战略", owner_id=li.id, tags=["展会", "重点"],
                           co_owner_ids=[owner.id],
                           fields={**common, "annual_amount": "80万", "founded_on": "2019年3月5日",
                                   "legal_rep_home_address": SECRET, "main_business": "服装面料",
                                   "key_contacts": [{"name": "张三", "position": "采购经理", "role": "采购"}]})
        hz = create_client(owner, name="杭州明达贸易有限公司", fields={**common, "annual_amount": "20万"},
                           allow_duplicate=True)
        old = create_client(owner, name="南京远航家具有限公司", fields={**common, "business_phone": "025-66554433"},
                            allow_duplicate=True)
        set_grade_override(owner, hz, "A", "集团战略合作")
        set_archived(owner, old, True)
        add_followup(li, hg, {"date": "2024-03-05", "method": "展会", "content": "介绍新品", "feedback": "满意",
                              "plan": "报价", "next_date": "2024-04-01", "satisfaction": "4"})
        add_followup(owner, hz, {"date": "2023年11月20日", "method": "电话", "content": "确认订单"})
        _db.session.commit()


def _cards(tenant_id):
    """Every card as a comparable record, owners and authors by email."""
    with tenant_context(tenant_id):
        email = {u.id: u.email for u in _db.session.scalars(select(User))}
        out = {}
        for c in _db.session.scalars(select(Client)):
            fus = sorted((f.date, f.method, f.content, f.feedback, f.plan, f.next_date, f.satisfaction,
                          email.get(f.author_id))
                         for f in _db.session.scalars(select(FollowUp).where(FollowUp.client_id == c.id)))
            reason = _db.session.scalars(select(ClientChange.note).where(ClientChange.client_id == c.id,
                                                                         ClientChange.action == "grade")
                                         .order_by(ClientChange.id.desc())).first()
            out[c.number] = {"name": c.name, "stage": c.stage, "values": c.values, "tags": c.tags,
                             "owner": email.get(c.owner_id), "co_owners": sorted(email[i] for i in c.co_owner_ids),
                             "grade": c.grade, "grade_source": c.grade_source, "archived": c.archived,
                             "reason": reason if c.grade_source == "manual" else None, "followups": fus,
                             "created_at": c.created_at}
        _db.session.expunge_all()
        return out


def _full_export(browser, sensitive=True) -> bytes:
    r = browser.post("/imports/export/all", data={"sensitive": "1"} if sensitive else {})
    url = re.search(r'href="(/jobs/\d+/download)"', r.get_data(as_text=True)).group(1)
    return browser.get(url).data


def _restore(browser, data: bytes):
    return browser.post("/imports/restore", data={"file": (io.BytesIO(data), "clientcard-export.zip")},
                        content_type="multipart/form-data")


def test_full_export_restored_into_a_new_company_reproduces_the_cards(tenant_a, tenant_b, login):
    a_id, b_id, b_owner_id = tenant_a.id, tenant_b.id, inspect(tenant_b.owner).identity[0]
    _company_a(tenant_a)
    zip_data = _full_export(login(tenant_a.owner))
    b = login(tenant_b.owner)
    # Li moves to the new company account: in B the same person signs in with the same email.
    with tenant_context(a_id):
        _db.session.scalars(select(User).where(User.email == "li@a.example")).one().email = "li.old@a.example"
        _db.session.commit()
    factories.user(tenant_b, "li@a.example", "member", "李明")
    a_cards = _cards(a_id)
    for card in a_cards.values():  # li's cards and follow-ups: compared by the email li has in B
        card["owner"] = "li@a.example" if card["owner"] == "li.old@a.example" else card["owner"]
        card["followups"] = [f[:7] + ("li@a.example" if f[7] == "li.old@a.example" else f[7],)
                             for f in card["followups"]]

    assert 'id="restore-form"' in b.get("/imports/").get_data(as_text=True)
    r = _restore(b, zip_data)
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    page = b.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="import-result"' in page, page[:2000]

    b_cards = _cards(b_id)
    owner_a, owner_b = "owner@a.example", "owner@b.example"
    # The same cards, by number; what belonged to A's owner (who is not in B) now belongs to B's owner.
    for number, card in a_cards.items():
        card["owner"] = owner_b if card["owner"] == owner_a else card["owner"]
        card["co_owners"] = [owner_b if e == owner_a else e for e in card["co_owners"]]
        card["followups"] = [f[:7] + (owner_b if f[7] == owner_a else f[7],) for f in card["followups"]]
    assert b_cards == a_cards
    hg = next(c for c in b_cards.values() if c["name"] == "上海华光科技有限公司")
    assert hg["owner"] == "li@a.example" and hg["stage"] == "战略" and hg["values"]["legal_rep_home_address"] == SECRET
    assert hg["followups"][0][7] == "li@a.example" and hg["followups"][0][0] == date(2024, 3, 5)
    hz = next(c for c in b_cards.values() if c["name"] == "杭州明达贸易有限公司")
    assert (hz["grade"], hz["grade_source"], hz["reason"]) == ("A", "manual", "集团战略合作")

    # B's template and settings came along; the next new card is numbered after the restored ones.
    with tenant_context(b_id):
        from app.card_templates.models import FieldDef
        from app.clients.services import create_client

        assert _db.session.scalars(select(FieldDef.label).where(FieldDef.key == "main_business")).one() == "主营业务范围"
        tenant = _db.session.get(Tenant, b_id)
        assert "战略" in tenant.stages and "展会" in tenant.settings["followup_methods"]
        fresh = create_client(_db.session.get(User, b_owner_id), name="新客户有限公司",
                              fields={"business_phone": "010-56781234", "industry": "服装"})
        assert fresh.number not in a_cards and fresh.number > max(a_cards)
        imp = _db.session.scalars(select(ImportRun).where(ImportRun.kind == "restore")).one()
        assert imp.created == 3 and imp.updated == 2  # 3 cards, 2 follow-ups
        assert any("owner@a.example" in p["message"] for p in imp.problems)  # the owner mapping is noted
        _db.session.rollback()

    # A second restore is refused now that B has clients, and nothing changes.
    r = _restore(b, zip_data)
    assert r.status_code == 403 and "没有客户" in r.get_data(as_text=True)
    assert len(_cards(b_id)) == 3


def test_restore_is_for_owners_and_export_zips_only(tenant_a, tenant_b, login):
    b_id = tenant_b.id
    _company_a(tenant_a)
    zip_data = _full_export(login(tenant_a.owner), sensitive=False)
    admin = factories.user(tenant_b, "admin@b.example", "admin", "管理员")
    assert _restore(login(admin), zip_data).status_code == 403
    b = login(tenant_b.owner)
    r = _restore(b, b"PK\x03\x04garbage")
    assert r.status_code == 422 and 'id="err-restore"' in r.get_data(as_text=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("clients.json", '{"format": "something-else", "clients": []}')
    assert _restore(b, buf.getvalue()).status_code == 422
    assert _cards(b_id) == {}
    # Without sensitive values in the export, the restored cards simply do not have them.
    assert _restore(b, zip_data).status_code == 302
    restored = _cards(b_id)
    assert len(restored) == 3 and all("legal_rep_home_address" not in c["values"] for c in restored.values())
