"""The client list: active search, filters, sort, keyset pages, visibility, URL state, htmx partials."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from app.extensions import db as _db
from tests import factories

# app.clients is imported lazily: importing it before create_app() runs would shadow app.htmx (see app/__init__).
def _listing():
    from app.clients import listing as mod

    return mod


def _Client():
    from app.clients.models import Client

    return Client


def _names(html: str) -> list[str]:
    return re.findall(r'<td class="name"><a href="/clients/\d+">([^<]+)</a>', html)


@pytest.fixture()
def sample(tenant_a, as_tenant):
    """A few clients of tenant A with phones, industries, tags and amounts."""
    t = tenant_a
    member = factories.user(t, "li@a.example", "member", "李四")
    specs = [
        ("上海华光科技有限公司", {"business_phone": "021-5588 1234", "industry": "快消品", "annual_amount": "50万",
                                 "email": "info@huaguang.example"}, ["重点"], t.owner),
        ("北京东方贸易有限公司", {"business_phone": "010-56781234", "industry": "贸易/进出口", "annual_amount": "8万"},
         [], t.owner),
        ("深圳南山电子股份有限公司", {"business_phone": "13800138000", "industry": "快消品", "annual_amount": "120万"},
         ["重点", "华南"], member),
        ("杭州西湖茶业", {"industry": "批发/零售"}, [], member),
    ]
    clients = {}
    with as_tenant(t):
        for name, fields, tags, owner in specs:
            c = factories.client(t, name, fields=fields, tags=tags, owner_id=owner.id)
            clients[name] = c
        for c in clients.values():
            _db.session.refresh(c)
        member_id = member.id
        owner_id = t.owner.id
        _db.session.execute(update(_Client()).where(_Client().name == "上海华光科技有限公司").values(grade="A"))
        _db.session.execute(update(_Client()).where(_Client().name == "北京东方贸易有限公司").values(grade="C"))
        _db.session.commit()
        for c in clients.values():
            _db.session.refresh(c)
    return {"tenant": t, "member": member, "member_id": member_id, "owner_id": owner_id, "clients": clients}


def test_full_page_lists_clients_with_columns(login, sample):
    b = login(sample["tenant"].owner)
    r = b.get("/clients/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" in html
    assert set(_names(html)) == set(sample["clients"])
    assert 'class="badge grade-A"' in html and "李四" in html and "<progress" in html
    # the total is loaded lazily, so it never delays the rows
    assert 'hx-get="/clients/count' in html and 'hx-trigger="load"' in html
    assert 'hx-trigger="input changed delay:250ms, search"' in html and 'hx-push-url="true"' in html


def test_htmx_search_returns_rows_only(login, sample, hx):
    b = login(sample["tenant"].owner)
    r = b.get("/clients/?q=华光", headers=hx)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html
    assert _names(html) == ["上海华光科技有限公司"]
    assert "HX-Request" in r.headers.get("Vary", "")
    assert 'hx-swap-oob="true"' in html  # the counter refreshes with the rows


@pytest.mark.parametrize("q, expected", [
    ("华光", ["上海华光科技有限公司"]),
    ("东方贸易", ["北京东方贸易有限公司"]),
    ("02155881234", ["上海华光科技有限公司"]),           # phone by digits
    ("021-5588 1234", ["上海华光科技有限公司"]),
    ("138 0013 8000", ["深圳南山电子股份有限公司"]),
    ("INFO@HUAGUANG", ["上海华光科技有限公司"]),          # case-insensitive, email
    ("快消品", ["上海华光科技有限公司", "深圳南山电子股份有限公司"]),  # any text field (select value)
    ("华南", ["深圳南山电子股份有限公司"]),                # tags
    ("没有这个", []),
])
def test_search(login, sample, q, expected):
    b = login(sample["tenant"].owner)
    html = b.get("/clients/", query_string={"q": q, "sort": "name"}).get_data(as_text=True)
    assert sorted(_names(html)) == sorted(expected)


def test_search_by_number(login, sample):
    number = sample["clients"]["杭州西湖茶业"].number
    b = login(sample["tenant"].owner)
    assert _names(b.get(f"/clients/?q={number}").get_data(as_text=True)) == ["杭州西湖茶业"]


def test_filters(login, sample):
    b = login(sample["tenant"].owner)
    member_id = sample["member_id"]

    def names(**qs):
        return sorted(_names(b.get("/clients/", query_string=qs).get_data(as_text=True)))

    # Grades come from the amount on every save (A ≥ 50万): 120万 is A too, no amount is no grade.
    assert names(grade="A") == ["上海华光科技有限公司", "深圳南山电子股份有限公司"]
    assert names(grade="none") == ["杭州西湖茶业"]
    assert names(owner=member_id) == ["杭州西湖茶业", "深圳南山电子股份有限公司"]
    assert names(tag="重点") == ["上海华光科技有限公司", "深圳南山电子股份有限公司"]
    assert names(field="industry", option="快消品") == ["上海华光科技有限公司", "深圳南山电子股份有限公司"]
    assert names(field="industry", option="快消品", tag="华南") == ["深圳南山电子股份有限公司"]
    assert names(stage="潜在") == sorted(sample["clients"])
    assert names(stage="成交") == []


def test_unknown_filter_keys_are_reported_not_crashing(login, sample):
    b = login(sample["tenant"].owner)
    r = b.get("/clients/?sort=nope&field=legal_rep_home_address&option=x")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and len(_names(html)) == 4
    assert 'class="field-error" role="alert"' in html and "nope" in html


def test_parse_list_params_strict_rejects_unknown_keys(app, sample, as_tenant):
    L = _listing()
    from app.card_templates.services import load_template

    with as_tenant(sample["tenant"]):
        template = load_template()
        with pytest.raises(L.ListParamsInvalid) as e:
            L.parse_list_params({"sort": "nope", "field": "pic_name", "archived": "x", "limit": "999"}, template)
        assert set(e.value.errors) == {"sort", "field", "archived", "limit"}
        p = L.parse_list_params({"sort": "annual_amount", "field": "industry", "option": "快消品"}, template)
        assert (p.sort, p.dir, p.field, p.option) == ("annual_amount", "asc", "industry", "快消品")


def test_sort_by_money_field_puts_empty_last(login, sample):
    b = login(sample["tenant"].owner)
    html = b.get("/clients/?sort=annual_amount&dir=desc").get_data(as_text=True)
    assert _names(html) == ["深圳南山电子股份有限公司", "上海华光科技有限公司", "北京东方贸易有限公司", "杭州西湖茶业"]
    html = b.get("/clients/?sort=annual_amount&dir=asc").get_data(as_text=True)
    assert _names(html) == ["北京东方贸易有限公司", "上海华光科技有限公司", "深圳南山电子股份有限公司", "杭州西湖茶业"]
    html = b.get("/clients/?sort=grade").get_data(as_text=True)
    assert _names(html)[:3] == ["上海华光科技有限公司", "深圳南山电子股份有限公司", "北京东方贸易有限公司"]


@pytest.mark.parametrize("sort, direction", [("name", "asc"), ("updated", "desc"), ("number", "desc"),
                                             ("grade", "asc"), ("annual_amount", "desc"), ("founded_on", "asc"),
                                             ("completeness", "desc")])
def test_cursor_round_trip_has_no_duplicates_or_gaps(app, tenant_a, as_tenant, sort, direction):
    L = _listing()
    from app.card_templates.services import load_template

    with as_tenant(tenant_a):
        from app.clients.services import create_client

        owner = tenant_a.owner
        for i in range(23):
            fields = {}
            if i % 3:
                fields["annual_amount"] = str((i * 7) % 5 * 10000)  # ties and empties
            if i % 4:
                fields["founded_on"] = f"20{10 + i % 5}-01-0{1 + i % 3}"
            c = create_client(owner, name=f"测试客户{i:02d}", fields=fields, allow_duplicate=True,
                              enforce_required=False)
            c.grade = (None, "A", "B")[i % 3]
        _db.session.commit()
        template = load_template()
        params = L.parse_list_params({"sort": sort, "dir": direction, "limit": "5"}, template)
        seen, cursor, pages = [], None, 0
        while True:
            args = {"sort": sort, "dir": direction, "limit": "5", **({"cursor": cursor} if cursor else {})}
            page = L.list_clients(owner, L.parse_list_params(args, template), template)
            seen += [c.id for c in page.items]
            pages += 1
            cursor = page.next_cursor
            if not cursor:
                break
        all_ids = [c.id for c in L.list_clients(owner, L.parse_list_params({"sort": sort, "dir": direction,
                                                                       "limit": "200"}, template), template).items]
        assert seen == all_ids and len(set(seen)) == 23 and pages == 5
        assert L.count_clients(owner, params, template) == 23


def test_next_page_link_appends_rows(login, tenant_a, as_tenant, hx):
    for i in range(55):
        factories.client(tenant_a, f"客户{i:03d}")
    b = login(tenant_a.owner)
    html = b.get("/clients/?sort=name").get_data(as_text=True)
    assert len(_names(html)) == 50
    m = re.search(r'<a href="(/clients/\?[^"]*cursor=[^"]+)" hx-get', html)
    assert m
    url = m.group(1).replace("&amp;", "&")
    assert "sort=name" in url
    r = b.get(url, headers=hx)
    rest = r.get_data(as_text=True)
    assert "<html" not in rest and len(_names(rest)) == 5
    assert set(_names(rest)).isdisjoint(_names(html))
    assert "client-count" not in rest  # appending a page does not recount
    full = b.get(url).get_data(as_text=True)  # without JS the link is an ordinary page
    assert "<html" in full and _names(full) == _names(rest)


def test_archived_filter(login, sample, as_tenant):
    t = sample["tenant"]
    with as_tenant(t):
        from app.clients.services import set_archived

        c = _db.session.get(_Client(), sample["clients"]["杭州西湖茶业"].id)
        set_archived(t.owner, c, True)
        _db.session.commit()
    b = login(t.owner)
    assert "杭州西湖茶业" not in _names(b.get("/clients/").get_data(as_text=True))
    assert _names(b.get("/clients/?archived=archived").get_data(as_text=True)) == ["杭州西湖茶业"]
    assert len(_names(b.get("/clients/?archived=all").get_data(as_text=True))) == 4


def test_count_endpoint(login, sample, hx):
    b = login(sample["tenant"].owner)
    r = b.get("/clients/count?tag=重点", headers=hx)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html and 'data-total="2"' in html


def test_members_who_see_only_their_own(login, sample, as_tenant):
    t = sample["tenant"]
    with as_tenant(t):
        t.tenant.update_settings(members_see_all=False)
        _db.session.commit()
    b = login(sample["member"])
    html = b.get("/clients/").get_data(as_text=True)
    assert sorted(_names(html)) == ["杭州西湖茶业", "深圳南山电子股份有限公司"]
    assert _names(b.get("/clients/?q=华光").get_data(as_text=True)) == []
    assert 'data-total="2"' in b.get("/clients/count").get_data(as_text=True)


def test_other_tenant_sees_none_of_them(login, sample, tenant_b):
    b = login(tenant_b.owner)
    html = b.get("/clients/?q=华光").get_data(as_text=True)
    assert _names(html) == []
    assert 'data-total="0"' in b.get("/clients/count").get_data(as_text=True)
    assert b.get("/clients/?archived=all").status_code == 200
    assert _names(b.get("/clients/?archived=all").get_data(as_text=True)) == []


def test_url_reflects_the_list_state(login, sample):
    b = login(sample["tenant"].owner)
    html = b.get("/clients/?q=华&tag=重点&sort=name&dir=desc&field=industry&option=快消品").get_data(as_text=True)
    # the form shows the state, and sort links keep the filters
    assert 'name="q" value="华"' in html
    assert re.search(r'<option value="快消品" data-field="industry"\s+selected', html)
    assert "tag=%E9%87%8D%E7%82%B9" in html and "sort=name" in html
    assert _names(html) == ["深圳南山电子股份有限公司", "上海华光科技有限公司"]


def test_signed_out_user_is_sent_to_login(client, db):
    assert client.get("/clients/").status_code == 302


def test_sorting_by_a_field_shows_that_field_as_a_column(login, tenant_a, hx):
    factories.client(tenant_a, "甲方贸易", fields={"registered_capital": "50万"})
    factories.client(tenant_a, "乙方物流", fields={"registered_capital": "1.2亿"})
    b = login(tenant_a.owner)
    html = b.get("/clients/?sort=registered_capital&dir=desc").get_data(as_text=True)
    assert "注册资本 ↓" in html
    assert html.index("¥120,000,000") < html.index("¥500,000")
    partial = b.get("/clients/?sort=registered_capital&dir=asc", headers=hx).get_data(as_text=True)
    assert 'id="client-head" hx-swap-oob="true"' in partial and "注册资本 ↑" in partial  # the header follows
    by_name = b.get("/clients/?sort=name").get_data(as_text=True)
    head = re.search(r'<tr id="client-head".*?</tr>', by_name, re.S).group(0)
    assert "注册资本" not in head
