"""Follow-up records, their history, the due list (cadence, next date, first visit), hand-over and merge."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app.accounts.models import User
from app.clients import services as cs
from app.clients.access import NotAllowed
from app.clients.handover import hand_over
from app.clients.merge import merge_clients
from app.clients.models import Client
from app.extensions import db
from app.followups import services as fs
from app.followups.contacts import refresh_contacts
from app.followups.models import FollowUp, FollowUpRevision
from app.tenancy import tenant_context
from tests import factories

TODAY = date(2026, 6, 15)


def _backdate(client_id, days):
    db.session.execute(update(Client).where(Client.id == client_id)
                       .values(created_at=datetime(2026, 6, 15, 4, tzinfo=timezone.utc) - timedelta(days=days)),
                       execution_options={"synchronize_session": False})
    refresh_contacts([client_id])  # a direct write bypasses the card services that keep the summary


def _log(user, client, when, **kw):
    return fs.add_followup(user, client, {"date": when.isoformat(), "method": "电话", "content": "电话沟通",
                                          **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in kw.items()}})


def test_due_list_across_cadence_next_date_and_first_visit(tenant_a):
    names = {"新A": "60万", "旧A": "60万", "旧C": "5万", "约好": "20万", "新客户": None, "刚建": None}
    cards = {n: factories.client(tenant_a, n, fields={"annual_amount": a} if a else {}) for n, a in names.items()}
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        c = {n: db.session.get(Client, card.id) for n, card in cards.items()}
        for n in names:
            _backdate(c[n].id, 400)
        _backdate(c["刚建"].id, 2)
        _log(owner, c["新A"], TODAY - timedelta(days=10))          # A, 30 days: due in 20 days
        _log(owner, c["旧A"], TODAY - timedelta(days=40))          # A, 30 days: 10 days overdue
        _log(owner, c["旧C"], TODAY - timedelta(days=170))         # C, 180 days: due in 10 days
        _log(owner, c["约好"], TODAY - timedelta(days=200), next_date=TODAY + timedelta(days=3))  # next date wins
        db.session.commit()
        items = fs.due_list(owner, until=TODAY + timedelta(days=7), today=TODAY)
        got = [(i.name, i.days_overdue, i.rule) for i in items]
        # 新客户: never contacted, created 400 days ago: first-visit rule (5 days) long passed.
        assert got == [("新客户", 395, "first_visit"), ("旧A", 10, "cadence"), ("约好", -3, "next_date"),
                       ("刚建", -3, "first_visit")]  # same day: in the order the cards were made
        assert items[1].last_contact == TODAY - timedelta(days=40)
        later = fs.due_list(owner, until=TODAY + timedelta(days=30), today=TODAY)
        assert [i.name for i in later][-2:] == ["旧C", "新A"]
        # Logging a call takes the client off the overdue list.
        _log(owner, c["旧A"], TODAY)
        db.session.commit()
        assert "旧A" not in [i.name for i in fs.due_list(owner, until=TODAY + timedelta(days=7), today=TODAY)]


def test_due_list_only_my_active_clients(tenant_a):
    wang = factories.user(tenant_a, "wang@a.example", "member")
    with tenant_context(tenant_a.id):
        wang_id = db.session.merge(wang).id
    mine = factories.client(tenant_a, "我的", owner_id=wang_id)
    co = factories.client(tenant_a, "共管", co_owner_ids=[wang_id])
    factories.client(tenant_a, "别人的")
    churned = factories.client(tenant_a, "流失的", owner_id=wang_id, stage="流失")
    with tenant_context(tenant_a.id):
        for card in (mine, co, churned):
            _backdate(card.id, 30)
        db.session.commit()
        names = {i.name for i in fs.due_list(db.session.get(User, wang_id), until=TODAY, today=TODAY)}
        assert names == {"我的", "共管"}


def test_followup_validation_and_edit_history(tenant_a):
    member = factories.user(tenant_a, "m@a.example", "member")
    other = factories.user(tenant_a, "o@a.example", "member")
    viewer = factories.user(tenant_a, "v@a.example", "viewer")
    card = factories.client(tenant_a, "华光")
    with tenant_context(tenant_a.id):
        member, other, viewer = (db.session.merge(u) for u in (member, other, viewer))
        client = db.session.get(Client, card.id)
        with pytest.raises(cs.ValidationFailed) as e:
            fs.add_followup(member, client, {"date": "昨天", "method": "飞鸽", "content": "", "satisfaction": "9",
                                             "next_date": "2020-01-01"})
        assert set(e.value.errors) == {"date", "method", "content", "satisfaction"}
        with pytest.raises(NotAllowed):
            fs.add_followup(viewer, client, {"date": "2026-06-01", "method": "电话", "content": "x"})
        f = fs.add_followup(member, client, {"date": "2026年6月1日", "method": "上门拜访", "content": "拜访王总",
                                             "feedback": "对价格满意", "plan": "报价", "next_date": "2026/6/8",
                                             "satisfaction": "4"})
        db.session.commit()
        assert (f.date, f.next_date, f.satisfaction) == (date(2026, 6, 1), date(2026, 6, 8), 4)
        with pytest.raises(NotAllowed):
            fs.update_followup(other, f, client, {"content": "改掉"})
        fs.update_followup(member, f, client, {"content": "拜访王总和李经理", "satisfaction": "5"})
        db.session.commit()
        rev = db.session.scalars(select(FollowUpRevision)).one()
        assert rev.changes == {"content": {"from": "拜访王总", "to": "拜访王总和李经理"},
                               "satisfaction": {"from": 4, "to": 5}}
        owner = db.session.get(User, tenant_a.owner.id)
        fs.update_followup(owner, f, client, {"next_date": ""})  # admins edit anyone's
        assert f.next_date is None


def test_followups_move_with_merge_and_hand_over(tenant_a):
    leaver = factories.user(tenant_a, "leaver@a.example", "member")
    wang = factories.user(tenant_a, "wang@a.example", "member")
    with tenant_context(tenant_a.id):
        lid, wid = db.session.merge(leaver).id, db.session.merge(wang).id
    kept = factories.client(tenant_a, "华光科技", owner_id=lid)
    other = factories.client(tenant_a, "华光科技有限公司", owner_id=lid)
    with tenant_context(tenant_a.id):
        lv = db.session.get(User, lid)
        k, o = db.session.get(Client, kept.id), db.session.get(Client, other.id)
        f1 = _log(lv, k, TODAY, next_date=TODAY + timedelta(days=7))
        f2 = _log(lv, o, TODAY - timedelta(days=3))
        db.session.commit()
        owner = db.session.get(User, tenant_a.owner.id)
        merge_clients(owner, k, o, kept_version=k.version, other_version=o.version)
        db.session.commit()
        assert {f.id for f in fs.followups_of(db.session.get(Client, kept.id))} == {f1.id, f2.id}
        hand_over(owner, db.session.get(User, lid), [wid])
        db.session.commit()
        f1 = db.session.get(FollowUp, f1.id)
        assert f1.assignee_id == wid and f1.author_id == lid
        assert [i.name for i in fs.due_list(db.session.get(User, wid), until=TODAY + timedelta(days=7),
                                            today=TODAY)] == ["华光科技"]
