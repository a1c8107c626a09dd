"""The issue's "done when" through the services: create, edit two sections, history with before/after,
archive and restore; duplicate detection."""
from __future__ import annotations

import pytest

from app.accounts.models import User
from app.clients import services as cs
from app.card_templates.services import load_template
from app.clients import history
from app.clients.access import get_visible_client
from app.clients.duplicates import find_duplicates
from app.clients.models import Client
from app.extensions import db
from tests import factories


def test_create_edit_two_sections_history_archive_restore(tenant_a):
    with factories.tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        c = cs.create_client(owner, name="上海华光科技有限公司",
                             fields={"business_phone": "021-5588 1234", "industry": "贸易/进出口"})
        db.session.commit()
        assert c.version == 1 and history.history(c)[0].version == 1
        cs.update_client(owner, c, version=1, fields={"address": "北京路 1 号", "postal_code": "200001"})
        cs.update_client(owner, c, version=2, fields={"staff_total": "120"})
        cs.set_archived(owner, c, True)
        cs.set_archived(owner, c, False)
        db.session.commit()
        hist = history.history(c)
        assert [h.action for h in hist] == ["restore", "archive", "edit", "edit", "create"]
        assert [h.version for h in hist] == [5, 4, 3, 2, 1] and c.version == 5
        assert hist[2].changes == {"staff_total": {"from": None, "to": 120}}
        assert hist[3].changes["address"] == {"from": None, "to": "北京路 1 号"}
        assert history.state_as_of(c, 2)["values"] == {"business_phone": "021-55881234", "industry": "贸易/进出口",
                                                  "address": "北京路 1 号", "postal_code": "200001"}
        assert history.state_as_of(c, 3)["@archived"] is False and history.state_as_of(c, 4)["@archived"] is True
        assert 0 < c.completeness < 1


@pytest.mark.parametrize("existing, new", [
    ({"name": "上海华光科技有限公司"}, {"name": "上海华光科技"}),
    ({"name": "ＡＢＣ贸易"}, {"name": "abc贸易"}),
    ({"name": "甲公司", "fields": {"business_phone": "021-5588 1234"}}, {"name": "乙公司", "values": {"business_phone": "02155881234"}}),
    ({"name": "丙公司", "fields": {"credit_code": "91310000MA1K4XXXX1"}}, {"name": "丁公司", "values": {"credit_code": "91310000ma1k4xxxx1"}}),
])
def test_duplicates_are_found(tenant_a, existing, new):
    factories.client(tenant_a, existing["name"], fields=existing.get("fields"))
    with factories.tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        found = find_duplicates(owner, load_template(), new["name"], new.get("values", {}))
        assert len(found) == 1 and found[0].visible


def test_empty_values_never_match(tenant_a):
    factories.client(tenant_a, "甲公司", fields={"business_phone": ""})
    factories.client(tenant_a, "有限公司")
    with factories.tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        t = load_template()
        assert find_duplicates(owner, t, "乙公司", {"business_phone": "", "email": None, "credit_code": ""}) == []
        assert find_duplicates(owner, t, "", {}) == []


def test_hidden_candidates_reveal_only_existence_and_owner(tenant_a):
    with factories.tenant_context(tenant_a.id):
        tenant_a.tenant.update_settings(members_see_all=False)
        db.session.commit()
    member = factories.user(tenant_a, "m@a.example", "member", "小王")
    factories.client(tenant_a, "上海华光科技有限公司")
    with factories.tenant_context(tenant_a.id):
        m = db.session.merge(member)
        found = find_duplicates(m, load_template(), "上海华光科技", {})
        assert len(found) == 1 and not found[0].visible and found[0].owner_name == "老板"
        # The card itself stays invisible to the member.
        assert get_visible_client(m, found[0].client_id) is None


def test_unchanged_save_records_nothing(tenant_a):
    c = factories.client(tenant_a, "甲公司", fields={"registered_capital": "50万", "founded_on": "2024年6月30日"})
    with factories.tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        client = db.session.get(Client, c.id)
        cs.update_client(owner, client, version=client.version,
                         fields={"registered_capital": "￥500,000", "founded_on": "2024-06-30"})
        db.session.commit()
        assert client.version == 1 and len(history.history(client)) == 1


def test_create_clients_is_all_or_nothing(tenant_a):
    with factories.tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        with pytest.raises(cs.BatchInvalid) as failed:
            cs.create_clients(owner, [{"name": "甲公司"}, {"name": ""}, {"name": "丙公司", "stage": "no-such-stage"}],
                              enforce_required=False)
        assert sorted(failed.value.errors) == [1, 2], {i: getattr(e, "errors", e) for i, e in failed.value.errors.items()}
        db.session.rollback()
        assert db.session.query(Client).count() == 0
        made = cs.create_clients(owner, [{"name": "甲公司"}, {"name": "乙公司"}], enforce_required=False)
        db.session.commit()
        numbers = [c.number for c in made]
        assert db.session.query(Client).count() == 2 and numbers == sorted(numbers) and len(set(numbers)) == 2
