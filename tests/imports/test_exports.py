"""Exports: the list as xlsx/csv (formula injection neutralised, BOM for Excel, sensitive only when a permitted
user asks, every exported card in its view log) and the full tenant export as a job."""
from __future__ import annotations

import codecs
import io
import json
import re
import zipfile

from openpyxl import load_workbook
from sqlalchemy import select

from app.clients.models import Client, ClientView
from app.extensions import db as _db
from app.tenancy import tenant_context
from tests import factories

SECRET = "机密住址幸福路8号"
FORMULA = '=HYPERLINK("http://x","y")'


def _setup(bundle):
    factories.client(bundle, "上海华光科技有限公司",
                     fields={"business_phone": "021-55881234", "industry": "服装", "legal_rep_home_address": SECRET,
                             "address": FORMULA})
    factories.client(bundle, "杭州明达贸易有限公司", fields={"business_phone": "0571-88776655", "industry": "服装"})


def _rows(r):
    ws = load_workbook(io.BytesIO(r.data)).active
    return [list(row) for row in ws.iter_rows(values_only=True)]


def test_xlsx_export_writes_formulas_as_text_and_leaves_sensitive_out(tenant_a, login):
    _setup(tenant_a)
    owner = login(tenant_a.owner)
    r = owner.get("/imports/export?format=xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(r.data)).active
    cells = [c for row in ws.iter_rows() for c in row]
    formula_cells = [c for c in cells if c.value == FORMULA]
    assert formula_cells and all(c.data_type == "s" for c in formula_cells)  # text, never a formula
    assert not any(c.data_type == "f" for c in cells)
    assert SECRET not in json.dumps([c.value for c in cells], ensure_ascii=False, default=str)
    names = [row[1] for row in _rows(r)[1:]]
    assert sorted(names) == ["上海华光科技有限公司", "杭州明达贸易有限公司"]
    with tenant_context(tenant_a.id):
        kinds = _db.session.scalars(select(ClientView.kind)).all()
    assert sorted(kinds) == ["export", "export"]  # every exported card is in its view log


def test_csv_export_has_bom_and_neutralised_formulas(tenant_a, login):
    _setup(tenant_a)
    r = login(tenant_a.owner).get("/imports/export?format=csv&q=华光")
    assert r.status_code == 200 and r.data.startswith(codecs.BOM_UTF8)
    text = r.data.decode("utf-8-sig")
    assert "'" + FORMULA.replace('"', '""') in text and "杭州" not in text  # the list's filter applies


def test_sensitive_only_for_permitted_users_and_logged(tenant_a, login):
    _setup(tenant_a)
    viewer = factories.user(tenant_a, "v@a.example", "viewer")
    member = factories.user(tenant_a, "m@a.example", "member")
    r = login(viewer).get("/imports/export?format=csv&sensitive=1")
    assert SECRET not in r.data.decode("utf-8-sig")
    r = login(member).get("/imports/export?format=csv&sensitive=1")  # a member, not the card's owner
    assert SECRET not in r.data.decode("utf-8-sig")
    r = login(tenant_a.owner).get("/imports/export?format=csv&sensitive=1&reason=年审")
    assert SECRET in r.data.decode("utf-8-sig")
    with tenant_context(tenant_a.id):
        logged = _db.session.execute(select(ClientView.kind, ClientView.reason, Client.name)
                                     .join(Client, Client.id == ClientView.client_id)
                                     .where(ClientView.kind == "sensitive")).all()
    assert logged == [("sensitive", "年审", "上海华光科技有限公司")]


def test_export_reimports_into_an_empty_tenant(tenant_a, tenant_b, login):
    _setup(tenant_a)
    r = login(tenant_a.owner).get("/imports/export?format=xlsx")
    b = login(tenant_b.owner)
    up = b.post("/imports/", data={"file": (io.BytesIO(r.data), "clients.xlsx")}, content_type="multipart/form-data")
    assert up.status_code == 302, re.search(r"err-file.*?</p>", up.get_data(as_text=True), re.S).group(0)
    import_id = int(re.search(r"/imports/(\d+)", up.headers["Location"]).group(1))
    page = b.get(f"/imports/{import_id}").get_data(as_text=True)
    form = {}
    for m in re.finditer(r'<select name="(col-\d+)"[^>]*>(.*?)</select>', page, re.S):
        sel = re.search(r'<option value="([^"]*)" selected', m.group(2))
        form[m.group(1)] = sel.group(1) if sel else ""
    b.post(f"/imports/{import_id}/start", data={**form, "on_duplicate": "skip"})
    a_id, b_id = tenant_a.id, tenant_b.id
    with tenant_context(a_id):
        a_cards = {c.name: (c.stage, {k: v for k, v in c.values.items() if k != "legal_rep_home_address"})
                   for c in _db.session.scalars(select(Client))}
        _db.session.expunge_all()
    with tenant_context(b_id):
        b_cards = {c.name: (c.stage, c.values) for c in _db.session.scalars(select(Client))}
    assert b_cards == a_cards


def test_full_export_is_a_zip_built_by_a_job(tenant_a, login):
    _setup(tenant_a)
    owner = login(tenant_a.owner)
    r = owner.post("/imports/export/all", data={})
    assert r.status_code == 200
    url = re.search(r'href="(/jobs/\d+/download)"', r.get_data(as_text=True)).group(1)
    z = zipfile.ZipFile(io.BytesIO(owner.get(url).data))
    assert {"clients.json", "template.json", "history.json", "view_log.json", "settings.json", "colleagues.json",
            "clients.xlsx"} <= set(z.namelist())
    clients = json.loads(z.read("clients.json"))["clients"]
    assert sorted(c["name"] for c in clients) == ["上海华光科技有限公司", "杭州明达贸易有限公司"]
    assert SECRET not in z.read("clients.json").decode() and SECRET not in z.read("history.json").decode()
    # With sensitive values, asked for by the owner: included and audited.
    r = owner.post("/imports/export/all", data={"sensitive": "1"})
    url = re.search(r'href="(/jobs/\d+/download)"', r.get_data(as_text=True)).group(1)
    z = zipfile.ZipFile(io.BytesIO(owner.get(url).data))
    assert SECRET in z.read("clients.json").decode()
    # Only the owner who started it can download; admins cannot start one.
    admin = factories.user(tenant_a, "ad@a.example", "admin")
    assert login(admin).get(url).status_code == 404
    assert login(admin).post("/imports/export/all").status_code == 403
