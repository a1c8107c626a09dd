"""Shared helpers for the template tests: fill cards, snapshot every card's values."""
from __future__ import annotations

from sqlalchemy import select

from app.clients.models import Client
from app.clients.services import create_client
from app.extensions import db

CARDS = [
    {"name": "上海华光科技有限公司", "fields": {
        "industry": "快消品", "company_size": "小微企业(50人以下)", "business_phone": "010-56781234",
        "registered_capital": "50万", "founded_on": "2010年3月5日", "staff_total": "120", "website": "www.huaguang.cn",
        "payment_attitude": "爽快", "bank_credit": "很好", "address": "上海市徐汇区漕溪北路 1 号",
        "key_contacts": [{"name": "王芳", "department": "采购部"}]}},
    {"name": "北京远景贸易公司", "fields": {
        "industry": "贸易/进出口", "business_phone": "13800138000", "registered_capital": "1.2亿",
        "payment_attitude": "迟缓", "bank_credit": "一般", "staff_total": "8", "address": "abc-123"}},
    {"name": "深圳蓝海", "fields": {"industry": "其他", "payment_attitude": "爽快", "founded_on": "2001-01-01",
                                    "address": "12345"}},
]


def fill_cards(bundle, cards=CARDS) -> list[Client]:
    """Create the example cards through the client services (inside the tenant scope)."""
    out = []
    for card in cards:
        out.append(create_client(bundle.owner, name=card["name"], fields=dict(card["fields"]),
                                 allow_duplicate=True, enforce_required=False))
    db.session.commit()
    return out


def snapshot() -> dict[int, dict]:
    """Every card's stored values, archived cards included."""
    db.session.expire_all()
    return {c.id: dict(c.values or {}) for c in db.session.scalars(select(Client).order_by(Client.id))}


def assert_same(before: dict, after: dict, except_keys=()) -> None:
    """No value lost or changed (except the keys a test rewrites on purpose)."""
    assert set(before) == set(after)
    for cid, values in before.items():
        for key, value in values.items():
            if key in except_keys:
                assert key in after[cid], (cid, key)
                continue
            assert after[cid].get(key) == value, (cid, key, value, after[cid].get(key))
