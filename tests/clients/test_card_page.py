"""The card page: show, section edit in place, inline validation, header edit, sensitive fields, tabs."""
from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from app.clients.models import Client, ClientChange, ClientView
from app.extensions import db
from tests import factories


def _card(bundle, name="上海华光科技有限公司", **kw):
    """A card made through the services; returned as plain values (requests expire ORM objects)."""
    c = factories.client(bundle, name, **kw)
    with factories.tenant_context(bundle.id):
        return SimpleNamespace(id=c.id, number=c.number, name=c.name)


def form_data(html: str) -> dict:
    """What a browser would submit from the first form in this HTML (inputs, selects, textareas)."""
    from html.parser import HTMLParser

    data: dict = {}

    class P(HTMLParser):
        select = textarea = None
        text = ""

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "input" and a.get("name") and a.get("type") not in ("checkbox", "radio"):
                data[a["name"]] = a.get("value") or ""
            elif tag == "input" and a.get("name") and "checked" in a:
                data.setdefault(a["name"], [])
                if isinstance(data[a["name"]], list):
                    data[a["name"]].append(a.get("value"))
            elif tag == "select":
                self.select = a.get("name")
                if self.select:
                    data.setdefault(self.select, "")
            elif tag == "option" and self.select and "selected" in a:
                data[self.select] = a.get("value") or ""
            elif tag == "textarea":
                self.textarea, self.text = a.get("name"), ""

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            elif tag == "textarea" and self.textarea:
                data[self.textarea] = self.text
                self.textarea = None

        def handle_data(self, d):
            if self.textarea:
                self.text += d

    P().feed(html.split("<template>")[0] + (html.split("</template>", 1)[1] if "</template>" in html else ""))
    return data


def _uid(bundle_or_user, bundle=None):
    """A user's id without touching an expired ORM object outside its tenant."""
    from sqlalchemy import inspect

    obj = getattr(bundle_or_user, "owner", bundle_or_user)
    return inspect(obj).identity[0]


def _changes(bundle, client_id):
    with factories.tenant_context(bundle.id):
        return [SimpleNamespace(id=ch.id, action=ch.action, changes=ch.changes, version=ch.version, note=ch.note)
                for ch in db.session.scalars(select(ClientChange).where(ClientChange.client_id == client_id)
                                             .order_by(ClientChange.id))]


def _views(bundle, client_id):
    with factories.tenant_context(bundle.id):
        return [SimpleNamespace(kind=v.kind, reason=v.reason, user_id=v.user_id)
                for v in db.session.scalars(select(ClientView).where(ClientView.client_id == client_id)
                                            .order_by(ClientView.id))]


def _fresh(bundle, client_id) -> Client:
    db.session.expire_all()
    with factories.tenant_context(bundle.id):
        return db.session.get(Client, client_id)


def test_card_page_full_partial_and_logged(tenant_a, login):
    c = _card(tenant_a, fields={"business_phone": "021-5588 1234", "industry": "贸易/进出口"}, tags=["重点"])
    b = login(tenant_a.owner)
    r = b.get(f"/clients/{c.id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" in html
    assert "上海华光科技有限公司" in html and c.number in html and "重点" in html
    assert "021-55881234" in html and 'data-testid="section-basic"' in html
    assert "<progress" in html and "History" in html or "历史" in html
    assert [v.kind for v in _views(tenant_a, c.id)] == ["open"]
    r = b.get(f"/clients/{c.id}", headers={"HX-Request": "true"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html and 'data-testid="section-basic"' in html


def test_other_tenant_gets_404_everywhere(two_tenants, login):
    a, bt = two_tenants
    c = _card(a)
    owner_a = _uid(a)
    b = login(bt.owner)
    for url in (f"/clients/{c.id}", f"/clients/{c.id}/sections/basic", f"/clients/{c.id}/sections/basic/edit",
                f"/clients/{c.id}/header", f"/clients/{c.id}/header/edit", f"/clients/{c.id}/history",
                f"/clients/{c.id}/history/1", f"/clients/{c.id}/views", f"/clients/{c.id}/print",
                f"/clients/{c.id}/prep", f"/clients/{c.id}/delete", f"/clients/{c.id}/merge?other={c.id}",
                f"/clients/view-log?user={owner_a}"):
        assert b.get(url).status_code == 404, url
        assert b.get(url, headers={"HX-Request": "true"}).status_code == 404, url
    for url in (f"/clients/{c.id}/sections/basic", f"/clients/{c.id}/sections/basic/reveal",
                f"/clients/{c.id}/fields/industry/validate", f"/clients/{c.id}/header",
                f"/clients/{c.id}/history/1/revert", f"/clients/{c.id}/archive", f"/clients/{c.id}/restore",
                f"/clients/{c.id}/delete", f"/clients/{c.id}/merge?other={c.id}"):
        assert b.post(url, data={"version": "1", "key": "@name"}).status_code == 404, url
    assert _views(a, c.id) == []


def test_edit_a_section_in_place(tenant_a, login, hx):
    c = _card(tenant_a)
    b = login(tenant_a.owner)
    r = b.get(f"/clients/{c.id}/sections/basic/edit", headers=hx)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html, html[html.find("<html")-200:html.find("<html")+50]
    assert 'name="version" value="1"' in html
    assert 'hx-target="this"' in html and 'name="f.business_phone"' in html
    r = b.post(f"/clients/{c.id}/sections/basic", headers=hx,
               data={"version": "1", "f.business_phone": "021-5588 1234", "f.industry": "贸易/进出口",
                     "f.registered_capital": "50万"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html
    assert "cardChanged" in r.headers.get("HX-Trigger", "")
    assert "<form" not in html and "021-55881234" in html
    fresh = _fresh(tenant_a, c.id)
    assert fresh.values["registered_capital"] == 500000 and fresh.version == 2
    last = _changes(tenant_a, c.id)[-1]
    assert last.action == "edit" and set(last.changes) == {"business_phone", "industry", "registered_capital"}
    # Saving the same section unchanged records nothing.
    form = b.get(f"/clients/{c.id}/sections/basic/edit", headers=hx).get_data(as_text=True)
    data = form_data(form)
    assert data["f.registered_capital"] and data["version"] == "2" and data["f.industry"] == "贸易/进出口"
    assert b.post(f"/clients/{c.id}/sections/basic", headers=hx, data=data).status_code == 200
    assert len(_changes(tenant_a, c.id)) == 2


def test_required_and_invalid_fields_keep_input(tenant_a, login, hx):
    c = _card(tenant_a)
    b = login(tenant_a.owner)
    r = b.post(f"/clients/{c.id}/sections/basic", headers=hx,
               data={"version": "1", "f.business_phone": "", "f.industry": "贸易/进出口", "f.founded_on": "2024年13月1日",
                     "f.address": "浦东新区张江路 1 号"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "<form" in html
    assert 'id="err-business_phone"' in html and "浦东新区张江路 1 号" in html and "2024年13月1日" in html
    assert _fresh(tenant_a, c.id).version == 1 and len(_changes(tenant_a, c.id)) == 1


def test_inline_validation_returns_the_error_element(tenant_a, login, hx):
    c = _card(tenant_a)
    b = login(tenant_a.owner)
    r = b.post(f"/clients/{c.id}/fields/email/validate", headers=hx, data={"f.email": "not-an-email"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and html.startswith('<p class="field-error" id="err-email"') and len(html) > 60
    r = b.post(f"/clients/{c.id}/fields/email/validate", headers=hx, data={"f.email": "li@huaguang.cn"})
    assert '<p class="field-error" id="err-email" role="alert"></p>' in r.get_data(as_text=True)
    r = b.post(f"/clients/{c.id}/fields/business_phone/validate", headers=hx, data={"f.business_phone": ""})
    assert "err-business_phone" in r.get_data(as_text=True) and "</p>" in r.get_data(as_text=True)
    assert b.post(f"/clients/{c.id}/fields/nope/validate", headers=hx, data={}).status_code == 404


def test_table_field_rows(tenant_a, login, hx):
    c = _card(tenant_a)
    b = login(tenant_a.owner)
    html = b.get(f"/clients/{c.id}/sections/contacts/edit", headers=hx).get_data(as_text=True)
    assert "data-add-row" in html and "<template>" in html
    r = b.post(f"/clients/{c.id}/sections/contacts", headers=hx, data={
        "version": "1", "f.key_contacts.0.name": "王经理", "f.key_contacts.0.mobile": "138 0013 8000",
        "f.key_contacts.1.name": "李秘书"})
    assert r.status_code == 200, r.get_data(as_text=True)
    rows = _fresh(tenant_a, c.id).values["key_contacts"]
    assert [row["name"] for row in rows] == ["王经理", "李秘书"]
    # Removing a row: the row is simply not submitted.
    r = b.post(f"/clients/{c.id}/sections/contacts", headers=hx, data={"version": "2", "f.key_contacts.1.name": "李秘书"})
    assert r.status_code == 200
    assert [row["name"] for row in _fresh(tenant_a, c.id).values["key_contacts"]] == ["李秘书"]


def test_header_edit(tenant_a, login, hx):
    colleague = factories.user(tenant_a, "wang@a.example", "member", "王五")
    c = _card(tenant_a)
    b = login(tenant_a.owner)
    html = b.get(f"/clients/{c.id}/header/edit", headers=hx).get_data(as_text=True)
    assert 'name="co_owner_ids"' in html and "王五" in html
    r = b.post(f"/clients/{c.id}/header", headers=hx, data={
        "version": "1", "name": "上海华光科技股份有限公司", "stage": "意向", "owner_id": str(_uid(tenant_a)),
        "co_owner_ids": [str(_uid(colleague))], "tags": "重点，华东"})
    assert r.status_code == 200, r.get_data(as_text=True)
    with factories.tenant_context(tenant_a.id):
        fresh = _fresh(tenant_a, c.id)
        assert fresh.name == "上海华光科技股份有限公司" and fresh.stage == "意向" and fresh.tags == ["重点", "华东"]
        assert fresh.co_owner_ids == [_uid(colleague)]
    change = _changes(tenant_a, c.id)[-1]
    assert {"@name", "@stage", "@tags", "@co_owners"} <= set(change.changes)
    r = b.post(f"/clients/{c.id}/header", headers=hx, data={"version": "2", "name": " ", "stage": "意向",
                                                            "owner_id": str(_uid(tenant_a))})
    assert r.status_code == 422 and "<form" in r.get_data(as_text=True)


def test_viewer_reads_but_never_edits(tenant_a, login, hx):
    viewer = factories.user(tenant_a, "viewer@a.example", "viewer")
    c = _card(tenant_a)
    b = login(viewer)
    html = b.get(f"/clients/{c.id}").get_data(as_text=True)
    assert r'data-testid="edit"' not in html and 'data-testid="archive"' not in html
    assert b.get(f"/clients/{c.id}/sections/basic/edit").status_code == 403
    assert b.get(f"/clients/{c.id}/header/edit").status_code == 403
    for url, data in ((f"/clients/{c.id}/sections/basic", {"version": "1", "f.industry": "贸易/进出口"}),
                      (f"/clients/{c.id}/header", {"version": "1", "name": "x"}),
                      (f"/clients/{c.id}/fields/industry/validate", {}),
                      (f"/clients/{c.id}/history/1/revert", {"key": "@name", "version": "1"}),
                      (f"/clients/{c.id}/archive", {}), (f"/clients/{c.id}/restore", {}),
                      (f"/clients/{c.id}/delete", {"confirm_name": c.name})):
        assert b.post(url, data=data).status_code == 403, url
        assert b.post(url, data=data, headers=hx).status_code == 403, url
    assert _fresh(tenant_a, c.id).version == 1
