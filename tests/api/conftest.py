"""API test helpers: a bearer-token client per user, and a template with every value type to fill."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.extensions import db
from app.tenancy import set_current_tenant, tenant_context
from tests import factories

# Fields the tests add to the default template (key_account_company) so every value type can be filled.
EXTRA_FIELDS = [
    {"key": "hobbies", "label": "兴趣爱好", "type": "multiselect", "options": ["阅读", "旅游", "高尔夫"]},
    {"key": "vip", "label": "重要客户", "type": "boolean"},
    {"key": "account_manager", "label": "客户经理", "type": "person"},
]


class Api:
    """A test client that sends one user's bearer token and JSON bodies."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra or {})
        return headers

    def open(self, method, url, json=None, headers=None, **kw):
        response = self.client.open("/api/v1" + url, method=method, json=json, headers=self.headers(headers), **kw)
        set_current_tenant(None)  # requests leave no scope behind in the test's context
        return response

    def get(self, url, **kw):
        return self.open("GET", url, **kw)

    def post(self, url, json=None, **kw):
        return self.open("POST", url, json=json, **kw)

    def patch(self, url, json=None, **kw):
        return self.open("PATCH", url, json=json, **kw)

    def delete(self, url, **kw):
        return self.open("DELETE", url, **kw)


@dataclass(frozen=True)
class Person:
    """What tests need of a user, read once: ORM rows expire on commit and reload only inside a tenant."""

    id: int
    tenant_id: int
    email: str
    name: str


def person(user) -> Person:
    from sqlalchemy import inspect, select

    from app.accounts.models import User
    from app.tenancy import all_tenants

    if isinstance(user, Person):
        return user
    user_id = inspect(user).identity[0]
    row = db.session.execute(all_tenants(select(User.tenant_id, User.email, User.name).where(User.id == user_id))).one()
    return Person(user_id, row.tenant_id, row.email, row.name)


def make_token(user) -> str:
    from app.accounts.models import User
    from app.accounts.services import create_api_token

    p = person(user)
    with tenant_context(p.tenant_id):
        token = create_api_token(db.session.get(User, p.id), "test")
        db.session.commit()
    return token


@pytest.fixture()
def api_for(app, db):
    """api_for(user) -> an Api client with a fresh token of that user."""

    def _api(user):
        return Api(app.test_client(), make_token(user))

    return _api


@pytest.fixture()
def team_a(tenant_a):
    """Tenant A with an admin, two members and a viewer, and the extra test fields on its template."""
    from app.card_templates.models import Section
    from app.card_templates.services import field_from_data, load_template

    with tenant_context(tenant_a.id):
        template = load_template()
        section = next(s for s in template.sections if s.key == "basic")
        position = max(f.position for f in template.fields) + 1
        for n, entry in enumerate(EXTRA_FIELDS):
            db.session.add(field_from_data(entry, template, section, position + n))
        db.session.commit()
        assert isinstance(section, Section)
    tenant_a.admin = person(factories.user(tenant_a, "admin@a.example", "admin", "管理员"))
    tenant_a.member = person(factories.user(tenant_a, "member@a.example", "member", "小李"))
    tenant_a.member2 = person(factories.user(tenant_a, "member2@a.example", "member", "小王"))
    tenant_a.viewer = person(factories.user(tenant_a, "viewer@a.example", "viewer", "财务"))
    tenant_a.boss = person(tenant_a.owner)
    return tenant_a


REQUIRED = {"business_phone": "021-5588 1234", "industry": "服装"}


def new_client(api, name="上海华光科技有限公司", **body):
    """POST a valid client through the API and return its JSON."""
    fields = {**REQUIRED, **body.pop("fields", {})}
    r = api.post("/clients", json={"name": name, "fields": fields, "allow_duplicate": True, **body})
    assert r.status_code == 201, r.get_json()
    return r.get_json()
