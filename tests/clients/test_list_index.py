"""The list's per-field index (ClientFieldValue) and SQLite's search index stay in step with every write."""
from __future__ import annotations

from app.extensions import db as _db
from tests import factories


def _mods():
    from app.clients import listing, services

    return listing, services


def _page_names(user, **args):
    listing, _ = _mods()
    fields = listing.list_fields()
    names, cursor = [], None
    while True:
        params = listing.parse_list_params({**args, "limit": "2", **({"cursor": cursor} if cursor else {})}, fields)
        page = listing.list_clients(user, params, fields)
        names += [c.name for c in page.items]
        cursor = page.next_cursor
        if not cursor:
            return names


def test_sort_filter_and_search_follow_edits(tenant_a, as_tenant):
    t = tenant_a
    listing, services = _mods()
    with as_tenant(t):
        a = factories.client(t, "甲方一号公司", fields={"industry": "快消品", "annual_amount": "50万"})
        factories.client(t, "乙方二号公司", fields={"industry": "快消品", "annual_amount": "8万"})
        factories.client(t, "丙方三号公司", fields={"industry": "快消品"})
        factories.client(t, "丁方四号公司", fields={"industry": "贸易/进出口", "annual_amount": "90万"})
        user = t.owner
        # cards with an amount first (walking the index), the one without last; pages of two
        assert _page_names(user, sort="annual_amount", dir="desc") == ["丁方四号公司", "甲方一号公司", "乙方二号公司",
                                                                      "丙方三号公司"]
        assert _page_names(user, sort="annual_amount", field="industry", option="快消品") == [
            "乙方二号公司", "甲方一号公司", "丙方三号公司"]
        count = listing.count_clients(user, listing.parse_list_params({"field": "industry", "option": "快消品"}))
        assert count == 3

        services.update_client(user, a, version=a.version, fields={"industry": "贸易/进出口", "annual_amount": "1万"})
        _db.session.commit()
        assert _page_names(user, field="industry", option="快消品", sort="name") == ["丙方三号公司", "乙方二号公司"]
        assert _page_names(user, sort="annual_amount")[:2] == ["甲方一号公司", "乙方二号公司"]

        services.update_client(user, a, version=a.version, name="戊方改名公司")
        _db.session.commit()
        assert _page_names(user, q="戊方改") == ["戊方改名公司"]  # 3+ characters: through the trigram index
        assert _page_names(user, q="甲方一") == []
        assert _page_names(user, q="改") == ["戊方改名公司"]  # short: a plain substring scan

        services.delete_permanently(user, a)
        _db.session.commit()
        assert "戊方改名公司" not in _page_names(user, sort="annual_amount")
        assert _page_names(user, q="戊方改") == []


def test_type_change_reindexes_the_field(tenant_a, as_tenant):
    from app.card_templates import editing
    from app.card_templates.services import fields_by_key, load_template

    t = tenant_a
    with as_tenant(t):
        text_key = next(k for k, f in fields_by_key(load_template()).items()
                        if f.type == "text" and not f.sensitive and not f.archived)
        factories.client(t, "甲方一号公司", fields={text_key: "华东"})
        factories.client(t, "乙方二号公司", fields={text_key: "华南"})
        editing.update_field(t.owner, text_key, {"type": "select"})
        _db.session.commit()
        assert _page_names(t.owner, field=text_key, option="华南") == ["乙方二号公司"]
