"""The editor routes: full page, htmx partial, roles, other tenants, escaping, every built-in template."""
from __future__ import annotations

import io
import json

import pytest

from app.card_templates.builtin import BUILTIN_KEYS, load_builtin
from app.card_templates.services import fields_by_key, load_template
from app.extensions import db

from tests import factories

HX = {"HX-Request": "true"}


def _field(bundle, key):
    from app.tenancy import tenant_context

    with tenant_context(bundle.id):
        db.session.expire_all()
        return fields_by_key(load_template()).get(key)


GETS = ["/template/", "/template/outline", "/template/preview", "/template/changes", "/template/fields/address",
        "/template/merge?builtin=telesales"]


@pytest.mark.parametrize("url", GETS)
def test_get_full_page_and_partial(tenant_a, login, url):
    b = login(tenant_a.owner)
    full = b.get(url)
    assert full.status_code == 200
    assert "<html" in full.get_data(as_text=True) and "template-outline" in full.get_data(as_text=True)
    part = b.get(url, headers=HX)
    assert part.status_code == 200
    assert "<html" not in part.get_data(as_text=True)
    assert "HX-Request" in part.headers.get("Vary", "")


POSTS = [
    ("/template/sections", {"label": "售后"}),
    ("/template/sections/basic", {"label": "基本", "label_en": "Basics"}),
    ("/template/sections/basic/move", {"direction": "down"}),
    ("/template/sections/staff/archive", {}),
    ("/template/fields", {"section": "basic", "label": "微信", "type": "text"}),
    ("/template/fields/address", {"label": "办公地址"}),
    ("/template/fields/address/move", {"direction": "down"}),
    ("/template/fields/address/archive", {}),
    ("/template/fields/address/type", {"type": "textarea"}),
    ("/template/fields/bank_credit/options", {"option": "极好"}),
    ("/template/fields/bank_credit/options/rename", {"option": "好", "new": "良"}),
    ("/template/fields/bank_credit/options/move", {"option": "好", "direction": "up"}),
    ("/template/fields/bank_credit/options/retire", {"option": "差"}),
    ("/template/fields/key_contacts/columns", {"col-0-key": "name", "col-0-label": "名字", "col-0-type": "text"}),
    ("/template/merge", {"builtin": "key_account_person", "sections": ["lifestyle"]}),
]


@pytest.mark.parametrize("url,data", POSTS)
def test_post_partial_and_plain(tenant_a, login, url, data):
    b = login(tenant_a.owner)
    if url.endswith("/columns"):  # keep every column (those holding values cannot be removed)
        fd = _field(tenant_a, "key_contacts")
        data = {}
        for i, c in enumerate(fd.columns):
            data.update({f"col-{i}-key": c["key"], f"col-{i}-label": c["label"] + "!", f"col-{i}-type": c["type"]})
    r = b.post(url, data=data, headers=HX)
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    assert "<html" not in r.get_data(as_text=True)
    assert "templateChanged" in r.headers.get("HX-Trigger", "")
    plain = login(tenant_a.owner)
    r2 = plain.post(url, data=data)
    assert r2.status_code in (302, 422), r2.status_code  # no-JS forms: redirect back (or errors on a full page)


def test_add_field_opens_the_panel_out_of_band(tenant_a, login):
    b = login(tenant_a.owner)
    r = b.post("/template/fields", data={"section": "basic", "label": "WeChat", "type": "select"}, headers=HX)
    html = r.get_data(as_text=True)
    assert 'id="template-outline"' in html and 'hx-swap-oob="true"' in html and "wechat" in html
    assert _field(tenant_a, "wechat").type == "select"


def test_errors_show_next_to_the_input_in_the_users_language(tenant_a, login):
    b = login(tenant_a.owner)
    r = b.post("/template/fields/address", data={"label": ""}, headers=HX)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="fp-label-error"' in html and 'aria-invalid="true"' in html
    assert _field(tenant_a, "address").label == "详细地址"
    r = b.post("/template/fields", data={"section": "basic", "label": "x" * 130}, headers=HX)
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)
    r = b.post("/template/fields", data={"section": "basic", "label": ""})
    assert r.status_code == 422 and "<html" in r.get_data(as_text=True)


def test_retire_used_option_asks_first(tenant_a, login):
    factories.client(tenant_a, "甲", fields={"bank_credit": "好"})
    b = login(tenant_a.owner)
    r = b.post("/template/fields/bank_credit/options/retire", data={"option": "好"}, headers=HX)
    assert 'data-testid="retire-ask"' in r.get_data(as_text=True)
    assert "好" in _field(tenant_a, "bank_credit").options
    r = b.post("/template/fields/bank_credit/options/retire", data={"option": "好", "decision": "move"}, headers=HX)
    assert r.status_code == 422
    r = b.post("/template/fields/bank_credit/options/retire",
               data={"option": "好", "decision": "move", "move_to": "很好"}, headers=HX)
    assert r.status_code == 200 and "好" not in _field(tenant_a, "bank_credit").options


def test_type_change_blocked_lists_cards(tenant_a, login, as_tenant):
    c = factories.client(tenant_a, "华光", fields={"address": "上海"})
    with as_tenant(tenant_a):
        number = c.number
    b = login(tenant_a.owner)
    r = b.post("/template/fields/address/type", data={"type": "number"}, headers=HX)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert number in html and "华光" in html and 'data-testid="blocking"' in html


def test_export_and_import(tenant_a, login):
    b = login(tenant_a.owner)
    r = b.get("/template/export")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    data = json.loads(r.get_data(as_text=True))
    data["sections"][0]["fields"].append({"key": "wechat", "label": "微信", "type": "text"})
    r = b.post("/template/import", data={"file": (io.BytesIO(json.dumps(data).encode()), "t.json")},
               headers=HX, content_type="multipart/form-data")
    assert r.status_code == 200 and "outlineStale" in r.headers["HX-Trigger"]
    assert _field(tenant_a, "wechat") is not None
    r = b.post("/template/import", data={"file": (io.BytesIO(b"{oops"), "t.json")}, headers=HX,
               content_type="multipart/form-data")
    assert r.status_code == 422 and 'data-testid="import-errors"' in r.get_data(as_text=True)


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_get_403(tenant_a, login, role):
    u = factories.user(tenant_a, f"{role}@a.example", role)
    b = login(u)
    for url in GETS + ["/template/export"]:
        assert b.get(url).status_code == 403
        assert b.get(url, headers=HX).status_code == 403
    for url, data in POSTS:
        assert b.post(url, data=data, headers=HX).status_code == 403
    assert _field(tenant_a, "address").label == "详细地址"


def test_admin_may_edit(tenant_a, login):
    admin = factories.user(tenant_a, "admin@a.example", "admin")
    assert login(admin).get("/template/").status_code == 200


def test_another_tenants_field_is_404(two_tenants, login, as_tenant):
    a, b_tenant = two_tenants
    from app.card_templates import editing as ed

    with as_tenant(a):
        ed.add_field(a.owner, "basic", {"label": "Secret", "key": "only_a"})
        ed.add_section(a.owner, "A only", key="a_only")
        db.session.commit()
    b = login(b_tenant.owner)
    for url in ("/template/fields/only_a", "/template/sections/a_only/archive"):
        method = b.get if "archive" not in url else b.post
        assert method(url).status_code == 404
        assert method(url, headers=HX).status_code == 404
    assert b.post("/template/fields/only_a", data={"label": "x"}, headers=HX).status_code == 404
    assert b.post("/template/fields/only_a/archive", headers=HX).status_code == 404
    page = b.get("/template/").get_data(as_text=True)
    assert "Secret" not in page and "A only" not in page
    with as_tenant(a):
        db.session.expire_all()
        assert not fields_by_key(load_template())["only_a"].archived


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_html_in_labels_and_options_is_escaped(tenant_a, login):
    b = login(tenant_a.owner)
    b.post("/template/fields", data={"section": "basic", "label": XSS, "type": "select"}, headers=HX)
    key = next(k for k, f in fields_by_key_for(tenant_a).items() if f.label.startswith("<script>"))
    b.post(f"/template/fields/{key}/options", data={"option": XSS}, headers=HX)
    b.post("/template/sections", data={"label": XSS}, headers=HX)
    for url in ["/template/", f"/template/fields/{key}", "/template/preview", "/template/changes",
                "/template/outline"]:
        html = b.get(url, headers=HX if url != "/template/" else {}).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;" in html, url


def fields_by_key_for(bundle):
    from app.tenancy import tenant_context

    with tenant_context(bundle.id):
        db.session.expire_all()
        return fields_by_key(load_template())


@pytest.mark.parametrize("key", BUILTIN_KEYS)
@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_every_builtin_template_renders_fully(db, login, key, language):
    bundle = factories.tenant(f"公司{key}", f"{key}-{language}@x.example", template=key, language=language)
    b = login(bundle.owner)
    html = b.get("/template/").get_data(as_text=True)
    data = load_builtin(key)
    for s in data["sections"]:
        for f in s["fields"]:
            assert f'id="tf-{f["key"]}"' in html  # in the outline
            assert f'id="row-{f["key"]}"' in html  # in the preview
            shown = f["label_en"] if language == "en" else f["label"]
            assert shown.replace("&", "&amp;").replace('"', "&#34;").replace("'", "&#39;") in html, shown
    assert ('lang="en"' in html) == (language == "en")
