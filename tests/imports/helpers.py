"""Building messy real-world client lists the way Excel users make them."""
from __future__ import annotations

import io

from openpyxl import Workbook


def messy_xlsx(extra_rows=()) -> bytes:
    """A title row (merged), a blank row, a two-line header with merged group cells, full-width digits, mixed
    dates, 万 amounts, blank rows between data, a duplicate of an existing client."""
    wb = Workbook()
    ws = wb.active
    ws.title = "客户清单"
    ws.append(["华东区2024年客户清单"])
    ws.merge_cells("A1:G1")
    ws.append([])
    ws.append(["客户名称", "所属行业", "注册资本", "成立时间", "联系方式", None, "标签"])
    ws.merge_cells("E3:F3")
    ws.merge_cells("A3:A4")
    ws.append([None, None, None, None, "业务电话", "电子邮箱", None])
    rows = [
        ["上海华光科技有限公司", "服装", "50万", "2024年6月30日", "０２１－５５８８１２３４", "info@huaguang.cn", "展会"],
        [],
        ["杭州明达贸易有限公司", "贸易/进出口", "1.2亿", "2019/3/5", "0571-88776655", None, "转介绍, 重点"],
        ["南京远航家具有限公司", "家具/玩具", "￥500,000", "2020-01-15", "025-66554433", "bad-email", None],
        ["", "服装", "10万", None, None, None, None],
        *extra_rows,
    ]
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(text: str, encoding="utf-8") -> bytes:
    return text.encode(encoding)
