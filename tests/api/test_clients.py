"""Client endpoints: the object shape, value formats, merge semantics, conflicts, duplicates, lists, visibility."""
from __future__ import annotations

from app.accounts.models import Tenant, User
from app.api.serializers import encode_cursor
from app.extensions import db
from app.tenancy import tenant_context
from tests.api.conftest import REQUIRED, new_client
from tests.api.test_auth_and_errors import assert_problem

# app.clients is imported inside the tests: importing it before create_app() would shadow app.htmx.

CLIENT_KEYS = {"id", "number", "name", "stage", "grade", "grade_source", "owner", "co_owners", "tags", "fields",
               "completeness", "version", "archived", "created_at", "updated_at"}


# ---------------------------------------------------------------- create and read

def test_create_answers_201_with_the_client_object(team_a, api_for):
    api = api_for(team_a.member)
    r = api.post("/clients", json={"name": "  北京远景贸易有限公司 ", "stage": "意向", "tags": ["展会", "华北"],
                                   "co_owners": [team_a.member2.id], "fields": REQUIRED})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == CLIENT_KEYS
    assert r.headers["Location"].endswith(f"/api/v1/clients/{body['id']}")
    assert body["name"] == "北京远景贸易有限公司"
    assert body["stage"] == "意向"
    assert body["owner"] == {"id": team_a.member.id, "name": "小李", "email": "member@a.example"}
    assert body["co_owners"] == [{"id": team_a.member2.id, "name": "小王", "email": "member2@a.example"}]
    assert body["tags"] == ["展会", "华北"]
    assert body["fields"] == {"business_phone": "021-55881234", "industry": "服装"}
    assert 0 < body["completeness"] < 1
    assert body["archived"] is False and body["grade"] is None and body["grade_source"] is None
    assert len(body["number"]) == 9 and body["number"].isdigit()  # {YYYY}{MM}{SEQ:3}
    assert body["created_at"].endswith("Z")
    got = api.get(f"/clients/{body['id']}")
    assert got.status_code == 200 and got.get_json() == body


def test_create_defaults_owner_and_stage(team_a, api_for):
    body = new_client(api_for(team_a.member))
    assert body["owner"]["id"] == team_a.member.id
    assert body["stage"] == "潜在"


def test_create_with_invalid_input_is_422_and_writes_nothing(team_a, api_for):
    api = api_for(team_a.owner)
    r = api.post("/clients", json={"name": "", "stage": "不存在", "owner": 424242,
                                   "fields": {"founded_on": "明天", "no_such_field": "x", "industry": "不是选项"}})
    errors = assert_problem(r, 422)["errors"]
    assert {"name", "stage", "owner", "founded_on", "no_such_field", "industry", "business_phone"} <= set(errors)
    assert all(isinstance(m, str) and m for m in errors.values())
    assert api.get("/clients").get_json()["total"] == 0


def test_field_value_formats(team_a, api_for):
    api = api_for(team_a.owner)
    body = new_client(api, fields={
        "registered_capital": "50万", "staff_total": "1.2千", "founded_on": "2024年6月30日",
        "first_deal_date": "2024/7/1", "hobbies": ["阅读", "旅游"], "vip": "是", "website": "www.example.com",
        "branches": [{"kind": "办事处", "city": "上海"}, {"city": "广州", "note": "南区"}],
        "account_manager": team_a.member.id, "address": "上海市　浦东新区", "email": "Info@Example.COM",
    })
    f = body["fields"]
    assert f["registered_capital"] == 500000
    assert f["staff_total"] == 1200
    assert f["founded_on"] == "2024-06-30"
    assert f["first_deal_date"] == "2024-07-01"
    assert f["hobbies"] == ["阅读", "旅游"]
    assert f["vip"] is True
    assert f["branches"] == [{"kind": "办事处", "city": "上海"}, {"city": "广州", "note": "南区"}]
    assert f["account_manager"] == team_a.member.id
    assert f["business_phone"] == "021-55881234"
    # Plain JSON forms are accepted as they are answered.
    r = api.patch(f"/clients/{body['id']}", json={"version": body["version"], "fields": {
        "registered_capital": 1234.5, "vip": False, "hobbies": ["高尔夫"], "founded_on": "2020-01-02"}})
    f = r.get_json()["fields"]
    assert (f["registered_capital"], f["vip"], f["hobbies"], f["founded_on"]) == (1234.5, False, ["高尔夫"],
                                                                                   "2020-01-02")


def test_invalid_values_name_the_field(team_a, api_for):
    api = api_for(team_a.owner)
    body = new_client(api)
    r = api.patch(f"/clients/{body['id']}", json={"version": body["version"], "fields": {
        "hobbies": ["下棋"], "vip": "也许", "branches": [{"colour": "red"}], "account_manager": 999999,
        "registered_capital": "很多", "founded_on": "2024年6月"}})
    errors = assert_problem(r, 422)["errors"]
    assert set(errors) == {"hobbies", "vip", "branches", "account_manager", "registered_capital", "founded_on"}
    assert api.get(f"/clients/{body['id']}").get_json()["version"] == body["version"]  # nothing written


def test_deactivated_colleague_is_not_a_valid_person(team_a, api_for):
    from app.accounts.models import User

    with tenant_context(team_a.id):
        db.session.get(User, team_a.member2.id).active = False
        db.session.commit()
    r = api_for(team_a.owner).post("/clients", json={"name": "甲", "fields": {**REQUIRED,
                                                                              "account_manager": team_a.member2.id}})
    assert "account_manager" in assert_problem(r, 422)["errors"]
    r = api_for(team_a.owner).post("/clients", json={"name": "甲", "owner": team_a.member2.id, "fields": REQUIRED})
    assert "owner" in assert_problem(r, 422)["errors"]


# ---------------------------------------------------------------- patch

def test_patch_merges_fields_key_by_key_and_null_clears(team_a, api_for):
    api = api_for(team_a.owner)
    body = new_client(api, fields={"address": "上海", "postal_code": "200000", "vip": True}, tags=["老客户"])
    r = api.patch(f"/clients/{body['id']}", json={"version": body["version"],
                                                  "fields": {"address": None, "postal_code": "200120"}})
    assert r.status_code == 200, r.get_json()
    after = r.get_json()
    assert "address" not in after["fields"]  # cleared
    assert after["fields"]["postal_code"] == "200120"  # changed
    assert after["fields"]["vip"] is True and after["fields"]["industry"] == "服装"  # untouched
    assert after["name"] == body["name"] and after["tags"] == ["老客户"] and after["stage"] == body["stage"]
    assert after["version"] > body["version"]
    r = api.patch(f"/clients/{body['id']}", json={"version": after["version"], "name": "华光科技", "stage": "成交",
                                                  "owner": team_a.member.id, "tags": None})
    again = r.get_json()
    assert (again["name"], again["stage"], again["owner"]["id"], again["tags"]) == ("华光科技", "成交",
                                                                                  team_a.member.id, [])
    assert again["fields"] == after["fields"]


def test_patch_cannot_clear_a_required_field(team_a, api_for):
    api = api_for(team_a.owner)
    body = new_client(api)
    r = api.patch(f"/clients/{body['id']}", json={"version": body["version"], "fields": {"industry": None}})
    assert "industry" in assert_problem(r, 422)["errors"]


def test_patch_needs_a_version(team_a, api_for):
    api = api_for(team_a.owner)
    body = new_client(api)
    r = api.patch(f"/clients/{body['id']}", json={"name": "新名字"})
    assert "version" in assert_problem(r, 422)["errors"]


def test_stale_version_is_409_with_the_current_client_and_nothing_is_lost(team_a, api_for):
    owner, member = api_for(team_a.owner), api_for(team_a.member)
    body = new_client(owner, fields={"address": "上海"})
    loaded = body["version"]
    r = member.patch(f"/clients/{body['id']}", json={"version": loaded, "fields": {"postal_code": "200000"}})
    assert r.status_code == 200
    r = owner.patch(f"/clients/{body['id']}", json={"version": loaded, "fields": {"address": "北京"}})
    problem = assert_problem(r, 409)
    current = problem["client"]
    assert current["fields"]["postal_code"] == "200000"  # the other user's change is there
    assert current["fields"]["address"] == "上海"  # the stale change was not applied
    assert problem["changes"][0]["changes"]["postal_code"] == {"from": None, "to": "200000"}
    assert problem["changes"][0]["actor"]["id"] == team_a.member.id
    r = owner.patch(f"/clients/{body['id']}", json={"version": current["version"], "fields": {"address": "北京"}})
    final = r.get_json()["fields"]
    assert final["address"] == "北京" and final["postal_code"] == "200000"


# ---------------------------------------------------------------- duplicates

def test_likely_duplicate_is_409_until_allowed(team_a, api_for):
    api = api_for(team_a.owner)
    first = new_client(api, "上海华光科技有限公司")
    r = api.post("/clients", json={"name": "上海华光科技", "fields": REQUIRED})
    problem = assert_problem(r, 409)
    assert problem["duplicates"] == [{"id": first["id"], "number": first["number"], "name": first["name"],
                                      "matched_on": ["name", "phone"], "owner": "老板", "visible": True}]
    assert api.get("/clients").get_json()["total"] == 1
    r = api.post("/clients", json={"name": "上海华光科技", "fields": REQUIRED, "allow_duplicate": True})
    assert r.status_code == 201
    assert api.get("/clients").get_json()["total"] == 2


def test_hidden_duplicate_says_only_that_it_exists_and_who_owns_it(team_a, api_for):
    with tenant_context(team_a.id):
        db.session.get(Tenant, team_a.id).update_settings(members_see_all=False)
        db.session.commit()
    new_client(api_for(team_a.member2), "深圳前海物流有限公司", fields={"business_phone": "0755-82345678"})
    r = api_for(team_a.member).post("/clients", json={"name": "深圳前海物流", "fields": REQUIRED})
    problem = assert_problem(r, 409)
    assert problem["duplicates"] == [{"id": None, "number": None, "name": None, "matched_on": ["name"],
                                      "owner": "小王", "visible": False}]


# ---------------------------------------------------------------- archive, restore, lists

def test_archive_restore_and_the_archived_filter(team_a, api_for):
    api = api_for(team_a.member)
    keep = new_client(api, "甲公司")
    gone = new_client(api, "乙公司")
    r = api.delete(f"/clients/{gone['id']}")
    assert r.status_code == 204 and r.get_data() == b""
    assert api.delete(f"/clients/{gone['id']}").status_code == 204  # archiving twice is harmless
    ids = lambda url: [c["id"] for c in api.get(url).get_json()["items"]]  # noqa: E731
    assert ids("/clients") == [keep["id"]]
    assert ids("/clients?archived=false") == [keep["id"]]
    assert ids("/clients?archived=true") == [gone["id"]]
    assert sorted(ids("/clients?archived=all")) == sorted([keep["id"], gone["id"]])
    archived = api.get(f"/clients/{gone['id']}")
    assert archived.status_code == 200 and archived.get_json()["archived"] is True
    r = api.post(f"/clients/{gone['id']}/restore")
    assert r.status_code == 200 and r.get_json()["archived"] is False
    assert sorted(ids("/clients")) == sorted([keep["id"], gone["id"]])
    assert archived.get_json()["fields"] == r.get_json()["fields"]  # values kept throughout


def test_list_filters_and_sort(team_a, api_for):
    api = api_for(team_a.owner)
    a = new_client(api, "阿尔法科技", stage="意向", tags=["展会"], owner=team_a.member.id)
    b = new_client(api, "贝塔贸易", stage="成交", fields={"business_phone": "13800138000"})
    c = new_client(api, "伽马物流", stage="意向", tags=["展会", "重点"], fields={"business_phone": "010-56781234"})
    ids = lambda url: [x["id"] for x in api.get(url).get_json()["items"]]  # noqa: E731
    assert ids("/clients?q=贝塔") == [b["id"]]
    assert ids("/clients?q=13800138000") == [b["id"]]
    assert sorted(ids("/clients?stage=意向")) == sorted([a["id"], c["id"]])
    assert ids(f"/clients?owner={team_a.member.id}") == [a["id"]]
    assert sorted(ids("/clients?tag=展会")) == sorted([a["id"], c["id"]])
    assert ids("/clients?sort=number") == [a["id"], b["id"], c["id"]]
    assert ids("/clients?sort=-number") == [c["id"], b["id"], a["id"]]
    body = api.get("/clients?stage=意向&limit=1").get_json()
    assert body["total"] == 2 and len(body["items"]) == 1 and body["next_cursor"]
    assert "sort" in assert_problem(api.get("/clients?sort=favourite"), 422)["errors"]
    assert "archived" in assert_problem(api.get("/clients?archived=maybe"), 422)["errors"]


def _bulk_clients(bundle, n):
    from app.clients import services as cs

    with tenant_context(bundle.id):
        for i in range(n):
            cs.create_client(bundle.owner, name=f"客户{i:03d}", allow_duplicate=True, enforce_required=False)
        db.session.commit()


def test_cursor_pagination_round_trip(team_a, api_for):
    _bulk_clients(team_a, 23)
    api = api_for(team_a.owner)
    for sort in ("", "&sort=name", "&sort=-name", "&sort=-updated", "&sort=number"):
        seen, cursor, pages = [], None, 0
        while True:
            url = f"/clients?limit=5{sort}" + (f"&cursor={cursor}" if cursor else "")
            body = api.get(url).get_json()
            assert body["total"] == 23
            seen += [c["id"] for c in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 5
        assert len(seen) == len(set(seen)) == 23, sort
    names = [c["name"] for c in api.get("/clients?sort=-name&limit=3").get_json()["items"]]
    assert names == ["客户022", "客户021", "客户020"]


def test_limit_defaults_to_50_and_is_clamped_to_200(team_a, api_for):
    _bulk_clients(team_a, 205)
    api = api_for(team_a.owner)
    body = api.get("/clients").get_json()
    assert len(body["items"]) == 50 and body["total"] == 205 and body["next_cursor"]
    body = api.get("/clients?limit=1000").get_json()
    assert len(body["items"]) == 200 and body["next_cursor"]
    rest = api.get(f"/clients?limit=1000&cursor={body['next_cursor']}").get_json()
    assert len(rest["items"]) == 5 and rest["next_cursor"] is None
    assert "limit" in assert_problem(api.get("/clients?limit=0"), 422)["errors"]


# ---------------------------------------------------------------- visibility

def test_sensitive_fields_only_for_owners_co_owners_and_admins(team_a, api_for):
    member = api_for(team_a.member)
    body = new_client(member, fields={"legal_rep_home_address": "上海市长宁区某路1号", "address": "上海"})
    assert body["fields"]["legal_rep_home_address"] == "上海市长宁区某路1号"  # the owner sees it
    path = f"/clients/{body['id']}"
    assert api_for(team_a.admin).get(path).get_json()["fields"]["legal_rep_home_address"]
    for other in (team_a.member2, team_a.viewer):
        seen = api_for(other).get(path).get_json()
        assert "legal_rep_home_address" not in seen["fields"] and seen["fields"]["address"] == "上海"
        history = api_for(other).get(path + "/history").get_json()["items"]
        assert all("legal_rep_home_address" not in h["changes"] for h in history)
    listed = api_for(team_a.admin).get("/clients").get_json()["items"][0]
    assert "legal_rep_home_address" not in listed["fields"]  # lists never carry sensitive values
    r = member.patch(path, json={"version": body["version"], "co_owners": [team_a.member2.id]})
    assert r.status_code == 200
    assert api_for(team_a.member2).get(path).get_json()["fields"]["legal_rep_home_address"]


def test_members_see_only_their_own_clients_when_the_tenant_says_so(team_a, api_for):
    with tenant_context(team_a.id):
        db.session.get(Tenant, team_a.id).update_settings(members_see_all=False)
        db.session.commit()
    theirs = new_client(api_for(team_a.member2), "别人的客户")
    mine = new_client(api_for(team_a.member), "我的客户")
    member = api_for(team_a.member)
    assert [c["id"] for c in member.get("/clients").get_json()["items"]] == [mine["id"]]
    assert_problem(member.get(f"/clients/{theirs['id']}"), 404)
    assert_problem(member.patch(f"/clients/{theirs['id']}", json={"version": 1}), 404)


def test_another_tenants_ids_are_404_on_every_route(two_tenants, api_for):
    tenant_a, tenant_b = two_tenants
    theirs = new_client(api_for(tenant_a.owner))
    intruder = api_for(tenant_b.owner)
    path = f"/clients/{theirs['id']}"
    for method, url, body in [("GET", path, None), ("PATCH", path, {"version": theirs["version"], "name": "x"}),
                              ("DELETE", path, None), ("POST", path + "/restore", None),
                              ("GET", path + "/history", None), ("GET", path + "/views", None)]:
        assert_problem(intruder.open(method, url, json=body), 404)
    assert intruder.get("/clients").get_json() == {"items": [], "next_cursor": None, "total": 0, "total_exact": True}
    assert intruder.get("/clients?archived=all&q=华光").get_json()["total"] == 0
    r = intruder.post("/clients", json={"name": theirs["name"], "fields": REQUIRED})
    assert r.status_code == 201  # another tenant's client is never a duplicate
    owner = api_for(tenant_a.owner)
    assert owner.get(path).get_json()["name"] == theirs["name"]
    assert owner.get(path).get_json()["archived"] is False


# ---------------------------------------------------------------- history and view log

def test_api_actions_appear_in_history_like_ui_actions(team_a, api_for):
    api = api_for(team_a.member)
    body = new_client(api, fields={"address": "上海"})
    r = api.patch(f"/clients/{body['id']}", json={"version": body["version"], "stage": "成交",
                                                  "fields": {"address": "北京"}})
    assert r.status_code == 200
    assert api.delete(f"/clients/{body['id']}").status_code == 204
    assert api.post(f"/clients/{body['id']}/restore").status_code == 200
    from app.clients import services as cs
    from app.clients.models import Client

    with tenant_context(team_a.id):  # the UI's edit goes through the same service
        client = db.session.get(Client, body["id"])
        boss = db.session.get(User, team_a.boss.id)
        cs.update_client(boss, client, version=client.version, fields={"postal_code": "100000"})
        db.session.commit()
    items = api.get(f"/clients/{body['id']}/history").get_json()
    assert items["total"] == 5 and items["next_cursor"] is None
    actions = [(h["action"], h["actor"]["id"]) for h in items["items"]]
    assert actions == [("edit", team_a.boss.id), ("restore", team_a.member.id), ("archive", team_a.member.id),
                       ("edit", team_a.member.id), ("create", team_a.member.id)]
    api_edit, ui_edit = items["items"][3], items["items"][0]
    assert api_edit["changes"] == {"address": {"from": "上海", "to": "北京"}, "@stage": {"from": "潜在", "to": "成交"}}
    assert ui_edit["changes"] == {"postal_code": {"from": None, "to": "100000"}}
    assert set(api_edit) == set(ui_edit) >= {"at", "actor", "action", "changes"}
    assert api_edit["actor"] == {"id": team_a.member.id, "email": "member@a.example"}
    assert items["items"][1]["changes"] == {"@archived": {"from": True, "to": False}}
    page = api.get(f"/clients/{body['id']}/history?limit=2").get_json()
    rest = api.get(f"/clients/{body['id']}/history?limit=2&cursor={page['next_cursor']}").get_json()
    assert [h["action"] for h in page["items"] + rest["items"]] == ["edit", "restore", "archive", "edit"]


def test_reading_a_card_is_logged_in_the_view_log(team_a, api_for):
    from app.clients.models import ClientView

    member = api_for(team_a.member)
    body = new_client(member, fields={"legal_rep_home_address": "上海市长宁区某路1号"})
    api_for(team_a.member2).get(f"/clients/{body['id']}")
    member.get(f"/clients/{body['id']}?reason=准备拜访")
    with tenant_context(team_a.id):
        kinds = [(v.user_id, v.kind) for v in db.session.query(ClientView).order_by(ClientView.id)]
    assert (team_a.member2.id, "open") in kinds
    assert (team_a.member.id, "open") in kinds and (team_a.member.id, "sensitive") in kinds
    assert (team_a.member2.id, "sensitive") not in kinds  # member2 was not shown the sensitive values
    log = api_for(team_a.admin).get(f"/clients/{body['id']}/views").get_json()
    assert log["total"] == len(kinds)
    newest = log["items"][0]
    assert newest["user"] == {"id": team_a.member.id, "email": "member@a.example"}
    assert newest["reason"] == "准备拜访"
    assert set(newest) >= {"at", "user", "reason"}
    first = api_for(team_a.admin).get(f"/clients/{body['id']}/views?limit=2").get_json()
    rest = api_for(team_a.admin).get(f"/clients/{body['id']}/views?limit=200&cursor={first['next_cursor']}")
    assert [v["at"] for v in first["items"] + rest.get_json()["items"]] == [v["at"] for v in log["items"]]
    assert rest.get_json()["next_cursor"] is None
    too_far = encode_cursor(10 ** 30)
    assert "cursor" in assert_problem(api_for(team_a.admin).get(f"/clients/{body['id']}/views?cursor={too_far}"),
                                      422)["errors"]


def test_forged_list_cursors_are_422_not_500(team_a, api_for):
    import base64
    import json

    api = api_for(team_a.owner)
    new_client(api)
    for payload in (["2026-01-01T00:00:00+00:00", 10 ** 30], ["x", -1], [10 ** 400, 1], [1e308, 5], "x", [1]):
        cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        for sort in ("", "&sort=name", "&sort=-registered_capital", "&sort=completeness"):
            assert "cursor" in assert_problem(api.get(f"/clients?cursor={cursor}{sort}"), 422)["errors"]
