"""Importing a messy client list as a new user would: upload, map, preview, import (a job), report, undo."""
from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.clients.models import Client, ClientChange
from app.clients.services import CARD_ROWS
from app.extensions import db as _db
from app.imports.models import ImportRun
from app.tenancy import tenant_context
from tests import factories
from tests.imports.helpers import csv_bytes, messy_xlsx


def _upload(browser, data: bytes, name: str):
    return browser.post("/imports/", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def _import_id(r) -> int:
    return int(re.search(r"/imports/(\d+)", r.headers["Location"]).group(1))


def _cards(bundle) -> dict:
    with tenant_context(bundle.id):
        out = {c.name: c for c in _db.session.scalars(select(Client))}
        _db.session.expunge_all()
        return out


def _form_from_page(html: str) -> dict:
    """The mapping form as the page proposes it (selected option of every column select)."""
    form = {}
    for m in re.finditer(r'<select name="(col-\d+)"[^>]*>(.*?)</select>', html, re.S):
        sel = re.search(r'<option value="([^"]*)" selected', m.group(2))
        form[m.group(1)] = sel.group(1) if sel else ""
    return form


def test_messy_sheet_imports_with_report_and_undo(tenant_a, login):
    existing = factories.client(tenant_a, "上海华光科技有限公司", fields={"business_phone": "021-55881234"})
    owner = login(tenant_a.owner)
    r = _upload(owner, messy_xlsx(), "客户清单.xlsx")
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    import_id = _import_id(r)

    page = owner.get(f"/imports/{import_id}").get_data(as_text=True)
    form = _form_from_page(page)
    # Header found under the title (row 3/4, merged group cells read); columns mapped by label.
    assert form == {"col-0": "@name", "col-1": "industry", "col-2": "registered_capital", "col-3": "founded_on",
                    "col-4": "business_phone", "col-5": "email", "col-6": "@tags"}, form
    # The preview shows parsed values and per-cell errors.
    assert "021-5588 1234" in page or "021-55881234" in page
    assert "bad-email" not in page.split("<tbody>")[1] or "field-error" in page

    r = owner.post(f"/imports/{import_id}/start", data={**form, "on_duplicate": "skip"})
    assert r.status_code == 302
    page = owner.get(f"/imports/{import_id}").get_data(as_text=True)
    assert 'id="import-result"' in page

    cards = _cards(tenant_a)
    assert set(cards) == {"上海华光科技有限公司", "杭州明达贸易有限公司"}  # the duplicate skipped, bad rows reported
    hz = cards["杭州明达贸易有限公司"]
    assert hz.values["registered_capital"] == 120000000 and hz.values["founded_on"] == "2019-03-05"
    assert hz.tags == ["转介绍", "重点"]
    with tenant_context(tenant_a.id):
        imp = _db.session.get(ImportRun, import_id)
        assert (imp.created, imp.updated, imp.skipped) == (1, 0, 1)
        by_row = {p["row"]: p for p in imp.problems}
        assert by_row[5]["kind"] == "skipped"                       # the existing client
        assert by_row[8]["field"] == "电子邮箱"                       # bad email, reported by its column
        assert by_row[9]["field"] == "客户名称"                       # no name
        assert imp.data is None                                     # the upload is not kept

    # The report lists every row not imported, as xlsx.
    r = owner.get(f"/imports/{import_id}/report.xlsx")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).active
    assert [row[0] for row in ws.iter_rows(min_row=2, values_only=True)] == [5, 8, 9]

    # Undo: the created card goes, the existing one stays.
    r = owner.post(f"/imports/{import_id}/undo")
    assert r.status_code == 302
    assert set(_cards(tenant_a)) == {"上海华光科技有限公司"}
    assert existing is not None
    assert owner.post(f"/imports/{import_id}/undo").status_code == 302  # twice: refused with a message
    assert set(_cards(tenant_a)) == {"上海华光科技有限公司"}
    with tenant_context(tenant_a.id):  # none of the removed card's rows stay behind (SQLite cascades nothing)
        for model in CARD_ROWS:
            assert not _db.session.scalar(select(func.count()).select_from(model)
                                          .where(model.client_id.not_in(select(Client.id)))), model

    # Imported again after the undo: the card comes back and search finds it.
    again = _import_id(_upload(owner, messy_xlsx(), "客户清单.xlsx"))
    assert owner.post(f"/imports/{again}/start", data={**form, "on_duplicate": "skip"}).status_code == 302
    assert set(_cards(tenant_a)) == {"上海华光科技有限公司", "杭州明达贸易有限公司"}
    assert "杭州明达贸易有限公司" in owner.get("/clients/?q=明达").get_data(as_text=True)


def test_update_duplicates_and_undo_restores_previous_values(tenant_a, login):
    factories.client(tenant_a, "上海华光科技有限公司", fields={"business_phone": "021-55881234", "industry": "快消品"})
    owner = login(tenant_a.owner)
    data = csv_bytes("客户名称,所属行业,业务电话\n上海华光科技有限公司,服装,021-55881234\n新客户有限公司,服装,010-56781234\n",
                     "gb18030")
    import_id = _import_id(_upload(owner, data, "list.csv"))
    form = _form_from_page(owner.get(f"/imports/{import_id}").get_data(as_text=True))
    assert form == {"col-0": "@name", "col-1": "industry", "col-2": "business_phone"}
    owner.post(f"/imports/{import_id}/start", data={**form, "on_duplicate": "update"})
    cards = _cards(tenant_a)
    assert cards["上海华光科技有限公司"].values["industry"] == "服装" and "新客户有限公司" in cards
    owner.post(f"/imports/{import_id}/undo")
    cards = _cards(tenant_a)
    assert set(cards) == {"上海华光科技有限公司"} and cards["上海华光科技有限公司"].values["industry"] == "快消品"
    with tenant_context(tenant_a.id):
        actions = _db.session.scalars(select(ClientChange.action).order_by(ClientChange.id)).all()
    assert actions == ["create", "import", "undo"]  # both recorded in the card's history


def test_dry_run_writes_nothing(tenant_a, login):
    owner = login(tenant_a.owner)
    import_id = _import_id(_upload(owner, messy_xlsx(), "a.xlsx"))
    form = _form_from_page(owner.get(f"/imports/{import_id}").get_data(as_text=True))
    owner.post(f"/imports/{import_id}/start", data={**form, "on_duplicate": "skip", "dry_run": "1"})
    with tenant_context(tenant_a.id):
        assert _db.session.scalar(select(func.count(Client.id))) == 0
        imp = _db.session.get(ImportRun, import_id)
        assert imp.created == 2 and imp.dry_run and len(imp.problems) == 2


def test_viewer_cannot_import(tenant_a, login):
    viewer = factories.user(tenant_a, "v@a.example", "viewer")
    assert login(viewer).get("/imports/").status_code == 403


def test_required_fields_are_reported_per_cell_and_the_row_not_imported(tenant_a, login):
    """As in the card form and the batch API: a new card needs the template's required fields (业务电话, 所属行业
    in this template); a row without one is reported by its column and not imported, in a dry run too."""
    owner = login(tenant_a.owner)
    data = csv_bytes("客户名称,所属行业,业务电话\n上海华光科技有限公司,服装,021-55881234\n杭州明达贸易有限公司,,0571-88776655\n"
                     "南京远航家具有限公司,家具/玩具,\n")
    import_id = _import_id(_upload(owner, data, "list.csv"))
    page = owner.get(f"/imports/{import_id}").get_data(as_text=True)
    assert page.count("必填") >= 2  # the preview marks the empty required cells
    form = _form_from_page(page)
    owner.post(f"/imports/{import_id}/start", data={**form, "on_duplicate": "skip", "dry_run": "1"})
    with tenant_context(tenant_a.id):
        imp = _db.session.get(ImportRun, import_id)
        assert imp.created == 1
        assert [(p["row"], p["field"]) for p in imp.problems] == [(3, "所属行业"), (4, "业务电话")]
        assert all("必填" in p["message"] for p in imp.problems)

    # A list without the phone column at all: every row names the missing field.
    import_id = _import_id(_upload(owner, csv_bytes("客户名称,所属行业\n上海华光科技有限公司,服装\n"), "b.csv"))
    page = owner.get(f"/imports/{import_id}").get_data(as_text=True)
    assert "业务电话为必填项" in page or "业务电话" in page.split("<tbody>")[1]
    owner.post(f"/imports/{import_id}/start", data={**_form_from_page(page), "on_duplicate": "skip"})
    with tenant_context(tenant_a.id):
        imp = _db.session.get(ImportRun, import_id)
        assert imp.created == 0 and [(p["row"], p["field"]) for p in imp.problems] == [(2, "业务电话")]


def test_a_template_without_required_fields_imports_every_named_row(tenant_a, login):
    from app.card_templates.models import FieldDef

    with tenant_context(tenant_a.id):
        for fd in _db.session.scalars(select(FieldDef).where(FieldDef.required.is_(True))):
            fd.required = False
        _db.session.commit()
    owner = login(tenant_a.owner)
    import_id = _import_id(_upload(owner, csv_bytes("客户名称,所属行业\n上海华光科技有限公司,\n杭州明达贸易有限公司,服装\n"), "c.csv"))
    form = _form_from_page(owner.get(f"/imports/{import_id}").get_data(as_text=True))
    owner.post(f"/imports/{import_id}/start", data={**form, "on_duplicate": "skip"})
    assert set(_cards(tenant_a)) == {"上海华光科技有限公司", "杭州明达贸易有限公司"}


def test_a_row_meets_the_card_an_earlier_row_changed(tenant_a, login):
    """Rows are matched to existing cards for the whole file at once, but a row updating a card changes what later
    rows match: here row 2 gives 华光 a new phone and row 3, a differently named company with that phone, is then
    recognised as 华光 (updated, not created), while row 4 (明达's phone) updates 明达 as looked up in advance."""
    factories.client(tenant_a, "上海华光科技有限公司", fields={"business_phone": "021-55881234", "industry": "快消品"})
    factories.client(tenant_a, "杭州明达贸易有限公司", fields={"business_phone": "0571-88776655"})
    owner = login(tenant_a.owner)
    data = csv_bytes("客户名称,所属行业,业务电话\n"
                     "上海华光科技有限公司,服装,010-66667777\n"
                     "华光科技（北京）,贸易/进出口,010-66667777\n"
                     "明达贸易,家具/玩具,0571-88776655\n"
                     "新客户有限公司,服装,010-56781234\n")
    import_id = _import_id(_upload(owner, data, "list.csv"))
    form = _form_from_page(owner.get(f"/imports/{import_id}").get_data(as_text=True))
    owner.post(f"/imports/{import_id}/start", data={**form, "on_duplicate": "update"})
    cards = _cards(tenant_a)
    assert set(cards) == {"上海华光科技有限公司", "杭州明达贸易有限公司", "新客户有限公司"}
    assert cards["上海华光科技有限公司"].values["industry"] == "贸易/进出口"
    assert cards["杭州明达贸易有限公司"].values["industry"] == "家具/玩具"
    with tenant_context(tenant_a.id):
        imp = _db.session.get(ImportRun, import_id)
        assert (imp.created, imp.updated, imp.skipped) == (1, 3, 0), imp.problems
