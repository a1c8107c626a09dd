"""Bad input never answers 500: control characters (a NUL byte breaks PostgreSQL), deeply nested JSON and
oversized bodies are refused with a clear message, in pages and in the API alike."""
from __future__ import annotations

import http.client
import io
import json
import threading

import pytest
from werkzeug.serving import make_server

from app.extensions import db
from app.tenancy import tenant_context
from tests import factories
from tests.api.conftest import Api, make_token, new_client
from tests.conftest import csrf_from

NUL = "\x00"
MESSAGE = "invisible control characters"
PROBLEM = "application/problem+json"


def _english(browser):
    r = browser.post("/lang/en", data={"next": "/home"})
    assert r.status_code == 302


def _refused(r, status=400, text=MESSAGE):
    body = r.get_data(as_text=True)
    assert r.status_code == status, body[:1000]
    assert text in body
    return body


# ---------------------------------------------------------------- pages

@pytest.mark.parametrize("bad", [NUL, "\x01", "\x1b[31m", "\x7f", "\x85"])
def test_login_email_with_a_control_character_is_refused(client, db, tenant_a, bad):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/lang/en", data={"csrf_token": token, "next": "/login"})
    r = client.post("/login", data={"csrf_token": token, "email": f"owner{bad}@a.example",
                                    "password": factories.PASSWORD})
    _refused(r)


def test_login_page_with_nul_in_the_query_string(client, db):
    r = client.get("/login?next=/home%00")
    assert r.status_code == 400


def test_tabs_and_newlines_are_still_fine_in_multi_line_text(db, tenant_a, login):
    b = login(tenant_a.owner)
    r = b.post("/account", data={"name": "王\t经理\r\n", "language": "zh_CN"})
    assert r.status_code == 302


@pytest.mark.parametrize("url, data", [
    ("/account", {"name": f"王{NUL}经理", "language": "en"}),
    ("/account/tokens", {"name": f"财务{NUL}系统"}),
    ("/settings/", {"company": f"甲{NUL}公司", "timezone": "Asia/Shanghai", "number_pattern": "{YYYY}{SEQ:3}",
                    "visibility": "all", "sensitive_reason": "always"}),
])
def test_account_and_settings_forms_refuse_nul(db, tenant_a, login, url, data):
    b = login(tenant_a.owner)
    _english(b)
    _refused(b.post(url, data=data))


def test_signup_company_with_nul_is_refused(client, db):
    token = csrf_from(client.get("/signup").get_data(as_text=True))
    client.post("/lang/en", data={"csrf_token": token, "next": "/signup"})
    r = client.post("/signup", data={"csrf_token": token, "company": f"华光{NUL}科技", "name": "王经理",
                                     "email": "wang@huaguang.example", "password": "hua-guang-2026",
                                     "language": "en", "template": "key_account_company"})
    _refused(r)


def test_saved_view_name_with_nul_is_refused(db, tenant_a, login, hx):
    b = login(tenant_a.owner)
    _english(b)
    _refused(b.post("/clients/views", data={"name": f"我的{NUL}客户", "query": "stage=意向"}))
    _refused(b.post("/clients/views", data={"name": f"我的{NUL}客户", "query": "stage=意向"}, headers=hx))


def test_reveal_reason_with_nul_is_refused(db, tenant_a, login, hx):
    c = factories.client(tenant_a)
    with tenant_context(tenant_a.id):
        client_id = c.id
    b = login(tenant_a.owner)
    _english(b)
    _refused(b.post(f"/clients/{client_id}/sections/legal_rep/reveal", data={"reason": f"回访{NUL}"}, headers=hx))


def test_nul_in_a_list_search_is_refused(db, tenant_a, login):
    b = login(tenant_a.owner)
    assert b.get("/clients/?q=%00").status_code == 400
    assert b.get("/clients/?stage=%E6%84%8F%00").status_code == 400


def test_template_import_of_deeply_nested_json_is_400(db, tenant_a, login, hx):
    b = login(tenant_a.owner)
    _english(b)
    nested = '{"format": "clientcard-template", "sections": ' + "[" * 5000 + "]" * 5000 + "}"
    for body in (nested, '{"a": ' + "[" * 100 + "]" * 100 + "}"):
        r = b.post("/template/import", data={"file": (io.BytesIO(body.encode()), "template.json")}, headers=hx)
        _refused(r, 400, "nested too deeply")


def test_template_import_with_nul_in_a_label_is_400(db, tenant_a, login, hx):
    b = login(tenant_a.owner)
    _english(b)
    export = b.get("/template/export").get_data(as_text=True)
    data = json.loads(export)
    data["sections"][0]["label"] = "基本\u0000信息"
    r = b.post("/template/import", data={"file": (io.BytesIO(json.dumps(data).encode()), "t.json")}, headers=hx)
    _refused(r, 400)


# ---------------------------------------------------------------- API

def _english_api(app, tenant):
    from app.accounts.models import User

    with tenant_context(tenant.id):
        db.session.get(User, tenant.owner.id).language = "en"
        db.session.commit()
    return Api(app.test_client(), make_token(tenant.owner))


def _problem(r, status, text):
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.mimetype == PROBLEM
    assert text in r.get_json()["detail"]


@pytest.mark.parametrize("body", [
    {"name": f"华光{NUL}科技", "fields": {"business_phone": "021-5588 1234", "industry": "服装"}},
    {"name": "华光科技", "fields": {"business_phone": "021-5588 1234", "industry": f"服{NUL}装"}},
    {"name": "华光科技", "tags": [f"重要{NUL}"], "fields": {"business_phone": "021-5588 1234", "industry": "服装"}},
    {f"na{NUL}me": "华光科技"},
    {"name": "华光\ud800科技", "fields": {"business_phone": "021-5588 1234", "industry": "服装"}},
])
def test_api_json_with_control_characters_is_400(app, db, tenant_a, body):
    api = _english_api(app, tenant_a)
    _problem(api.post("/clients", json=body), 400, MESSAGE)


def test_api_query_strings_with_nul_are_400(app, db, tenant_a):
    api = _english_api(app, tenant_a)
    client = new_client(api)
    _problem(api.get("/clients?q=%00"), 400, MESSAGE)
    _problem(api.get(f"/clients/{client['id']}?reason=%E5%9B%9E%E8%AE%BF%00"), 400, MESSAGE)
    assert api.get(f"/clients/{client['id']}?reason=%E5%9B%9E%E8%AE%BF").status_code == 200


@pytest.mark.parametrize("depth", [40, 100_000])
def test_api_deeply_nested_json_is_400(app, db, tenant_a, depth):
    api = _english_api(app, tenant_a)
    body = '{"name": "华光", "fields": {"x": ' + "[" * depth + "]" * depth + "}}"
    r = api.client.post("/api/v1/clients", data=body, headers=api.headers({"Content-Type": "application/json"}))
    _problem(r, 400, "nested too deeply")


def test_api_template_field_with_nested_options_is_400(app, db, tenant_a):
    api = _english_api(app, tenant_a)
    options = json.loads("[" * 50 + "]" * 50)
    r = api.post("/template/fields", json={"section": "basic", "label": "x", "type": "select", "options": options})
    _problem(r, 400, "nested too deeply")


@pytest.fixture()
def live_server(app):
    """The app behind a real HTTP server (werkzeug's), for what the test client cannot send."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _chunked_post(server, token, size):
    def body():
        yield b'{"name": "'
        for _ in range(size // 1024):
            yield b"x" * 1024
        yield b'"}'

    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=60)
    try:
        conn.request("POST", "/api/v1/clients", body=body(), encode_chunked=True,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), json.loads(r.read())
    finally:
        conn.close()


def test_api_chunked_body_over_one_megabyte_is_413(app, db, tenant_a, live_server):
    token = make_token(tenant_a.owner)
    status, mimetype, body = _chunked_post(live_server, token, 1100 * 1024)
    assert (status, mimetype, body["status"]) == (413, PROBLEM, 413)
    # A small chunked body is read as usual (it is only missing required fields).
    status, mimetype, body = _chunked_post(live_server, token, 1024)
    assert (status, mimetype) == (422, PROBLEM) and "business_phone" in body["errors"]


def _b64(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", ['["\\u0000",1]', '["\\ud800",1]', "[" * 100_000 + "]" * 100_000])
def test_a_forged_list_cursor_is_refused_not_a_500(app, db, tenant_a, login, cursor):
    api = Api(app.test_client(), make_token(tenant_a.owner))
    new_client(api)
    b = login(tenant_a.owner)
    for sort in ("name", "number", "updated"):
        assert api.get(f"/clients?sort={sort}&cursor={_b64(cursor)}").status_code == 422
        assert b.get(f"/clients/?sort={sort}&cursor={_b64(cursor)}").status_code == 200  # the first page
