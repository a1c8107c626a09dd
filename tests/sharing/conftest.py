"""A tenant with a filled card, helpers to read PDFs the way a person would (text, fonts, pictures)."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from tests import factories

SECRET_HOME = "机密住址幸福路8弄"          # pic_home_address: sensitive
SECRET_LEGAL = "法人家庭住址机密路1号"      # legal_rep_home_address: sensitive
FIELDS = {
    "business_phone": "021-5588 1234", "industry": "服装", "address": "上海市浦东新区张江路88号",
    "registered_capital": "500万", "founded_on": "2015年6月30日",
    "main_business": "服装设计、生产与出口；面向华东地区的连锁零售。",
    "main_products": "羊毛衫、针织外套、童装", "current_needs": "明年春季订单的面料供应与交期保障",
    "trade_terms": "月结60天，预付30%", "credit_limit": "80万", "pic_name": "王建国",
    "pic_mobile": "+86 138 0013 8000", "pic_home_address": SECRET_HOME, "legal_rep_name": "李华",
    "legal_rep_home_address": SECRET_LEGAL, "supervising_body": "不在简报里的上级主管部门",
    "key_contacts": [{"name": "张丽", "department": "采购部", "position": "采购经理", "role": "采购"}],
}


@dataclass
class Setup:
    bundle: object
    client_id: int
    member: object
    viewer: object


@pytest.fixture()
def card(db):
    bundle = factories.tenant("上海示例贸易有限公司", "boss@example.com")
    member = factories.user(bundle, "member@example.com", "member", "销售小刘")
    viewer = factories.user(bundle, "viewer@example.com", "viewer", "财务老周")
    c = factories.client(bundle, "上海华光科技有限公司", fields=FIELDS, tags=["展会"])
    from sqlalchemy import inspect

    return Setup(bundle, inspect(c).identity[0], member, viewer)


def pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


def pdf_fonts(data: bytes, tmp_path) -> list[dict]:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout.splitlines()[2:]
    fonts = []
    for line in out:
        parts = line.split()
        # name type... encoding emb sub uni object-id gen
        fonts.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return fonts
