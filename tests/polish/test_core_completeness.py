"""Completeness counts the card's core (by default the new-client form and required fields), which the tenant can
change field by field; the change log names built-in templates by their labels."""
from sqlalchemy import select

from app.card_templates import editing as ed
from app.card_templates.models import TemplateChange
from app.card_templates.services import load_template
from app.clients.derived import core_fields
from app.clients.models import Client
from app.clients.routes import new_client_fields
from app.extensions import db
from tests import factories

FULL_NEW_FORM = {"industry": "服装", "business_phone": "021-5588 1234", "credit_code": "91310000MA1FL1234X",
                 "address": "上海市浦东新区张江路88号", "postal_code": "200120", "fax": "021-5588 1235",
                 "website": "www.example.cn", "email": "info@example.cn"}


def test_a_card_with_the_new_client_form_filled_is_complete(tenant_a, as_tenant):
    """The 131-field sheet: filling the whole new-client form used to give 7 %; now the core is what it asks."""
    with as_tenant(tenant_a):
        template = load_template()
        form = new_client_fields(template)
        core = {f.key for f in core_fields(template)}
        assert {f.key for f in form} <= core and len(core) < 40
        values = {}
        for fd in form:
            if fd.type in ("select", "multiselect"):
                values[fd.key] = fd.options[0] if fd.type == "select" else [fd.options[0]]
            elif fd.type != "person":
                values[fd.key] = FULL_NEW_FORM.get(fd.key) or fd.field_type.example
    c = factories.client(tenant_a, "上海华光科技有限公司", fields=values)
    with as_tenant(tenant_a):
        c = db.session.get(Client, c.id)
        assert c.completeness == 1.0, c.completeness


def test_marking_a_field_core_changes_every_cards_completeness(tenant_a, as_tenant):
    c = factories.client(tenant_a, "上海华光科技有限公司", fields={"industry": "服装"})
    with as_tenant(tenant_a):
        before = db.session.get(Client, c.id).completeness
        far = next(f for f in load_template().fields if f.section.key == "staff")
        assert not ed.is_core(load_template(), far)
        ed.update_field(tenant_a.owner, far.key, {"core": True})
        db.session.commit()
        assert ed.is_core(load_template(), far)
        after = db.session.scalar(select(Client.completeness).where(Client.id == c.id))
        assert after < before
        # and back: the default rule holds again
        ed.update_field(tenant_a.owner, far.key, {"core": False})
        db.session.commit()
        assert db.session.scalar(select(Client.completeness).where(Client.id == c.id)) == before
        # the card's version did not move: completeness is derived
        assert db.session.get(Client, c.id).version == 1


def test_change_log_names_the_builtin_template_by_its_label(tenant_a, as_tenant, app):
    with as_tenant(tenant_a):
        first = db.session.scalars(select(TemplateChange).order_by(TemplateChange.id)).first()
        with app.test_request_context():
            text = ed.describe_change(first)
        assert "key_account_company" not in text and "大客户信息表" in text
