"""The contact summary behind Today: kept in step by every card and follow-up write, equal to a rebuild from
scratch, backfilled by its migration; and a save's own history entry shows the grade it moved."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.accounts.models import User
from app.clients import services as cs
from app.clients.merge import merge_clients
from app.clients.models import Client, ClientChange
from app.extensions import db
from app.followups import services as fs
from app.followups.contacts import rebuild_contacts
from app.followups.review import build_review
from app.followups.models import ClientContact
from app.tenancy import current_tenant, tenant_context
from tests import factories


def _summary() -> dict:
    return {r.client_id: (r.owner_id, r.grade, r.created_on, r.last_contact, r.next_date, r.due_date)
            for r in db.session.scalars(select(ClientContact))}


def _log(user, client, when: date, **kw):
    return fs.add_followup(user, client, {"date": when.isoformat(), "method": "电话", "content": "电话沟通",
                                          **{k: v.isoformat() for k, v in kw.items()}})


def test_every_write_keeps_the_summary_equal_to_a_rebuild(tenant_a):
    wang = factories.user(tenant_a, "wang@a.example", "member")
    with tenant_context(tenant_a.id):
        wid = db.session.merge(wang).id
    cards = [factories.client(tenant_a, name, fields=fields) for name, fields in
             (("华光", {"annual_amount": "60万"}), ("中联", {"annual_amount": "20万"}), ("远方", {}),
              ("合并掉", {}), ("流失", {"annual_amount": "5万"}))]
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        hg, zl, yf, other, lost = (db.session.get(Client, c.id) for c in cards)
        today = fs.local_today()
        created = _summary()[hg.id][2]
        # New: due by the first-visit rule.
        assert _summary()[yf.id][5] == created + timedelta(days=5)
        _log(owner, hg, today - timedelta(days=40))                                      # A: 30 days
        _log(owner, zl, today - timedelta(days=10), next_date=today + timedelta(days=3))  # planned date wins
        assert _summary()[hg.id][3:] == (today - timedelta(days=40), None, today - timedelta(days=10))
        assert _summary()[zl.id][5] == today + timedelta(days=3)
        # A save that moves the grade moves the due date; a new owner takes the card's reminders.
        cs.update_client(owner, hg, version=hg.version, fields={"annual_amount": "20万"}, owner_id=wid)
        assert _summary()[hg.id][:2] == (wid, "B")
        assert _summary()[hg.id][5] == today + timedelta(days=50)
        assert [i.name for i in fs.due_list(db.session.get(User, wid), until=today + timedelta(days=60),
                                            today=today)] == ["华光"]
        # A manual grade, archive and restore, a churned card, a merge.
        fs.set_grade_override(owner, hg, "A", "集团客户")
        assert _summary()[hg.id][5] == today - timedelta(days=10)
        cs.set_archived(owner, yf, True)
        assert _summary()[yf.id][5] is None
        cs.set_archived(owner, yf, False)
        assert _summary()[yf.id][5] is not None
        fs.mark_churned(owner, lost, "价格", version=lost.version)
        assert _summary()[lost.id][5] is None
        merge_clients(owner, yf, other, kept_version=yf.version, other_version=other.version)
        assert _summary()[other.id][5] is None
        # Editing a follow-up's date or next contact date moves the due date too.
        f = fs.followups_of(zl)[0]
        fs.update_followup(owner, f, zl, {"next_date": ""})
        assert _summary()[zl.id][5] == today - timedelta(days=10) + timedelta(days=90)
        db.session.commit()
        kept = _summary()
        rebuild_contacts()
        assert _summary() == kept


def test_renaming_a_stage_to_or_from_churn_moves_the_cards_in_or_out_of_the_due_lists(tenant_a):
    from app.settings.services import rename_stage

    card = factories.client(tenant_a, "华光")
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        tenant = current_tenant()
        rename_stage(owner, tenant, "流失", "丢失")
        rename_stage(owner, tenant, "潜在", "流失")  # this company now calls its lost clients 流失
        assert _summary()[card.id][5] is None
        rename_stage(owner, tenant, "流失", "潜在")
        assert _summary()[card.id][5] is not None


def test_a_rule_change_moves_due_dates_set_based(tenant_a):
    cards = [factories.client(tenant_a, n, fields={"annual_amount": a}) for n, a in (("甲", "60万"), ("乙", "45万"))]
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        a, b = (db.session.get(Client, c.id) for c in cards)
        today = fs.local_today()
        _log(owner, a, today - timedelta(days=5))
        _log(owner, b, today - timedelta(days=5))
        db.session.commit()
        fs.save_rules_and_regrade(owner, {
            "field": "annual_amount", "grades": [{"name": "A", "min": 400000}, {"name": "B", "min": None}],
            "cadence_days": {"A": 7, "B": 60}, "first_visit_days": 2})
        db.session.commit()
        after = _summary()
        assert (after[a.id][1], after[a.id][5]) == ("A", today + timedelta(days=2))
        assert (after[b.id][1], after[b.id][5]) == ("A", today + timedelta(days=2))  # moved from B to A
        rebuild_contacts()
        assert _summary() == after


def test_today_lists_are_capped_and_counted(tenant_a, login):
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        cs.create_clients(owner, [{"name": f"客户{i:03d}"} for i in range(55)], allow_duplicate=True,
                          enforce_required=False)
        db.session.execute(ClientContact.__table__.update().values(due_date=date(2020, 1, 1)))
        db.session.commit()
    home = login(tenant_a.owner).get("/home").get_data(as_text=True)
    overdue = home.split('data-testid="overdue"')[1].split("</ul>")[0]
    assert overdue.count("<li>") == 20
    assert '<span class="count">55</span>' in home and "还有 35 个" in home


def test_the_saves_own_history_entry_shows_the_grade_it_moved(tenant_a):
    card = factories.client(tenant_a, "华光", fields={"annual_amount": "20万"})
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        client = db.session.get(Client, card.id)
        cs.update_client(owner, client, version=client.version, fields={"annual_amount": "80万"})
        cs.update_client(owner, client, version=client.version, tags=["重点"])  # no grade change, no @grade
        entries = db.session.scalars(select(ClientChange).where(ClientChange.client_id == card.id)
                                     .order_by(ClientChange.id)).all()
        assert [e.action for e in entries] == ["create", "edit", "edit"]
        assert entries[0].changes["@grade"] == {"from": None, "to": "B"}
        assert entries[1].changes["annual_amount"] == {"from": 200000, "to": 800000}
        assert entries[1].changes["@grade"] == {"from": "B", "to": "A"}
        assert "@grade" not in entries[2].changes
        # The quarter's review counts that move (the creation's first grade is no move).
        assert build_review(owner).movements == [{"from": "B", "to": "A", "count": 1}]


def test_the_migration_backfills_the_summary(tmp_path, app):
    from flask_migrate import downgrade, upgrade

    from app import create_app
    from app.config import TestConfig

    old = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/old.sqlite")
    with old.app_context():
        upgrade()
        bundle = factories.tenant("旧数据公司", "owner@old.example")
        cards = [factories.client(bundle, n, fields=f) for n, f in (("甲", {"annual_amount": "60万"}), ("乙", {}))]
        tenant_id = bundle.id
        with tenant_context(tenant_id):
            owner = db.session.get(User, bundle.owner.id)
            a = db.session.get(Client, cards[0].id)
            _log(owner, a, fs.local_today() - timedelta(days=3))
            db.session.commit()
            expected = _summary()
        db.session.remove()
        downgrade(revision="lead_1")
        upgrade()
        with tenant_context(tenant_id):
            assert _summary() == expected
            assert len(expected) == 2
        db.session.remove()
