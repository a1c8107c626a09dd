"""Hand-over: a leaving colleague's clients spread over active colleagues, recorded per card."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.clients import services as cs
from app.clients.handover import HandOverRejected, hand_over
from app.clients.models import Client, ClientChange
from app.extensions import db
from tests import factories


def _users(bundle, *emails_roles):
    return [factories.user(bundle, e, r) for e, r in emails_roles]


def test_hand_over_round_robin_and_co_ownerships(tenant_a):
    leaver, wang, zhao, other = _users(tenant_a, ("leaver@a.example", "member"), ("wang@a.example", "member"),
                                       ("zhao@a.example", "member"), ("qian@a.example", "member"))
    with factories.tenant_context(tenant_a.id):
        ids = {u: db.session.merge(u).id for u in (leaver, wang, zhao, other)}
    owned = [factories.client(tenant_a, f"客户{i}", owner_id=ids[leaver], stage="意向",
                              fields={"address": f"路 {i}"}) for i in range(5)]
    co = factories.client(tenant_a, "共管客户", owner_id=ids[other], co_owner_ids=[ids[leaver]])
    co_taken = factories.client(tenant_a, "已共管", owner_id=ids[wang], co_owner_ids=[ids[leaver], ids[zhao]])
    with factories.tenant_context(tenant_a.id):
        actor = db.session.get(User, tenant_a.owner.id)
        lv = db.session.get(User, ids[leaver])
        lv.active = False
        db.session.commit()
        n = hand_over(actor, lv, [ids[wang], ids[zhao]])
        db.session.commit()
        assert n == 7
        cards = db.session.scalars(select(Client).where(Client.id.in_([c.id for c in owned])).order_by(Client.number)).all()
        assert [c.owner_id for c in cards] == [ids[wang], ids[zhao], ids[wang], ids[zhao], ids[wang]]
        assert all(c.stage == "意向" and c.values["address"].startswith("路") for c in cards)
        assert db.session.get(Client, co.id).co_owner_ids == [ids[wang]]
        # wang owns it and zhao co-owns it already: the leaver just drops out.
        assert db.session.get(Client, co_taken.id).co_owner_ids == [ids[zhao]]
        changes = db.session.scalars(select(ClientChange).where(ClientChange.action == "handover")).all()
        assert len(changes) == 7 and all(ch.actor_id == actor.id for ch in changes)
        first = [ch for ch in changes if ch.client_id == cards[0].id][0]
        assert first.changes["@owner"] == {"from": ids[leaver], "to": ids[wang]}
        # History before the hand-over is untouched.
        assert db.session.scalars(select(ClientChange.action).where(ClientChange.client_id == cards[0].id)
                                  .order_by(ClientChange.id)).all() == ["create", "handover"]


def test_hand_over_rejects_inactive_viewers_and_self(tenant_a):
    leaver, gone, viewer, ok = _users(tenant_a, ("leaver@a.example", "member"), ("gone@a.example", "member"),
                                      ("viewer@a.example", "viewer"), ("ok@a.example", "member"))
    with factories.tenant_context(tenant_a.id):
        ids = {u: db.session.merge(u).id for u in (leaver, gone, viewer, ok)}
    factories.client(tenant_a, "客户", owner_id=ids[leaver])
    with factories.tenant_context(tenant_a.id):
        actor = db.session.get(User, tenant_a.owner.id)
        db.session.get(User, ids[gone]).active = False
        db.session.commit()
        lv = db.session.get(User, ids[leaver])
        for receivers in ([ids[gone]], [ids[viewer]], [ids[leaver]], [], [ids[ok], 999999]):
            with pytest.raises(HandOverRejected):
                hand_over(actor, lv, receivers)
        assert db.session.scalars(select(Client.owner_id)).all() == [ids[leaver]]


def test_deactivated_users_are_never_assigned(tenant_a):
    gone = factories.user(tenant_a, "gone@a.example", "member")
    c = factories.client(tenant_a, "客户")
    with factories.tenant_context(tenant_a.id):
        gid = db.session.merge(gone).id
        db.session.get(User, gid).active = False
        db.session.commit()
        actor = db.session.get(User, tenant_a.owner.id)
        with pytest.raises(cs.ValidationFailed) as e:
            cs.create_client(actor, name="新客户", owner_id=gid, enforce_required=False)
        assert "owner" in e.value.errors
        with pytest.raises(cs.ValidationFailed) as e:
            cs.create_client(actor, name="新客户", co_owner_ids=[gid], enforce_required=False)
        assert "co_owners" in e.value.errors
        client = db.session.get(Client, c.id)
        with pytest.raises(cs.ValidationFailed) as e:
            cs.update_client(actor, client, version=client.version, owner_id=gid)
        assert "owner" in e.value.errors
        with pytest.raises(cs.ValidationFailed):
            cs.update_client(actor, client, version=client.version, co_owner_ids=[gid])


def test_cards_keeping_a_deactivated_owner_still_save(tenant_a):
    from app.card_templates.editing import add_field

    gone = factories.user(tenant_a, "gone@a.example", "member")
    with factories.tenant_context(tenant_a.id):
        gid = db.session.merge(gone).id
        add_field(None, "basic", {"label": "我方对接人", "key": "our_contact", "type": "person"})
        db.session.commit()
    c = factories.client(tenant_a, "客户", owner_id=gid, fields={"our_contact": gid})
    with factories.tenant_context(tenant_a.id):
        db.session.get(User, gid).active = False
        db.session.commit()
        actor = db.session.get(User, tenant_a.owner.id)
        client = db.session.get(Client, c.id)
        cs.update_client(actor, client, version=client.version, owner_id=gid, co_owner_ids=[],
                         fields={"address": "北京路", "our_contact": gid})
        db.session.commit()
        assert client.values["address"] == "北京路" and client.values["our_contact"] == gid
