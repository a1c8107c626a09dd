"""Cells of an uploaded workbook come to the import as Excel users typed them: whole numbers without a trailing
".0" (phones, amounts), dates as dates, 是/否 for booleans, the row numbers of the sheet (blank leading rows and a
blank first column kept), and an error cell (#N/A) as an empty cell."""
from __future__ import annotations

import io
from datetime import date, datetime

from openpyxl import Workbook

from app.imports.reader import cell_text, read_sheet


def test_cells_read_as_typed(app):
    wb = Workbook()
    ws = wb.active
    ws["B3"], ws["C3"], ws["D3"], ws["E3"], ws["F3"], ws["G3"] = "客户名称", "电话", "注册资本", "成立时间", "上市", "备注"
    ws["B4"], ws["C4"], ws["D4"], ws["E4"] = "上海华光科技有限公司", 13800138000, 50.5, date(2024, 6, 30)
    ws["F4"], ws["G4"] = True, "#N/A"
    ws["B6"], ws["C6"], ws["E6"] = "杭州明达贸易有限公司", 5, datetime(2019, 3, 5, 9, 30)
    buf = io.BytesIO()
    wb.save(buf)
    with app.app_context():
        sheet = read_sheet("客户.xlsx", buf.getvalue(), None, {"客户名称", "电话"})
    assert sheet.header_row == 3
    assert sheet.columns[1:7] == ["客户名称", "电话", "注册资本", "成立时间", "上市", "备注"]
    (n1, r1), (n2, r2) = sheet.rows
    assert (n1, n2) == (4, 6)
    assert [cell_text(v) for v in r1[1:7]] == ["上海华光科技有限公司", "13800138000", "50.5", "2024-06-30", "是", None]
    assert [cell_text(v) for v in r2[1:5]] == ["杭州明达贸易有限公司", "5", None, "2019-03-05 09:30:00"]
    assert r1[0] is None and r2[2] == 5 and isinstance(r2[2], int)
