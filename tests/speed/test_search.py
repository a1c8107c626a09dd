"""Chinese search and order: one- and two-character terms through the n-gram index, several words (all must
match), full pinyin and initials, pinyin name order, and capped totals."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from tests import factories
from tests.api.conftest import make_token

NAMES = ["上海华光科技有限公司", "中联重科股份有限公司", "郑州宇通汽车有限公司", "郑州日产贸易有限公司",
         "北京东方汽车贸易有限公司", "佛山信辰电器厂", "南京中联物流有限公司", "合肥华联商贸"]


@pytest.fixture()
def cards(tenant_a):
    for name in NAMES:
        factories.client(tenant_a, name)
    return tenant_a


def _names(app, bundle, query):
    api = app.test_client()
    r = api.get(f"/api/v1/clients?limit=200&{query}", headers={"Authorization": f"Bearer {make_token(bundle.owner)}"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.mark.parametrize("q, expected", [
    ("中联", {"中联重科股份有限公司", "南京中联物流有限公司"}),
    ("华", {"上海华光科技有限公司", "合肥华联商贸"}),
    ("信辰", {"佛山信辰电器厂"}),
    ("郑州 汽车", {"郑州宇通汽车有限公司"}),            # both words must match
    ("汽车  贸易", {"北京东方汽车贸易有限公司"}),
    ("zhonglian", {"中联重科股份有限公司", "南京中联物流有限公司"}),  # full pinyin
    ("zl", {"中联重科股份有限公司", "南京中联物流有限公司"}),  # initials
    ("ZLZK", {"中联重科股份有限公司"}),
    ("zhengzhou qiche", {"郑州宇通汽车有限公司"}),
    ("联重", {"中联重科股份有限公司"}),
    ("不存在", set()),
])
def test_search(app, cards, q, expected):
    body = _names(app, cards, f"q={q}")
    assert {c["name"] for c in body["items"]} == expected
    assert body["total"] == len(expected) and body["total_exact"] is True


def test_short_terms_use_the_gram_index_and_stay_exact_after_edits(app, cards, as_tenant):
    from app.accounts.models import User
    from app.clients.models import Client, ClientSearchGrams
    from app.clients.services import update_client

    with as_tenant(cards):
        c = db.session.scalars(select(Client).where(Client.name == "佛山信辰电器厂")).one()
        grams = db.session.get(ClientSearchGrams, c.id).grams.split()
        assert "信辰" in grams and "信" in grams and "fs" in grams  # CJK pairs and characters, initials pairs
        update_client(db.session.get(User, cards.owner.id), c, version=c.version, name="佛山明辉电器厂")
        db.session.commit()
    assert _names(app, cards, "q=信辰")["items"] == []
    assert [i["name"] for i in _names(app, cards, "q=明辉")["items"]] == ["佛山明辉电器厂"]
    assert [i["name"] for i in _names(app, cards, "q=mh")["items"]] == ["佛山明辉电器厂"]


def test_name_sorts_in_pinyin_order(app, cards):
    names = [c["name"] for c in _names(app, cards, "sort=name")["items"]]
    assert names == ["北京东方汽车贸易有限公司", "佛山信辰电器厂", "合肥华联商贸", "南京中联物流有限公司",
                     "上海华光科技有限公司", "郑州日产贸易有限公司", "郑州宇通汽车有限公司", "中联重科股份有限公司"]
    desc = [c["name"] for c in _names(app, cards, "sort=-name")["items"]]
    assert desc == names[::-1]
    # Keyset pages in pinyin order: no repeats, no gaps.
    api = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(cards.owner)}"}
    seen, cursor = [], ""
    while True:
        body = api.get(f"/api/v1/clients?sort=name&limit=3{cursor}", headers=headers).get_json()
        seen += [c["name"] for c in body["items"]]
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == names


def test_web_list_sorts_and_searches_by_pinyin(login, cards):
    browser = login(cards.owner)
    html = browser.get("/clients/?q=zl", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "中联重科股份有限公司" in html and "南京中联物流有限公司" in html and "上海华光" not in html


def test_totals_are_capped_and_marked(app, tenant_a, monkeypatch):
    from app.clients import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    for i in range(5):
        factories.client(tenant_a, f"华光分公司{i}")
    body = _names(app, tenant_a, "q=华光")
    assert body["total"] == 4 and body["total_exact"] is False
    body = _names(app, tenant_a, "q=华光分公司3")
    assert body["total"] == 1 and body["total_exact"] is True


def test_web_count_marks_a_capped_total(login, tenant_a, monkeypatch):
    from app.clients import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 2)
    for i in range(3):
        factories.client(tenant_a, f"华光分公司{i}")
    html = login(tenant_a.owner).get("/clients/count").get_data(as_text=True)
    assert "2+" in html


def test_other_tenants_cards_never_match(app, cards, tenant_b):
    factories.client(tenant_b, "中联重科（乙方）")
    assert {c["name"] for c in _names(app, cards, "q=中联")["items"]} == {"中联重科股份有限公司", "南京中联物流有限公司"}
