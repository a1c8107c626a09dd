"""Bad files get a clear message and change nothing: size cap (413), row cap, password-protected and corrupt
workbooks, a renamed non-zip .xlsx, zip and XML bombs, empty sheets, header-only files, duplicate column names."""
from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.clients.models import Client
from app.extensions import db as _db
from app.imports.models import ImportRun
from app.tenancy import tenant_context
from tests import factories
from tests.imports.helpers import messy_xlsx


@pytest.fixture()
def owner(db, login):
    bundle = factories.tenant("英文公司", "owner@en.example", language="en")  # messages asserted in English
    b = login(bundle.owner)
    b.bundle = bundle
    return b


def _upload(browser, data: bytes, name: str):
    return browser.post("/imports/", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def _nothing_written(bundle):
    with tenant_context(bundle.id):
        assert _db.session.scalar(select(func.count(ImportRun.id))) == 0
        assert _db.session.scalar(select(func.count(Client.id))) == 0


def _xlsx(rows) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rezip(data: bytes, replace: dict) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            zf.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, content in replace.items():
            if name not in src.namelist():
                zf.writestr(name, content)
    return out.getvalue()


BOMB_XML = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>')

CASES = {
    "password": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "list.xlsx", "password-protected"),
    "corrupt": (b"PK\x03\x04" + b"\x07" * 400, "list.xlsx", "damaged"),
    "renamed": ("客户名称,电话\n华光,021-55881234\n".encode(), "list.xlsx", "not an Excel workbook"),
    "zip bomb": (None, "list.xlsx", "zip bomb"),
    "xml bomb": (None, "list.xlsx", "unsafe XML"),
    "empty sheet": (None, "list.xlsx", "The sheet is empty"),
    "empty csv": (b"\n\n,,\n", "list.csv", "The sheet is empty"),
    "header only": ("客户名称,业务电话\n".encode(), "list.csv", "no rows"),
    "duplicate columns": ("客户名称,业务电话,业务电话\n华光,1,2\n".encode(), "list.csv", "same name: 业务电话"),
    "not a spreadsheet": (b"%PDF-1.4", "list.pdf", "Upload an Excel workbook"),
}


def _case_data(name):
    data, filename, message = CASES[name]
    if name == "zip bomb":
        data = _rezip(_xlsx([["客户名称"], ["华光"]]), {"xl/bomb.bin": b"\0" * (60 * 1024 * 1024)})
    elif name == "xml bomb":
        data = _rezip(_xlsx([["客户名称"], ["华光"]]), {"xl/worksheets/sheet1.xml": BOMB_XML})
    elif name == "empty sheet":
        data = _xlsx([])
    return data, filename, message


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_refused_with_its_message(owner, case):
    data, filename, message = _case_data(case)
    r = _upload(owner, data, filename)
    body = r.get_data(as_text=True)
    assert r.status_code == 422, (case, r.status_code, body[:300])
    assert message in body, (case, body[body.find("field-error"):][:300])
    _nothing_written(owner.bundle)


def test_size_cap_answers_413(app, owner):
    app.config["IMPORT_MAX_BYTES"] = 2000
    try:
        r = _upload(owner, messy_xlsx(), "list.xlsx")
    finally:
        app.config["IMPORT_MAX_BYTES"] = 20 * 1024 * 1024
    assert r.status_code == 413 and "larger than" in r.get_data(as_text=True)
    _nothing_written(owner.bundle)


def test_row_cap(app, owner):
    app.config["IMPORT_MAX_ROWS"] = 3
    try:
        r = _upload(owner, ("客户名称\n" + "".join(f"客户{i}\n" for i in range(5))).encode(), "list.csv")
    finally:
        app.config["IMPORT_MAX_ROWS"] = 50_000
    assert r.status_code == 422 and "more than 3 rows" in r.get_data(as_text=True)
    _nothing_written(owner.bundle)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_encodings_are_detected(owner, encoding):
    text = "客户名称,所属行业,业务电话\n上海华光科技有限公司,服装,021-55881234\n杭州明达贸易有限公司,快消品,0571-88776655\n"
    r = _upload(owner, text.encode(encoding), "list.csv")
    assert r.status_code == 302
    page = owner.get(r.headers["Location"]).get_data(as_text=True)
    assert "上海华光科技有限公司" in page and "杭州明达贸易有限公司" in page
