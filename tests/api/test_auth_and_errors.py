"""Bearer auth, roles, rate limits and the problem+json answer of every error status."""
from __future__ import annotations


import pytest

from app.accounts.models import ApiToken, User
from app.db_types import utcnow
from app.extensions import db
from app.tenancy import tenant_context
from tests.api.conftest import Api, new_client

PROBLEM = "application/problem+json"


def assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    return body


# ---------------------------------------------------------------- authentication

def test_valid_token_reads_its_tenant(team_a, api_for):
    r = api_for(team_a.owner).get("/template")
    assert r.status_code == 200
    assert r.mimetype == "application/json"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic abc", "Bearer cc_not-a-real-token", "cc_x"])
def test_missing_or_bad_token_is_401(app, team_a, header):
    headers = {"Authorization": header} if header is not None else {}
    r = app.test_client().get("/api/v1/clients", headers=headers)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401(team_a, api_for):
    api = api_for(team_a.member)
    assert api.get("/clients").status_code == 200
    with tenant_context(team_a.id):
        for row in db.session.query(ApiToken).filter_by(user_id=team_a.member.id):
            row.revoked_at = utcnow()
        db.session.commit()
    assert_problem(api.get("/clients"), 401)


def test_deactivated_users_token_is_401(team_a, api_for):
    api = api_for(team_a.member)
    assert api.get("/clients").status_code == 200
    with tenant_context(team_a.id):
        db.session.get(User, team_a.member.id).active = False
        db.session.commit()
    assert_problem(api.get("/clients"), 401)
    assert_problem(api.post("/clients", json={"name": "新客户"}), 401)


def test_browser_session_cookie_alone_does_not_authenticate(team_a, login):
    browser = login(team_a.owner)  # signed in to the web app, cookie jar holds the session
    assert browser.get("/home").status_code == 200
    r = browser.get("/api/v1/clients")
    assert_problem(r, 401)
    r = browser.client.post("/api/v1/clients", json={"name": "新客户"})
    assert_problem(r, 401)
    assert "Set-Cookie" not in r.headers  # the API never touches the browser session


def test_token_wins_over_a_session_of_another_user(team_a, login, api_for):
    """A session cookie of an admin does not lift a viewer's token to admin."""
    browser = login(team_a.owner)
    token = api_for(team_a.viewer).token
    r = browser.client.post("/api/v1/clients", json={"name": "新客户"},
                            headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 403)


def test_last_used_is_recorded(team_a, api_for):
    api = api_for(team_a.member)
    api.get("/clients")
    with tenant_context(team_a.id):
        row = db.session.query(ApiToken).filter_by(user_id=team_a.member.id).one()
        assert row.last_used_at is not None


# ---------------------------------------------------------------- roles

def test_viewer_reads_but_never_writes(team_a, api_for):
    owner = api_for(team_a.owner)
    client = new_client(owner)
    viewer = api_for(team_a.viewer)
    assert viewer.get("/clients").status_code == 200
    assert viewer.get(f"/clients/{client['id']}").status_code == 200
    assert viewer.get(f"/clients/{client['id']}/history").status_code == 200
    assert_problem(viewer.post("/clients", json={"name": "新客户"}), 403)
    assert_problem(viewer.patch(f"/clients/{client['id']}", json={"version": client["version"], "name": "x"}), 403)
    assert_problem(viewer.delete(f"/clients/{client['id']}"), 403)
    assert_problem(viewer.post(f"/clients/{client['id']}/restore"), 403)
    assert_problem(viewer.post("/template/fields", json={"section": "basic", "label": "x", "type": "text"}), 403)
    assert_problem(viewer.patch("/template/fields/address", json={"label": "x"}), 403)
    assert_problem(viewer.delete("/template/fields/address"), 403)
    assert_problem(viewer.post("/template/fields/address/restore"), 403)
    assert owner.get(f"/clients/{client['id']}").get_json()["name"] == client["name"]


def test_members_cannot_change_the_template(team_a, api_for):
    member = api_for(team_a.member)
    assert member.get("/template").status_code == 200
    assert_problem(member.post("/template/fields", json={"section": "basic", "label": "x", "type": "text"}), 403)
    assert_problem(member.patch("/template/fields/address", json={"label": "x"}), 403)
    assert_problem(member.delete("/template/fields/address"), 403)
    assert_problem(member.post("/template/fields/address/restore"), 403)


def test_view_log_is_for_admins(team_a, api_for):
    client = new_client(api_for(team_a.member))
    assert_problem(api_for(team_a.member).get(f"/clients/{client['id']}/views"), 403)
    assert_problem(api_for(team_a.viewer).get(f"/clients/{client['id']}/views"), 403)
    assert api_for(team_a.admin).get(f"/clients/{client['id']}/views").status_code == 200
    assert api_for(team_a.owner).get(f"/clients/{client['id']}/views").status_code == 200


# ---------------------------------------------------------------- error statuses

def test_malformed_json_is_400(team_a, api_for):
    api = api_for(team_a.owner)
    for body in (b"{", b'{"name": }', b"\xff\xfe", b'{"name": NaN}', b"[" * 100000):
        r = api.client.post("/api/v1/clients", data=body, headers=api.headers({"Content-Type": "application/json"}))
        assert_problem(r, 400)


def test_json_that_is_not_an_object_is_422(team_a, api_for):
    api = api_for(team_a.owner)
    for body in (b"[]", b'"name"', b"42", b"null", b""):
        r = api.client.post("/api/v1/clients", data=body, headers=api.headers({"Content-Type": "application/json"}))
        assert_problem(r, 422)


def test_non_json_body_on_writes_is_415(team_a, api_for):
    api = api_for(team_a.owner)
    client = new_client(api)
    r = api.client.post("/api/v1/clients", data={"name": "x"}, headers=api.headers())
    assert_problem(r, 415)
    r = api.client.patch(f"/api/v1/clients/{client['id']}", data="version=1",
                         headers=api.headers({"Content-Type": "text/plain"}))
    assert_problem(r, 415)


def test_too_large_body_is_413(team_a, api_for):
    api = api_for(team_a.owner)
    big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    r = api.client.post("/api/v1/clients", data=big, headers=api.headers({"Content-Type": "application/json"}))
    assert_problem(r, 413)


def test_unknown_routes_and_ids_are_404(team_a, api_for):
    api = api_for(team_a.owner)
    assert_problem(api.get("/nothing-here"), 404)
    assert_problem(api.get("/clients/999999"), 404)
    assert_problem(api.get("/clients/99999999999999999999"), 404)
    assert_problem(api.get("/clients/abc"), 404)
    assert_problem(api.patch("/template/fields/no_such_field", json={"label": "x"}), 404)


def test_wrong_method_is_405(team_a, api_for):
    r = api_for(team_a.owner).open("PUT", "/clients", json={})
    body = assert_problem(r, 405)
    assert "GET" in r.headers["Allow"] and "POST" in r.headers["Allow"]
    assert body["title"] == "Method Not Allowed"


def test_unknown_and_mistyped_properties_are_422(team_a, api_for):
    api = api_for(team_a.owner)
    r = api.post("/clients", json={"name": 42, "tags": "a", "owner": "me", "colour": "red", "fields": []})
    body = assert_problem(r, 422)
    assert set(body["errors"]) == {"name", "tags", "owner", "colour", "fields"}
    r = api.post("/clients", json={"fields": {}})
    assert "name" in assert_problem(r, 422)["errors"]


def test_validation_messages_follow_the_token_users_language(team_a, api_for):
    with tenant_context(team_a.id):
        db.session.get(User, team_a.member.id).language = "en"
        db.session.commit()
    r = api_for(team_a.member).post("/clients", json={"name": "华光", "fields": {"founded_on": "2024年6月"}})
    body = assert_problem(r, 422)
    assert "2024-06-30" in body["errors"]["founded_on"]  # the value library's English message
    assert "business_phone" in body["errors"]  # required fields are named too


def test_rate_limit_is_per_token_and_answers_429_with_retry_after(app, team_a, api_for):
    app.config["API_LIMIT"] = "3 per minute"
    try:
        first, second = api_for(team_a.owner), api_for(team_a.member)
        for _ in range(3):
            assert first.get("/clients").status_code == 200
        r = first.get("/clients")
        assert_problem(r, 429)
        assert int(r.headers["Retry-After"]) >= 1
        assert second.get("/clients").status_code == 200  # another token has its own budget
    finally:
        app.config["API_LIMIT"] = "600 per minute"


def test_errors_never_leak_as_500_for_bad_input(team_a, api_for):
    api = api_for(team_a.owner)
    client = new_client(api)
    cases = [
        ("GET", "/clients?limit=abc", None), ("GET", "/clients?limit=-1", None), ("GET", "/clients?limit=²", None),
        ("GET", "/clients?cursor=%%%", None), ("GET", "/clients?cursor=WzEsMl0", None),
        ("GET", "/clients?owner=²", None), ("GET", "/clients?owner=99999999999999", None),
        ("GET", "/clients?archived=maybe", None), ("GET", "/clients?sort=-nonsense", None),
        ("GET", "/clients?q=%00", None), ("GET", f"/clients/{client['id']}/history?cursor=abc", None),
        ("PATCH", f"/clients/{client['id']}", {"version": "1"}),
        ("PATCH", f"/clients/{client['id']}", {"version": 99999999999999999999999}),
        ("PATCH", f"/clients/{client['id']}", {"version": client["version"], "owner": 99999999999999}),
        ("PATCH", f"/clients/{client['id']}", {"version": client["version"], "co_owners": [99999999999999]}),
        ("PATCH", f"/clients/{client['id']}", {"version": client["version"], "fields": {"account_manager": 10**30}}),
        ("POST", "/clients", {"name": "x" * 5000, "fields": {"founded_on": 10**30, "staff_total": "1e999"}}),
        ("POST", "/clients", {"name": "\u0000", "stage": "\u0000"}),
    ]
    for method, url, body in cases:
        r = api.open(method, url, json=body)
        assert r.status_code < 500, (method, url, r.get_data(as_text=True))
        assert r.status_code in (200, 400, 404, 409, 422), (method, url, r.status_code)


def test_made_up_tokens_share_the_per_address_budget(app, team_a, api_for):
    from app.extensions import redis_client

    app.config["API_LIMIT"] = "3 per minute"
    try:
        guesser = Api(app.test_client(), None)
        redis = redis_client()
        before = len(redis.keys("*")) if redis else 0
        for n in range(3):
            guesser.token = f"cc_made-up-{n}"
            assert_problem(guesser.get("/clients"), 401)
        guesser.token = "cc_made-up-again"
        r = guesser.get("/clients")
        assert_problem(r, 429)  # a new guess does not bring a new budget
        assert int(r.headers["Retry-After"]) >= 1
        guesser.token = None
        assert_problem(guesser.get("/clients"), 429)  # the same address, with no token at all
        if redis:
            assert len(redis.keys("*")) - before <= 1  # one key for the address, none per guessed token
        # A real token keeps its own budget, from the same address.
        assert api_for(team_a.owner).get("/clients").status_code == 200
    finally:
        app.config["API_LIMIT"] = "600 per minute"
