"""Signup: each built-in template is shown with who it suits and its sections; the practical one is the default."""
from sqlalchemy import func, select

from app.accounts.models import User
from app.card_templates.models import FieldDef
from app.tenancy import all_tenants, tenant_context
from tests.conftest import csrf_from


def test_signup_shows_every_template_with_who_it_suits_and_its_sections(client, db):
    html = client.get("/signup").get_data(as_text=True)
    assert html.count('name="template"') == 5
    # the default is the compact relationship form, checked and first
    first = html.split('name="template"', 2)[1]
    assert 'value="relationship"' in first.split(">", 1)[0] and "checked" in first.split(">", 1)[0]
    assert "客户资料管理与关系维护表" in html and "大客户信息表" in html
    assert "small team" in html or "小团队" in html           # who it suits
    assert "客户基础信息" in html and "法定代表人" in html     # sections of the relationship and key-account sheets
    assert "131" in html                                    # the key-account sheet says how big it is


def test_a_new_company_without_a_choice_starts_on_the_compact_form(client, db):
    token = csrf_from(client.get("/signup").get_data(as_text=True))
    r = client.post("/signup", data={"csrf_token": token, "company": "小公司", "name": "王经理",
                                     "email": "wang@small.example", "password": "small-firm-2026", "language": "zh_CN",
                                     "template": "relationship"})
    assert r.status_code == 302

    user = db.session.execute(all_tenants(select(User).where(User.email == "wang@small.example"))).scalar_one()
    with tenant_context(user.tenant_id):
        assert db.session.scalar(select(func.count(FieldDef.id))) == 29


def test_create_tenant_defaults_to_the_compact_form(db):
    from app.accounts.services import create_tenant

    tenant, _ = create_tenant("默认公司", "老板", "boss@default.example", "default-firm-2026")
    db.session.commit()
    with tenant_context(tenant.id):
        assert db.session.scalar(select(func.count(FieldDef.id))) == 29
