"""Importing follow-up history (维护记录) as a firm keeps it: a second sheet of the client workbook, found by its
header; original dates and authors kept; rows whose client cannot be used reported with the reason; undo."""
from __future__ import annotations

import io
import json
from datetime import date

from openpyxl import Workbook
from sqlalchemy import func, select

from app.extensions import db as _db
from app.followups.models import FollowUp
from app.imports.models import ImportRun
from app.tenancy import tenant_context
from tests import factories
from tests.api.conftest import api_for, person, team_a  # noqa: F401  (fixtures)
from tests.imports.test_import_flow import _form_from_page, _import_id

HEADER = ["客户名称", "客户编号", "跟进日期", "跟进方式", "沟通内容", "客户反馈", "下一步计划", "下次联系日期", "满意度",
          "跟进人"]


def workbook(rows, with_client_sheet=True) -> bytes:
    wb = Workbook()
    ws = wb.active
    if with_client_sheet:
        ws.title = "客户清单"
        ws.append(["客户名称", "所属行业", "业务电话"])
        ws.append(["上海华光科技有限公司", "服装", "021-55881234"])
        ws = wb.create_sheet("跟进记录")
    ws.append(["2024年客户维护记录"])
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _card(bundle, name, **kw):
    """A card made through the card services: (id, number)."""
    c = factories.client(bundle, name, **kw)
    with tenant_context(bundle.id):
        c = _db.session.merge(c)
        return c.id, c.number


def _followups(bundle):
    with tenant_context(bundle.id):
        out = [(f.client_id, f.date, f.method, f.content, f.feedback, f.plan, f.next_date, f.satisfaction,
                f.author_id) for f in _db.session.scalars(select(FollowUp).order_by(FollowUp.id))]
        return out


def _problems(bundle, import_id):
    with tenant_context(bundle.id):
        imp = _db.session.get(ImportRun, import_id)
        return imp, {p["row"]: p for p in imp.problems}


def test_followup_sheet_keeps_dates_and_authors_reports_the_rest_and_undoes(tenant_a, login):
    member = person(factories.user(tenant_a, "li@a.example", "member", "李明"))
    factories.user(tenant_a, "wang@a.example", "member", "王强")
    hg_id, _n = _card(tenant_a, "上海华光科技有限公司")
    hz_id, hz_number = _card(tenant_a, "杭州明达贸易有限公司")
    nj = [_card(tenant_a, "南京远航家具有限公司")[1] for _ in range(2)]  # ambiguous by name
    rows = [
        ["上海华光科技有限公司", None, "2024年3月5日", "拜访", "介绍新品", "对价格满意", "报价", "2024-04-01", 4, "li@a.example"],
        [None, hz_number, date(2023, 11, 20), "电话沟通", "确认订单", None, None, None, None, "王强"],
        ["不存在的客户", None, "2024-01-02", "电话", "问候", None, None, None, None, None],
        ["南京远航家具有限公司", None, "2024-01-03", "电话", "问候", None, None, None, None, None],
        ["上海华光科技有限公司", None, "明天", "电话", "问候", None, None, None, None, None],
        ["上海华光科技有限公司", None, "2024-02-10", "电话", "节日问候", None, None, None, None, "老张"],
        ["上海华光科技有限公司", None, "2024-02-11", "飞鸽传书", "问候", None, None, None, None, None],
    ]
    owner = login(tenant_a.owner)
    r = owner.post("/imports/", data={"file": (io.BytesIO(workbook(rows)), "客户清单.xlsx"), "kind": "followups"},
                   content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    import_id = _import_id(r)
    page = owner.get(f"/imports/{import_id}").get_data(as_text=True)
    assert "跟进记录" in page and "维护记录" not in page.split("<tbody>")[0].split("<h1>")[0]
    form = _form_from_page(page)
    # The follow-up sheet was chosen (not the first one) and its columns mapped by their names.
    assert form == {"col-0": "@client", "col-1": "@number", "col-2": "date", "col-3": "method", "col-4": "content",
                    "col-5": "feedback", "col-6": "plan", "col-7": "next_date", "col-8": "satisfaction",
                    "col-9": "@author"}, form
    # The preview already names the client that cannot be found.
    assert "不存在的客户" in page and "field-error" in page

    r = owner.post(f"/imports/{import_id}/start", data={**form, "sheet": "跟进记录", "on_duplicate": "skip"})
    assert r.status_code == 302
    page = owner.get(f"/imports/{import_id}").get_data(as_text=True)
    assert 'id="import-result"' in page

    got = _followups(tenant_a)
    assert got == [
        (hg_id, date(2024, 3, 5), "上门拜访", "介绍新品", "对价格满意", "报价", date(2024, 4, 1), 4, member.id),
        (hz_id, date(2023, 11, 20), "电话", "确认订单", "", "", None, None, got[1][8]),
        (hg_id, date(2024, 2, 10), "电话", "节日问候", "", "", None, None, person(tenant_a.owner).id),
    ]
    with tenant_context(tenant_a.id):
        from app.accounts.models import User
        assert _db.session.get(User, got[1][8]).email == "wang@a.example"  # author found by name
    imp, by_row = _problems(tenant_a, import_id)
    assert imp.created == 3 and imp.kind == "followups"
    assert by_row[5]["field"] == "客户名称" and "不存在的客户" in by_row[5]["message"]
    assert by_row[6]["field"] == "客户名称" and all(n in by_row[6]["message"] for n in nj)  # ambiguous
    assert by_row[7]["field"] == "跟进日期"
    assert by_row[8]["kind"] == "note" and "老张" in by_row[8]["message"]  # unknown author: the importer, noted
    assert by_row[9]["field"] == "跟进方式"

    # The same sheet again adds nothing: every row it wrote is skipped as already on the card.
    r = owner.post("/imports/", data={"file": (io.BytesIO(workbook(rows)), "again.xlsx"), "kind": "followups"},
                   content_type="multipart/form-data")
    again = _import_id(r)
    owner.post(f"/imports/{again}/start", data={**form, "on_duplicate": "skip"})
    imp2, _rows = _problems(tenant_a, again)
    assert (imp2.created, imp2.skipped) == (0, 3) and len(_followups(tenant_a)) == 3

    # Undo removes the follow-ups the import added.
    assert owner.post(f"/imports/{import_id}/undo").status_code == 302
    assert _followups(tenant_a) == []


def test_a_card_the_member_cannot_see_is_reported_not_touched(tenant_a, login):
    with tenant_context(tenant_a.id):
        from app.accounts.models import Tenant
        t = _db.session.get(Tenant, tenant_a.id)
        t.update_settings(members_see_all=False)
        _db.session.commit()
    me_user = factories.user(tenant_a, "me@a.example", "member", "我")
    me = person(me_user)
    other = person(factories.user(tenant_a, "other@a.example", "member", "别人"))
    factories.client(tenant_a, "上海华光科技有限公司", owner_id=other.id)
    mine_id, _n = _card(tenant_a, "杭州明达贸易有限公司", owner_id=me.id)
    data = workbook([["上海华光科技有限公司", None, "2024-03-05", "电话", "问候", None, None, None, None, None],
                     ["杭州明达贸易有限公司", None, "2024-03-06", "微信", "问候", None, None, None, None, None]],
                    with_client_sheet=False)
    browser = login(me_user)
    import_id = _import_id(browser.post("/imports/", data={"file": (io.BytesIO(data), "f.xlsx"),
                                                             "kind": "followups"},
                                        content_type="multipart/form-data"))
    form = _form_from_page(browser.get(f"/imports/{import_id}").get_data(as_text=True))
    browser.post(f"/imports/{import_id}/start", data={**form, "on_duplicate": "skip"})
    assert [(f[0], f[2], f[8]) for f in _followups(tenant_a)] == [(mine_id, "微信", me.id)]
    _imp, by_row = _problems(tenant_a, import_id)
    assert "上海华光科技有限公司" in by_row[3]["message"] and by_row[3]["kind"] == "error"


def test_dry_run_and_missing_columns(tenant_a, login):
    factories.client(tenant_a, "上海华光科技有限公司")
    owner = login(tenant_a.owner)
    data = workbook([["上海华光科技有限公司", None, "2024-03-05", "电话", "问候", None, None, None, None, None]])
    import_id = _import_id(owner.post("/imports/", data={"file": (io.BytesIO(data), "f.xlsx"), "kind": "followups"},
                                      content_type="multipart/form-data"))
    form = _form_from_page(owner.get(f"/imports/{import_id}").get_data(as_text=True))
    r = owner.post(f"/imports/{import_id}/start", data={**form, "col-4": "", "on_duplicate": "skip"})
    assert r.status_code == 422  # the content column is needed
    owner.post(f"/imports/{import_id}/start", data={**form, "on_duplicate": "skip", "dry_run": "1"})
    imp, _rows = _problems(tenant_a, import_id)
    assert imp.created == 1 and imp.dry_run
    with tenant_context(tenant_a.id):
        assert _db.session.scalar(select(func.count(FollowUp.id))) == 0


def test_api_kind_followups(api_for, team_a):  # noqa: F811
    api = api_for(team_a.member)
    c = api.post("/clients", json={"name": "上海华光科技有限公司", "fields": {"business_phone": "021-5588 1234",
                                                                         "industry": "服装"}}).get_json()
    csv = ("客户编号,日期,方式,内容,作者\n"
           f"{c['number']},2024/5/6,上门拜访,签约,member2@a.example\n"
           "999999,2024/5/7,电话,问候,\n").encode("gb18030")
    r = api.client.post("/api/v1/imports", headers=api.headers(),
                        data={"file": (io.BytesIO(csv), "f.csv"), "kind": "followups",
                              "mapping": json.dumps({"作者": "@author"})}, content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    status = api.get(f"/imports/{r.get_json()['id']}").get_json()
    assert status["status"] == "done" and status["kind"] == "followups" and status["created"] == 1
    assert status["errors"] == [{"row": 3, "field": "客户编号", "message": status["errors"][0]["message"]}]
    assert "999999" in status["errors"][0]["message"]
    items = api.get(f"/clients/{c['id']}/followups").get_json()["items"]
    assert [(i["date"], i["method"], i["content"]) for i in items] == [("2024-05-06", "上门拜访", "签约")]
    assert items[0]["author_id"] == team_a.member2.id  # the original author, by email

    def last_contact():  # what the due list (and Today) knows of the client's contacts
        due = api.get("/followups/due?until=2099-12-31").get_json()["items"]
        return next(i["last_contact"] for i in due if i["client"]["id"] == c["id"])
    assert last_contact() == "2024-05-06"
    r = api.post(f"/imports/{status['id']}/undo")
    assert r.status_code == 200 and r.get_json()["removed"] == 1
    assert api.get(f"/clients/{c['id']}/followups").get_json()["items"] == []
    assert last_contact() is None
    bad = api.client.post("/api/v1/imports", headers=api.headers(),
                          data={"file": (io.BytesIO(csv), "f.csv"), "kind": "notes", "on_duplicate": "update"},
                          content_type="multipart/form-data")
    assert bad.status_code == 422 and "kind" in bad.get_json()["errors"]
