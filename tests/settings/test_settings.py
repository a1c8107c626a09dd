"""Company settings: general form, number pattern preview, stages."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from app.accounts.models import AuditRecord, Tenant
from app.clients.models import Client
from tests import factories

GOOD = {"company": "甲公司（新）", "timezone": "Asia/Hong_Kong", "number_pattern": "KH{YY}{SEQ:4}",
        "visibility": "own", "sensitive_reason": "never"}


def tenant_row(db, bundle) -> Tenant:
    db.session.expire_all()
    return db.session.get(Tenant, bundle.id)


def test_settings_page_shows_current_values(db, tenant_a, login):
    r = login(tenant_a.owner).get("/settings/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'value="甲公司"' in html and "{YYYY}{MM}{SEQ:3}" in html
    assert '<option selected value="Asia/Shanghai">' in html or 'value="Asia/Shanghai" selected' in html
    for stage in ("潜在", "意向", "成交", "长期合作"):
        assert stage in html
    assert 'data-testid="number-preview"' in html


def test_save_settings(db, tenant_a, login):
    r = login(tenant_a.owner).post("/settings/", data=GOOD)
    assert r.status_code == 302
    t = tenant_row(db, tenant_a)
    assert t.name == "甲公司（新）" and t.timezone == "Asia/Hong_Kong"
    assert t.setting("number_pattern") == "KH{YY}{SEQ:4}"
    assert t.setting("members_see_all") is False and t.setting("sensitive_reason") == "never"


@pytest.mark.parametrize("changes, field", [
    ({"number_pattern": "{YYYY}{MM}"}, "number_pattern"),
    ({"number_pattern": "{YYYY}{Q}{SEQ:3}"}, "number_pattern"),
    ({"number_pattern": ""}, "number_pattern"),
    ({"company": ""}, "company"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
])
def test_bad_settings_change_nothing(db, tenant_a, login, changes, field):
    r = login(tenant_a.owner).post("/settings/", data={**GOOD, **changes})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "field-error" in html and f'id="{field}"' in html
    t = tenant_row(db, tenant_a)
    assert t.name == "甲公司" and t.setting("number_pattern") == "{YYYY}{MM}{SEQ:3}"


def test_number_preview(db, tenant_a, login, hx):
    b = login(tenant_a.owner)
    r = b.get("/settings/number-preview", query_string={"number_pattern": "KH-{SEQ:5}"}, headers=hx)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html and "KH-00001" in html
    factories.client(tenant_a, "已有客户")
    r = b.get("/settings/number-preview", query_string={"number_pattern": "{YYYY}{MM}{SEQ:3}"}, headers=hx)
    assert "002</code>" in r.get_data(as_text=True)  # the next one after the existing card
    r = b.get("/settings/number-preview", query_string={"number_pattern": "{YYYY}"}, headers=hx)
    assert "field-error" in r.get_data(as_text=True)


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_settings_are_for_admins(db, tenant_a, login, role):
    b = login(factories.user(tenant_a, "u@a.example", role=role))
    assert b.get("/settings/").status_code == 403
    assert b.post("/settings/", data=GOOD).status_code == 403
    assert b.post("/settings/stages", data={"name": "新阶段"}).status_code == 403
    assert b.get("/settings/number-preview").status_code == 403
    assert tenant_row(db, tenant_a).name == "甲公司"


def test_admin_may_change_settings(db, tenant_a, login):
    admin = factories.user(tenant_a, "admin@a.example", role="admin")
    assert login(admin).post("/settings/", data=GOOD).status_code == 302


# ---------------------------------------------------------------- stages

def test_add_stage_htmx_and_plain(db, tenant_a, login, hx):
    b = login(tenant_a.owner)
    r = b.post("/settings/stages", data={"name": " 复购 "}, headers=hx)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html and html.lstrip().startswith('<section id="stages"')
    assert "复购" in html
    assert tenant_row(db, tenant_a).stages[-1] == "复购"
    r = b.post("/settings/stages", data={"name": "复购"}, headers=hx)
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)
    r = b.post("/settings/stages", data={"name": ""})
    assert r.status_code == 422 and "<html" in r.get_data(as_text=True)
    r = b.post("/settings/stages", data={"name": "再次复购"})
    assert r.status_code == 302
    assert tenant_row(db, tenant_a).stages.count("复购") == 1


def test_rename_stage_in_use_moves_its_clients(db, tenant_a, login, hx, as_tenant):
    factories.client(tenant_a, "甲客户", stage="意向")
    factories.client(tenant_a, "乙客户", stage="意向")
    factories.client(tenant_a, "丙客户", stage="潜在")
    r = login(tenant_a.owner).post("/settings/stages/rename", data={"stage": "意向", "name": "有意向"}, headers=hx)
    assert r.status_code == 200
    assert tenant_row(db, tenant_a).stages[:2] == ["潜在", "有意向"]
    with as_tenant(tenant_a):
        stages = dict(db.session.execute(select(Client.name, Client.stage)).all())
        audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "settings.stage_rename")).one()
    assert stages == {"甲客户": "有意向", "乙客户": "有意向", "丙客户": "潜在"}
    assert audit.detail == {"from": "意向", "to": "有意向", "clients": 2}


def test_rename_to_an_existing_stage_is_refused(db, tenant_a, login, hx):
    r = login(tenant_a.owner).post("/settings/stages/rename", data={"stage": "意向", "name": "成交"}, headers=hx)
    assert r.status_code == 422
    assert tenant_row(db, tenant_a).stages.count("成交") == 1 and "意向" in tenant_row(db, tenant_a).stages


def test_remove_stage_only_when_unused(db, tenant_a, login, hx):
    factories.client(tenant_a, "甲客户", stage="流失")
    b = login(tenant_a.owner)
    r = b.post("/settings/stages/remove", data={"stage": "流失"}, headers=hx)
    assert r.status_code == 422 and "流失" in tenant_row(db, tenant_a).stages
    assert "field-error" in r.get_data(as_text=True)
    r = b.post("/settings/stages/remove", data={"stage": "长期合作"}, headers=hx)
    assert r.status_code == 200 and "长期合作" not in tenant_row(db, tenant_a).stages


def test_reorder_stages(db, tenant_a, login, hx):
    b = login(tenant_a.owner)
    b.post("/settings/stages/move", data={"stage": "成交", "direction": "up"}, headers=hx)
    assert tenant_row(db, tenant_a).stages[:3] == ["潜在", "成交", "意向"]
    b.post("/settings/stages/move", data={"stage": "潜在", "direction": "up"}, headers=hx)  # already first
    r = b.post("/settings/stages/move", data={"stage": "潜在", "direction": "down"})
    assert r.status_code == 302
    assert tenant_row(db, tenant_a).stages[:3] == ["成交", "潜在", "意向"]


def test_visibility_setting_limits_members(db, tenant_a, login, as_tenant):
    from app.clients.access import visible_clients

    member = factories.user(tenant_a, "m@a.example")
    factories.client(tenant_a, "别人的客户")
    factories.client(tenant_a, "我的客户", owner_id=inspect(member).identity[0])
    login(tenant_a.owner).post("/settings/", data={**GOOD, "visibility": "own"})
    with as_tenant(tenant_a):
        db.session.expire_all()
        from app.accounts.models import User

        m = db.session.scalars(select(User).where(User.email == "m@a.example")).one()
        names = [c.name for c in db.session.scalars(visible_clients(m))]
    assert names == ["我的客户"]


def test_stage_changes_of_another_tenant_cannot_happen(db, two_tenants, login, hx):
    a, b = two_tenants
    login(b.owner).post("/settings/stages", data={"name": "乙专属"}, headers=hx)
    r = login(a.owner).post("/settings/stages/remove", data={"stage": "乙专属"}, headers=hx)
    assert r.status_code == 422
    assert "乙专属" in tenant_row(db, b).stages and "乙专属" not in tenant_row(db, a).stages
    assert "乙专属" not in login(a.owner).get("/settings/").get_data(as_text=True)
