"""Builders for tenants, users and clients, through the same services the app uses."""
from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.tenancy import tenant_context

PASSWORD = "correct-horse-42"


@dataclass
class TenantBundle:
    tenant: object
    owner: object

    @property
    def id(self):
        return self.tenant.id


def tenant(company="测试公司", email="owner@example.com", template="key_account_company", language="zh_CN"):
    from app.accounts.services import create_tenant

    t, owner = create_tenant(company, "老板", email, PASSWORD, language, template)
    db.session.commit()
    from app.tenancy import set_current_tenant

    set_current_tenant(None)
    return TenantBundle(t, owner)


def user(bundle, email, role="member", name=None):
    from app.accounts.services import add_user

    with tenant_context(bundle.id):
        u = add_user(email, PASSWORD, role, name or email.split("@")[0])
        db.session.commit()
        return u


def client(bundle, name="上海华光科技有限公司", actor=None, **kw):
    from app.clients.services import create_client

    with tenant_context(bundle.id):
        c = create_client(actor or bundle.owner, name=name, allow_duplicate=kw.pop("allow_duplicate", True),
                          enforce_required=kw.pop("enforce_required", False), **kw)
        db.session.commit()
        return c
