"""Tenant isolation: the central scoping in app/tenancy.py, and every route of the app against another tenant.

The route walk signs in as tenant A's owner and asks for tenant B's objects on every rule of the URL map.
A rule whose URL parameter is not in ID_FACTORIES fails the test: a new route must say how to find a
tenant-B value for its parameter before it can ship.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, func, inspect, select, update

from app.accounts.models import ApiToken, Invite, User
from app.accounts.services import create_api_token
from app.card_templates.models import CardTemplate, FieldDef, Section, TemplateChange
from app.card_templates.services import field_from_data
from app.clients.models import Client, ClientChange, SavedView
from app.tenancy import CrossTenantWrite, TenantNotSet, all_tenants, tenant_context
from tests import factories
from tests.conftest import readable_body


def ident(obj) -> int:
    return inspect(obj).identity[0]


# ---------------------------------------------------------------- (a) the scoping itself

@pytest.fixture()
def two_with_clients(db, two_tenants):
    a, b = two_tenants
    factories.client(a, "甲方客户")
    factories.client(b, "乙方客户")
    ids = SimpleNamespace(a=a.id, b=b.id, a_owner=ident(a.owner), b_owner=ident(b.owner))
    db.session.expunge_all()  # nothing of either tenant in the identity map
    return ids


def test_query_without_tenant_raises(db, two_with_clients):
    with pytest.raises(TenantNotSet):
        db.session.execute(select(Client)).all()
    with pytest.raises(TenantNotSet):
        db.session.execute(update(Client).values(name="x"))
    with pytest.raises(TenantNotSet):
        db.session.execute(delete(SavedView))
    # Only an explicit all_tenants() crosses tenants.
    assert db.session.execute(all_tenants(select(func.count(Client.id)))).scalar_one() == 2


def test_select_and_get_see_only_the_current_tenant(db, two_with_clients):
    t = two_with_clients
    b_client_id = db.session.execute(all_tenants(select(Client.id).where(Client.tenant_id == t.b))).scalar_one()
    db.session.expunge_all()
    with tenant_context(t.a):
        assert [c.name for c in db.session.scalars(select(Client))] == ["甲方客户"]
        assert db.session.execute(select(func.count()).select_from(Client)).scalar_one() == 1
        assert db.session.get(Client, b_client_id) is None
        assert db.session.execute(select(Client).where(Client.id == b_client_id)).scalar_one_or_none() is None
        assert {u.email for u in db.session.scalars(select(User))} == {"owner@a.example"}


def test_joins_are_scoped_on_every_entity(db, two_with_clients):
    t = two_with_clients
    with tenant_context(t.a):
        rows = db.session.execute(select(Client.name, ClientChange.action)
                                  .join(ClientChange, ClientChange.client_id == Client.id)).all()
        assert {r.name for r in rows} == {"甲方客户"}
        # Even a join written without the tenant condition cannot reach tenant B's rows.
        rows = db.session.execute(select(User.email, Client.name).join(Client, Client.owner_id == User.id)).all()
        assert rows == [("owner@a.example", "甲方客户")]
        subq = select(Client.id).scalar_subquery()
        assert db.session.execute(select(func.count(ClientChange.id)).where(ClientChange.client_id.in_(subq))
                                  ).scalar_one() == 1


def test_bulk_update_and_delete_touch_only_the_current_tenant(db, two_with_clients):
    t = two_with_clients
    with tenant_context(t.a):
        db.session.execute(update(Client).values(name="改过的"))
        db.session.execute(delete(ClientChange))
        db.session.commit()
    names = dict(db.session.execute(all_tenants(select(Client.tenant_id, Client.name))).all())
    assert names == {t.a: "改过的", t.b: "乙方客户"}
    changes = db.session.execute(all_tenants(select(ClientChange.tenant_id))).scalars().all()
    assert changes == [t.b]


def test_before_flush_stamps_and_rejects_cross_tenant_writes(db, two_with_clients):
    t = two_with_clients
    b_owner_id = t.b_owner
    with tenant_context(t.a):
        view = SavedView(user_id=t.a_owner, name="我的视图", query="q=1")
        db.session.add(view)
        db.session.flush()
        assert view.tenant_id == t.a
        db.session.add(SavedView(tenant_id=t.b, user_id=b_owner_id, name="偷放的", query=""))
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()
    # A row of tenant B loaded deliberately (all_tenants) cannot be changed or deleted while A is in scope.
    b_client = db.session.execute(all_tenants(select(Client).where(Client.tenant_id == t.b))).scalar_one()
    with tenant_context(t.a):
        b_client.name = "被改了"
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()
    b_client = db.session.execute(all_tenants(select(Client).where(Client.tenant_id == t.b))).scalar_one()
    with tenant_context(t.a):
        db.session.delete(b_client)
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()
    # And a new tenant row with no tenant in scope is refused.
    db.session.add(SavedView(user_id=b_owner_id, name="无主", query=""))
    with pytest.raises(TenantNotSet):
        db.session.flush()
    db.session.rollback()
    assert db.session.execute(all_tenants(select(Client.name).where(Client.tenant_id == t.b))).scalar_one() == "乙方客户"


# ---------------------------------------------------------------- (b) every route against tenant B

B_SECRETS = ("乙方机密客户", "owner@b.example", "b-colleague@b.example", "乙方同事", "乙方视图", "invitee@b.example",
             "乙专属字段", "乙专属模块", "乙专属阶段", "乙方令牌", "乙方机密跟进")


@dataclass
class TenantB:
    bundle: object
    ids: dict = field(default_factory=dict)


def build_rich_tenant_b(db) -> TenantB:
    """Tenant B with a bit of everything a URL can point at."""
    from app.clients.services import update_client
    from app.team.services import create_invite

    bundle = factories.tenant("乙公司", "owner@b.example", template="telesales")
    colleague = factories.user(bundle, "b-colleague@b.example", name="乙方同事")
    client = factories.client(bundle, "乙方机密客户")
    out = TenantB(bundle)
    with tenant_context(bundle.id):
        owner = db.session.get(User, ident(bundle.owner))
        tenant = owner.tenant
        tenant.update_settings(stages=tenant.stages + ["乙专属阶段"])
        client = db.session.get(Client, ident(client))
        update_client(owner, client, version=client.version, stage="意向", note="第二次拜访")
        template = db.session.scalars(select(CardTemplate)).one()
        section = Section(template=template, key="b_only_section", label="乙专属模块", position=99)
        db.session.add(section)
        db.session.add(field_from_data({"key": "b_only_field", "label": "乙专属字段", "type": "text"},
                                       template, section, 999))
        view = SavedView(user_id=owner.id, name="乙方视图", query="q=乙方")
        db.session.add(view)
        invite, _token = create_invite(owner, "invitee@b.example", "member")
        create_api_token(owner, "乙方令牌")
        from app.followups.services import add_followup
        followup = add_followup(owner, client, {"date": "2026-01-05", "method": "电话", "content": "乙方机密跟进"})
        from app.jobs import Job

        from app.imports.models import ImportRun

        job = Job(kind="import.clients", created_by_id=owner.id, params={})
        db.session.add(job)
        imp = ImportRun(created_by_id=owner.id, filename="乙方机密客户.csv", data=b"name\n")
        db.session.add(imp)
        db.session.flush()
        out.ids = {
            "client_id": client.id,
            "version": client.version,
            "user_id": ident(colleague),
            "invite_id": invite.id,
            "token_id": db.session.scalars(select(ApiToken.id)).one(),
            "view_id": view.id,
            "change_id": db.session.scalars(select(ClientChange.id).order_by(ClientChange.id.desc())).first(),
            "template_change_id": db.session.scalars(select(TemplateChange.id)).first(),
            "job_id": job.id,
            "import_id": imp.id,
            "field_key": "b_only_field",
            "section_key": "b_only_section",
            "followup_id": followup.id,
        }
        db.session.commit()
    return out


# parameter name -> function(tenant B, rule) giving a value that exists only in tenant B
ID_FACTORIES = {
    "client_id": lambda b, rule: b.ids["client_id"],
    "user_id": lambda b, rule: b.ids["user_id"],
    "invite_id": lambda b, rule: b.ids["invite_id"],
    "token_id": lambda b, rule: b.ids["token_id"],
    "view_id": lambda b, rule: b.ids["view_id"],
    "change_id": lambda b, rule: b.ids["change_id"],
    "template_change_id": lambda b, rule: b.ids["template_change_id"],
    "version": lambda b, rule: b.ids["version"],
    "job_id": lambda b, rule: b.ids["job_id"],
    "import_id": lambda b, rule: b.ids["import_id"],
    "field_key": lambda b, rule: b.ids["field_key"],
    "section_key": lambda b, rule: b.ids["section_key"],
    "followup_id": lambda b, rule: b.ids["followup_id"],
    # /template/fields/<key> and /template/sections/<key>: the key names a field or a section of B's template
    "key": lambda b, rule: b.ids["section_key"] if "/sections/" in rule.rule else b.ids["field_key"],
}

# Routes that are public or name no tenant object: they are not part of the walk (say why).
ALLOWED_WITHOUT_FACTORY = {
    "static": "static files",
    "auth.accept_invite": "public: the invite token itself decides the tenant",
    "auth.reset_password": "public: the signed reset token decides the user",
    "main.set_language": "the language code is not tenant data",
    "followups.calendar_feed": "public: the feed token itself decides the user (tests/followups: a revoked one is 404)",
}

# Param-less POSTs that would end the walking session; they are exercised with a session of their own.
SESSION_ENDING = {"auth.logout"}


def _methods(rule):
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def _form_for(b: TenantB) -> dict:
    # Plausible form data: every id-ish name points at tenant B's objects.
    return {"client_id": b.ids["client_id"], "ids": b.ids["client_id"], "id": b.ids["client_id"],
            "user_id": b.ids["user_id"], "owner": b.ids["user_id"], "owner_id": b.ids["user_id"],
            "to_user": b.ids["user_id"], "view_id": b.ids["view_id"], "key": b.ids["field_key"],
            "stage": "乙专属阶段", "name": "测试", "version": b.ids["version"]}


def uncovered_rules(rules) -> list[str]:
    """Rules with a URL parameter the walk cannot fill with a tenant-B value."""
    out = []
    for rule in rules:
        if rule.endpoint in ALLOWED_WITHOUT_FACTORY:
            continue
        missing = [arg for arg in sorted(rule.arguments) if arg not in ID_FACTORIES]
        if missing:
            out.append(f"{rule.rule} ({rule.endpoint}): {', '.join(missing)}")
    return out


def _leaks(body: str) -> list[str]:
    return [s for s in B_SECRETS if s in body]


def test_every_route_hides_tenant_b(app, db, tenant_a, login):
    b = build_rich_tenant_b(db)
    browser = login(tenant_a.owner)
    with tenant_context(tenant_a.id):
        api_token = create_api_token(db.session.get(User, ident(tenant_a.owner)), "A 的令牌")
        db.session.commit()
    api_headers = {"Authorization": f"Bearer {api_token}", "Accept": "application/json"}

    uncovered = uncovered_rules(app.url_map.iter_rules())
    failures, walked = [], 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in ALLOWED_WITHOUT_FACTORY or any(a not in ID_FACTORIES for a in rule.arguments):
            continue
        values = {arg: ID_FACTORIES[arg](b, rule) for arg in rule.arguments}
        url = rule.build(values, append_unknown=False)[1]
        is_api = rule.rule.startswith("/api/")
        for method in _methods(rule):
            who = browser
            if rule.endpoint in SESSION_ENDING:
                who = login(tenant_a.owner)
            kw = {}
            if method in ("POST", "PATCH", "PUT", "DELETE"):
                if is_api:
                    kw["data"] = json.dumps({"name": "测试", "stage": "乙专属阶段", "owner_id": b.ids["user_id"]})
                    kw["content_type"] = "application/json"
                else:
                    kw["data"] = _form_for(b)
            headers = api_headers if is_api else {}
            if is_api:
                r = app.test_client().open(url, method=method, headers=headers, **kw)
            else:
                r = who.request(method, url, headers=headers, **kw)
            walked += 1
            body = readable_body(r)
            label = f"{method} {url} ({rule.endpoint})"
            if r.status_code >= 500:
                failures.append(f"{label}: {r.status_code}")
                continue
            leaked = _leaks(body)
            if leaked:
                failures.append(f"{label}: shows tenant B's {leaked}")
            if rule.arguments:
                if r.status_code != 404:
                    failures.append(f"{label}: expected 404 for tenant B's object, got {r.status_code}")
                elif is_api and r.mimetype != "application/problem+json":
                    failures.append(f"{label}: API 404 should be problem+json, got {r.mimetype}")

    assert not uncovered, ("route not covered by the isolation test: add its parameter to ID_FACTORIES\n  "
                           + "\n  ".join(uncovered))
    assert walked >= len(list(app.url_map.iter_rules())) - len(ALLOWED_WITHOUT_FACTORY)
    assert not failures, "tenant isolation failures:\n  " + "\n  ".join(failures)

    # Nothing of tenant B changed by all those requests.
    with tenant_context(b.bundle.id):
        client = db.session.get(Client, b.ids["client_id"])
        assert client is not None and client.name == "乙方机密客户" and client.archived_at is None
        assert db.session.get(User, b.ids["user_id"]).active
        assert db.session.get(User, b.ids["user_id"]).role == "member"
        assert db.session.get(Invite, b.ids["invite_id"]).revoked_at is None
        assert db.session.get(ApiToken, b.ids["token_id"]).revoked_at is None
        assert db.session.get(SavedView, b.ids["view_id"]) is not None
        fd = db.session.scalars(select(FieldDef).where(FieldDef.key == "b_only_field")).one()
        assert not fd.archived and fd.label == "乙专属字段"
        assert "乙专属阶段" in db.session.get(User, b.ids["user_id"]).tenant.stages


def test_unknown_route_parameters_fail_the_walk(app):
    """The guard itself: a parameter nobody mapped is reported, not skipped."""
    from werkzeug.routing import Map, Rule

    rules = Map([Rule("/widgets/<int:widget_id>", endpoint="widgets.show"),
                 Rule("/clients/<int:client_id>", endpoint="clients.show"),
                 Rule("/static/<path:filename>", endpoint="static")])
    assert uncovered_rules(rules.iter_rules()) == ["/widgets/<int:widget_id> (widgets.show): widget_id"]
