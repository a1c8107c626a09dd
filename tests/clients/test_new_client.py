"""Creating a client: the form, validation next to the fields, the duplicate (撞单) check, create anyway."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db as _db
from tests import factories

GOOD = {"name": "上海华光科技有限公司", "stage": "意向", "tags": "重点, 华东",
        "f.business_phone": "021-5588 1234", "f.industry": "快消品", "f.registered_capital": "500万"}


def _count(tenant, as_tenant):
    from app.clients.models import Client

    with as_tenant(tenant):
        return _db.session.execute(select(func.count(Client.id))).scalar_one()


def test_new_form_shows_name_stage_owner_tags_and_required_fields(login, tenant_a):
    b = login(tenant_a.owner)
    r = b.get("/clients/new")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" in html
    for name in ("name", "stage", "owner_id", "tags", "f.business_phone", "f.industry", "f.credit_code"):
        assert f'name="{name}"' in html
    assert 'name="f.pic_name"' not in html  # later sections are filled on the card page


def test_create_redirects_to_the_card_with_a_number(login, tenant_a, as_tenant):
    from app.clients.models import Client

    b = login(tenant_a.owner)
    r = b.post("/clients/", data=GOOD)
    assert r.status_code == 302
    with as_tenant(tenant_a):
        c = _db.session.scalars(select(Client)).one()
        assert r.headers["Location"].endswith(f"/clients/{c.id}")
        assert re.fullmatch(r"\d{9}", c.number)
        assert c.stage == "意向" and c.tags == ["重点", "华东"]
        assert c.values["business_phone"] == "021-55881234" and c.values["registered_capital"] == 5000000


def test_validation_errors_are_shown_next_to_the_fields_and_nothing_is_created(login, tenant_a, as_tenant):
    b = login(tenant_a.owner)
    r = b.post("/clients/", data={**GOOD, "name": "", "f.business_phone": "abc", "f.industry": "",
                                  "f.founded_on": "2024年13月1日"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    for key in ("name", "business_phone", "industry", "founded_on"):
        m = re.search(rf'<p class="field-error" id="err-{key}" role="alert">([^<]*)</p>', html)
        assert m and m.group(1).strip(), key
    assert 'value="abc"' in html and 'value="2024年13月1日"' in html  # the input is kept
    assert _count(tenant_a, as_tenant) == 0


def test_duplicate_shows_candidates_and_create_anyway(login, tenant_a, as_tenant):
    factories.client(tenant_a, "上海华光科技", fields={"business_phone": "02155881234"})
    b = login(tenant_a.owner)
    r = b.post("/clients/", data=GOOD)
    html = r.get_data(as_text=True)
    assert r.status_code == 409
    assert 'data-testid="duplicates"' in html and "上海华光科技</a>" in html and 'class="number"' in html
    assert 'name="allow_duplicate" value="1"' in html
    assert _count(tenant_a, as_tenant) == 1
    r = b.post("/clients/", data={**GOOD, "allow_duplicate": "1"})
    assert r.status_code == 302 and _count(tenant_a, as_tenant) == 2


def test_hidden_duplicate_says_only_who_owns_it(login, tenant_a, as_tenant):
    with as_tenant(tenant_a):
        tenant_a.tenant.update_settings(members_see_all=False)
        _db.session.commit()
    wang = factories.user(tenant_a, "wang@a.example", "member", "王销售")
    li = factories.user(tenant_a, "li@a.example", "member", "李销售")
    with as_tenant(tenant_a):
        secret = factories.client(tenant_a, "上海华光科技有限公司", actor=wang, owner_id=wang.id,
                                  fields={"business_phone": "021-5588 1234"})
        number, secret_id = secret.number, secret.id
    r = login(li).post("/clients/", data={**GOOD, "name": "上海华光科技"})
    html = r.get_data(as_text=True)
    assert r.status_code == 409
    assert 'class="duplicate-hidden"' in html and "王销售" in html
    assert number not in html and f"/clients/{secret_id}" not in html
    assert "021-5588" not in html.split('data-testid="duplicates"')[1]


def test_new_is_for_editors(login, tenant_a):
    viewer = factories.user(tenant_a, "v@a.example", "viewer")
    b = login(viewer)
    assert b.get("/clients/new").status_code == 403
    assert b.post("/clients/", data=GOOD).status_code == 403


def test_owner_must_be_a_colleague_of_this_tenant(login, two_tenants, as_tenant):
    a, other = two_tenants
    with as_tenant(other):
        other_id = other.owner.id
    r = login(a.owner).post("/clients/", data={**GOOD, "owner_id": str(other_id)})
    assert r.status_code == 422 and _count(a, as_tenant) == 0
