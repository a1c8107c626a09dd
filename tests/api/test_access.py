"""Inside one tenant, through the API: owners, co-owners, viewers and sensitive fields follow app.clients.access."""
from __future__ import annotations

from sqlalchemy import select

from app.card_templates import editing
from app.clients.models import Client, ClientFieldValue, ClientMatchKey
from app.extensions import db
from app.tenancy import tenant_context
from tests.api.conftest import new_client

HOME = "pic_home_address"  # a sensitive field of the default template


def _card(tenant_id, client_id) -> Client:
    with tenant_context(tenant_id):
        return db.session.get(Client, client_id)


def test_member_cannot_make_themselves_co_owner_of_a_colleagues_card(team_a, api_for):
    owner_api, member_api = api_for(team_a.member2), api_for(team_a.member)
    card = new_client(owner_api, fields={HOME: "北京市朝阳区幸福路 8 号"})
    r = member_api.patch(f"/clients/{card['id']}", json={"version": card["version"], "co_owners": [team_a.member.id]})
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert "owner" in r.get_json()["detail"].lower() or "负责人" in r.get_json()["detail"]
    got = member_api.get(f"/clients/{card['id']}").get_json()
    assert got["co_owners"] == [] and HOME not in got["fields"]
    # The card's owner may add a colleague, who then reads the sensitive field.
    r = owner_api.patch(f"/clients/{card['id']}", json={"version": card["version"], "co_owners": [team_a.member.id]})
    assert r.status_code == 200, r.get_json()
    assert member_api.get(f"/clients/{card['id']}").get_json()["fields"][HOME] == "北京市朝阳区幸福路 8 号"


def test_member_cannot_write_clear_or_probe_a_colleagues_sensitive_field(team_a, api_for):
    owner_api, member_api = api_for(team_a.member2), api_for(team_a.member)
    card = new_client(owner_api, fields={HOME: "北京市朝阳区幸福路 8 号"})
    for value in ("上海市静安区", None, "北京市朝阳区幸福路 8 号"):  # write, clear, and confirm a guess
        r = member_api.patch(f"/clients/{card['id']}", json={"version": card["version"], "fields": {HOME: value}})
        assert r.status_code == 403, (value, r.get_json())
        assert "version" not in r.get_json() and "client" not in r.get_json()
    stored = _card(team_a.id, card["id"])
    assert stored.version == card["version"] and stored.values[HOME] == "北京市朝阳区幸福路 8 号"
    # Non-sensitive fields of the colleague's card stay editable, as before.
    r = member_api.patch(f"/clients/{card['id']}", json={"version": card["version"], "fields": {"industry": "物流/运输"}})
    assert r.status_code == 200 and HOME not in r.get_json()["fields"]


def test_member_cannot_fill_sensitive_fields_of_a_card_created_for_a_colleague(team_a, api_for):
    member_api = api_for(team_a.member)
    r = member_api.post("/clients", json={"name": "甲公司", "owner": team_a.member2.id, "allow_duplicate": True,
                                          "fields": {"business_phone": "021-5588 1234", "industry": "服装",
                                                     HOME: "上海市"}})
    assert r.status_code == 403
    r = member_api.post("/clients", json={"name": "甲公司", "owner": team_a.member2.id, "allow_duplicate": True,
                                          "fields": {"business_phone": "021-5588 1234", "industry": "服装"}})
    assert r.status_code == 201


def test_a_viewer_is_never_made_owner_or_co_owner(team_a, api_for):
    admin_api = api_for(team_a.admin)
    card = new_client(admin_api)
    r = admin_api.patch(f"/clients/{card['id']}", json={"version": card["version"], "owner": team_a.viewer.id})
    assert r.status_code == 422 and "owner" in r.get_json()["errors"]
    r = admin_api.patch(f"/clients/{card['id']}", json={"version": card["version"], "co_owners": [team_a.viewer.id]})
    assert r.status_code == 422 and "co_owners" in r.get_json()["errors"]
    r = admin_api.post("/clients", json={"name": "乙公司", "owner": team_a.viewer.id, "allow_duplicate": True,
                                         "fields": {"business_phone": "021-5588 1234", "industry": "服装"}})
    assert r.status_code == 422 and "owner" in r.get_json()["errors"]
    assert _card(team_a.id, card["id"]).owner_id == team_a.admin.id


def test_viewers_follow_the_members_see_all_setting(team_a, api_for):
    from app.accounts.models import Tenant

    card = new_client(api_for(team_a.member2))
    viewer_api = api_for(team_a.viewer)
    assert viewer_api.get(f"/clients/{card['id']}").status_code == 200
    tenant = db.session.get(Tenant, team_a.id)
    tenant.update_settings(members_see_all=False)
    db.session.commit()
    assert viewer_api.get(f"/clients/{card['id']}").status_code == 404
    assert viewer_api.get("/clients").get_json()["total"] == 0
    assert api_for(team_a.member).get(f"/clients/{card['id']}").status_code == 404
    assert api_for(team_a.admin).get(f"/clients/{card['id']}").status_code == 200


def _add_sensitive_contact_fields(tenant_id, actor_id):
    from app.accounts.models import User

    with tenant_context(tenant_id):
        actor = db.session.get(User, actor_id)
        editing.add_field(actor, "family", {"label": "家属联系方式", "type": "table", "sensitive": True, "columns": [
            {"key": "name", "label": "姓名", "type": "text"}, {"key": "mobile", "label": "手机", "type": "phone"}]})
        editing.add_field(actor, "family", {"label": "身份证号", "type": "text", "sensitive": True,
                                            "identifier": True})
        db.session.commit()
        fields = {f.label: f.key for f in editing.load_template().fields}
        return fields["家属联系方式"], fields["身份证号"]


def test_sensitive_values_stay_out_of_search_match_keys_and_the_value_index(team_a, api_for):
    table_key, id_key = _add_sensitive_contact_fields(team_a.id, team_a.admin.id)
    owner_api, member_api = api_for(team_a.member2), api_for(team_a.member)
    card = new_client(owner_api, fields={table_key: [{"name": "王芳", "mobile": "13900139000"}],
                                         id_key: "110101199003077777", HOME: "北京市朝阳区幸福路",
                                         "pic_marital_status": "已婚"})
    with tenant_context(team_a.id):
        stored = db.session.get(Client, card["id"])
        keys = set(db.session.execute(select(ClientMatchKey.kind, ClientMatchKey.value)
                                      .where(ClientMatchKey.client_id == card["id"])).all())
        indexed = set(db.session.scalars(select(ClientFieldValue.key).where(ClientFieldValue.client_id == card["id"])))
        for secret in ("13900139000", "110101199003077777", "幸福路", "王芳", "已婚"):
            assert secret not in stored.search_text
            assert not any(secret in v for _k, v in keys), keys
        assert "pic_marital_status" not in indexed and "industry" in indexed
    # A member creating a client with that phone is not told about the other card (no 409, nothing named).
    r = member_api.post("/clients", json={"name": "丙公司", "fields": {"business_phone": "13900139000",
                                                                      "industry": "服装"}})
    assert r.status_code == 201, r.get_json()
    # Searching for the sensitive value finds nothing, even for the card's owner.
    assert owner_api.get("/clients", query_string={"q": "13900139000"}).get_json()["total"] == 1  # 丙公司 itself
    assert owner_api.get("/clients", query_string={"q": "幸福路"}).get_json()["total"] == 0


def test_a_field_marked_sensitive_later_leaves_derived_data_at_once(team_a, api_for):
    from app.accounts.models import User

    owner_api = api_for(team_a.member2)
    card = new_client(owner_api, fields={"pic_name": "赵建国", "pic_office_phone": "13800138000"})
    assert owner_api.get("/clients", query_string={"q": "赵建国"}).get_json()["total"] == 1
    with tenant_context(team_a.id):
        before = db.session.get(Client, card["id"]).version
        admin = db.session.get(User, team_a.admin.id)
        editing.update_field(admin, "pic_office_phone", {"sensitive": True})
        editing.update_field(admin, "pic_name", {"sensitive": True})
        db.session.commit()
        stored = db.session.get(Client, card["id"])
        assert "赵建国" not in stored.search_text and "13800138000" not in stored.search_text
        assert stored.version == before  # derived data only: nobody's open form goes stale
        assert ("phone", "13800138000") not in set(db.session.execute(
            select(ClientMatchKey.kind, ClientMatchKey.value).where(ClientMatchKey.client_id == card["id"])).all())
    assert owner_api.get("/clients", query_string={"q": "赵建国"}).get_json()["total"] == 0
