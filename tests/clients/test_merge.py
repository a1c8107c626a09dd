"""Merging two cards: field choice, tags and co-owners, both histories, view log, the other card archived."""
from __future__ import annotations


from app.clients import services as cs
from app.card_templates.services import load_template
from app.clients import history
from app.clients.duplicates import find_duplicates
from app.clients.merge import merge_clients, merged_into
from app.clients.models import Client
from app.extensions import db
from tests import factories
from tests.clients.test_card_page import _card, _changes, _fresh, _uid, _views

HX = {"HX-Request": "true"}


def test_merge_tool_end_to_end(tenant_a, login):
    li = factories.user(tenant_a, "li@a.example", "member", "李四")
    kept = _card(tenant_a, fields={"business_phone": "021-5588 1234", "address": "北京路 1 号"}, tags=["重点"])
    other = _card(tenant_a, "上海华光科技", actor=li, owner_id=_uid(li),
                  fields={"business_phone": "02155881234", "address": "南京路 2 号", "postal_code": "200001"},
                  tags=["华东"])
    b = login(tenant_a.owner)
    login(li).get(f"/clients/{other.id}")  # a view of the other card, to move
    html = b.get(f"/clients/{kept.id}").get_data(as_text=True)
    assert 'data-testid="possible-duplicates"' in html and f"/clients/{kept.id}/merge?other={other.id}" in html
    r = b.get(f"/clients/{kept.id}/merge?other={other.id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "北京路 1 号" in html and "南京路 2 号" in html and "200001" in html
    assert "<html" not in b.get(f"/clients/{kept.id}/merge?other={other.id}", headers=HX).get_data(as_text=True)
    r = b.post(f"/clients/{kept.id}/merge?other={other.id}", headers=HX,
               data={"kept_version": "1", "other_version": "1", "choice.address": "other", "name_from": "kept"})
    assert r.status_code == 204 and r.headers["HX-Redirect"].endswith(f"/clients/{kept.id}")
    with factories.tenant_context(tenant_a.id):
        k, o = db.session.get(Client, kept.id), db.session.get(Client, other.id)
        assert k.values["address"] == "南京路 2 号" and k.values["postal_code"] == "200001"
        assert k.tags == ["重点", "华东"] and k.co_owner_ids == [_uid(li)]
        assert o.archived and merged_into(o)["id"] == kept.id
        assert [h.action for h in history.history_with_merged(k)] .count("create") == 2
        assert find_duplicates(k.owner, load_template(), k.name, k.values, exclude_id=k.id) == []
    assert [v.user_id for v in _views(tenant_a, kept.id)].count(_uid(li)) == 1
    last = _changes(tenant_a, kept.id)[-1]
    assert last.action == "merge" and last.changes["@merged_from"]["to"]["id"] == other.id
    assert last.changes["address"] == {"from": "北京路 1 号", "to": "南京路 2 号"}
    # The kept card's history shows the other card's history too; the other card says where it went.
    html = b.get(f"/clients/{kept.id}/history").get_data(as_text=True)
    assert other.number in html and "南京路 2 号" in html
    html = b.get(f"/clients/{other.id}").get_data(as_text=True)
    assert 'data-testid="archived-banner"' in html and f"/clients/{kept.id}" in html


def test_merge_refuses_stale_versions_and_self(tenant_a, login):
    a = _card(tenant_a)
    o = _card(tenant_a, "上海华光科技")
    b = login(tenant_a.owner)
    r = b.post(f"/clients/{a.id}/merge?other={o.id}", data={"kept_version": "1", "other_version": "0"})
    assert r.status_code == 409 and not _fresh(tenant_a, o.id).archived
    assert b.get(f"/clients/{a.id}/merge?other={a.id}").status_code == 404
    viewer = factories.user(tenant_a, "v@a.example", "viewer")
    assert login(viewer).post(f"/clients/{a.id}/merge?other={o.id}", data={}).status_code == 403


def test_merge_service_defaults_keep_non_empty_prefer_target(tenant_a):
    a = factories.client(tenant_a, "甲", fields={"address": "A 路", "industry": "贸易/进出口"})
    o = factories.client(tenant_a, "乙", fields={"address": "B 路", "postal_code": "100000"})
    with factories.tenant_context(tenant_a.id):
        kept, other = db.session.get(Client, a.id), db.session.get(Client, o.id)
        owner = db.session.get(type(tenant_a.owner), _uid(tenant_a))
        merge_clients(owner, kept, other, kept_version=kept.version, other_version=other.version)
        db.session.commit()
        assert kept.values == {"address": "A 路", "industry": "贸易/进出口", "postal_code": "100000"}
        assert kept.name == "甲" and other.archived
        # Restoring a merged card brings it back as a card of its own; nothing was deleted.
        cs.set_archived(owner, other, False)
        db.session.commit()
        assert other.values["address"] == "B 路" and merged_into(other) is None
