"""Template endpoints: read the template; add, change, archive and restore fields without losing values."""
from __future__ import annotations

from tests.api.conftest import new_client
from tests.api.test_auth_and_errors import assert_problem

FIELD_KEYS = {"key", "label", "type", "required", "sensitive", "in_brief", "identifier", "options", "columns",
              "archived"}


def _field(template, key):
    return next(f for s in template["sections"] for f in s["fields"] if f["key"] == key)


def test_get_template(team_a, api_for):
    r = api_for(team_a.viewer).get("/template")
    assert r.status_code == 200
    body = r.get_json()
    assert isinstance(body["version"], int)
    basic = body["sections"][0]
    assert {"key", "label", "in_brief", "fields"} <= set(basic)
    assert basic["key"] == "basic" and basic["label"] == "基础资料"
    industry = _field(body, "industry")
    assert FIELD_KEYS <= set(industry)
    assert industry["type"] == "select" and industry["required"] is True
    assert "服装" in industry["options"] and all(isinstance(o, str) for o in industry["options"])
    assert _field(body, "credit_code")["identifier"] is True
    assert _field(body, "legal_rep_home_address")["sensitive"] is True
    branches = _field(body, "branches")
    assert branches["type"] == "table"
    assert branches["columns"][0] == {"key": "kind", "label": "类型", "type": "select",
                                      "options": ["办事处", "专卖店", "分公司", "其他"]}


def test_add_field_then_fill_it(team_a, api_for):
    admin = api_for(team_a.admin)
    before = admin.get("/template").get_json()["version"]
    r = admin.post("/template/fields", json={"section": "basic", "label": "客户来源", "key": "lead_source",
                                             "type": "select", "options": ["展会", "转介绍"], "in_brief": True})
    assert r.status_code == 201, r.get_json()
    field = r.get_json()
    assert FIELD_KEYS <= set(field)
    assert (field["key"], field["label"], field["type"], field["options"], field["in_brief"], field["archived"]) == (
        "lead_source", "客户来源", "select", ["展会", "转介绍"], True, False)
    template = admin.get("/template").get_json()
    assert template["version"] > before
    assert _field(template, "lead_source")["label"] == "客户来源"
    client = new_client(admin, fields={"lead_source": "展会"})
    assert client["fields"]["lead_source"] == "展会"


def test_add_field_makes_a_key_from_the_label(team_a, api_for):
    r = api_for(team_a.owner).post("/template/fields", json={"section": "basic", "label": "Annual budget",
                                                             "type": "money"})
    assert r.status_code == 201
    assert r.get_json()["key"] == "annual_budget"


def test_add_field_validation(team_a, api_for):
    admin = api_for(team_a.admin)
    errors = assert_problem(admin.post("/template/fields", json={"section": "nope", "label": "x", "type": "text"}),
                            422)["errors"]
    assert "section" in errors
    errors = assert_problem(admin.post("/template/fields", json={"section": "basic", "label": "x",
                                                                 "type": "colour"}), 422)["errors"]
    assert "type" in errors
    errors = assert_problem(admin.post("/template/fields", json={"section": "basic", "label": "地址2",
                                                                 "key": "address", "type": "text"}), 422)["errors"]
    assert "key" in errors  # keys are never reused
    errors = assert_problem(admin.post("/template/fields", json={"label": "x", "options": "a,b", "extra": 1}),
                            422)["errors"]
    assert {"section", "type", "options", "extra"} <= set(errors)
    errors = assert_problem(admin.post("/template/fields", json={"section": "basic", "label": "表", "type": "table",
                                                                 "columns": [{"key": ["x"], "label": "名"}]}),
                            422)["errors"]
    assert "columns" in errors


def test_patch_field_keeps_values(team_a, api_for):
    admin = api_for(team_a.admin)
    client = new_client(admin, fields={"address": "上海"})
    r = admin.patch("/template/fields/address", json={"label": "办公地址", "in_brief": True})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["label"], r.get_json()["in_brief"]) == ("办公地址", True)
    assert admin.get(f"/clients/{client['id']}").get_json()["fields"]["address"] == "上海"
    assert "key" in assert_problem(admin.patch("/template/fields/address", json={"key": "addr"}), 422)["errors"]


def test_type_change_that_would_lose_values_is_refused_with_the_blocking_cards(team_a, api_for):
    admin = api_for(team_a.admin)
    client = new_client(admin, fields={"address": "上海"})
    problem = assert_problem(admin.patch("/template/fields/address", json={"type": "number"}), 422)
    assert problem["errors"]
    assert [b["id"] for b in problem.get("blocking", [])] == [client["id"]]
    assert _field(admin.get("/template").get_json(), "address")["type"] == "text"


def test_archive_keeps_values_and_restore_brings_them_back(team_a, api_for):
    admin = api_for(team_a.admin)
    client = new_client(admin, fields={"postal_code": "200000"})
    path = f"/clients/{client['id']}"
    r = admin.delete("/template/fields/postal_code")
    assert r.status_code == 204 and r.get_data() == b""
    assert _field(admin.get("/template").get_json(), "postal_code")["archived"] is True
    shown = admin.get(path).get_json()
    assert "postal_code" not in shown["fields"]
    r = admin.patch(path, json={"version": shown["version"], "fields": {"postal_code": "100000"}})
    assert "postal_code" in assert_problem(r, 422)["errors"]
    r = admin.post("/template/fields/postal_code/restore")
    assert r.status_code == 200 and r.get_json()["archived"] is False
    assert admin.get(path).get_json()["fields"]["postal_code"] == "200000"


def test_unknown_field_is_404(team_a, api_for):
    admin = api_for(team_a.admin)
    assert_problem(admin.patch("/template/fields/nope", json={"label": "x"}), 404)
    assert_problem(admin.delete("/template/fields/nope"), 404)
    assert_problem(admin.post("/template/fields/nope/restore"), 404)


def test_template_is_per_tenant(two_tenants, api_for):
    tenant_a, tenant_b = two_tenants
    r = api_for(tenant_a.owner).post("/template/fields", json={"section": "basic", "label": "只属于甲",
                                                               "key": "only_a", "type": "text"})
    assert r.status_code == 201
    other = api_for(tenant_b.owner)
    keys = {f["key"] for s in other.get("/template").get_json()["sections"] for f in s["fields"]}
    assert "only_a" not in keys
    assert_problem(other.patch("/template/fields/only_a", json={"label": "x"}), 404)
    assert_problem(other.delete("/template/fields/only_a"), 404)
    assert_problem(other.post("/template/fields/only_a/restore"), 404)


def test_core_flag_is_read_and_set_through_the_api(team_a, api_for):
    """The card's core (what completeness counts) is the tenant's to set, from the editor or an integration."""
    admin = api_for(team_a.admin)
    template = admin.get("/template").get_json()
    assert _field(template, "industry")["core"] is True  # required
    assert _field(template, "branches")["core"] is False
    client = new_client(admin)
    before = client["completeness"]

    r = admin.patch("/template/fields/branches", json={"core": True})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["core"] is True
    after = admin.get(f"/clients/{client['id']}").get_json()["completeness"]
    assert after < before  # one more core field, still empty on this card

    r = admin.post("/template/fields", json={"section": "basic", "label": "备注二", "type": "text", "core": False})
    assert r.status_code == 201 and r.get_json()["core"] is False
    assert admin.patch("/template/fields/branches", json={"core": "yes"}).status_code == 422
