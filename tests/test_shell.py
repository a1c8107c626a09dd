"""The shell around every page: CSRF, security headers, health check, error pages, language switch."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from app.accounts.models import User
from app.tenancy import all_tenants
from tests import factories
from tests.conftest import csrf_from


def test_post_without_csrf_token_is_refused_in_chinese(client, db, tenant_a):
    r = client.post("/login", data={"email": "owner@a.example", "password": factories.PASSWORD})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "会话已过期或表单被重复提交" in html
    assert client.get("/home").status_code == 302  # not signed in


def test_post_without_csrf_token_in_english(client, db):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/lang/en", data={"csrf_token": token, "next": "/login"})
    r = client.post("/login", data={"email": "x@a.example", "password": "whatever-1234"})
    assert r.status_code == 400
    assert "Your session expired or the form was sent twice" in r.get_data(as_text=True)


def test_htmx_post_with_csrf_header_works(db, tenant_a, login, hx):
    member_id = inspect(factories.user(tenant_a, "m@a.example")).identity[0]
    b = login(tenant_a.owner)
    r = b.post(f"/team/{member_id}/role", data={"role": "viewer"}, headers=hx)
    assert r.status_code == 200
    assert "<html" not in r.get_data(as_text=True)
    # The same htmx request without the header is refused.
    r = b.client.post(f"/team/{member_id}/role", data={"role": "admin"}, headers=hx)
    assert r.status_code == 400


PAGES = ["/login", "/signup", "/password/forgot", "/home", "/team/", "/settings/", "/account", "/no-such-page",
         "/healthz"]


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_every_page(db, tenant_a, login, path):
    b = login(tenant_a.owner)
    for c in (b.client, b.client.application.test_client()):
        r = c.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")


def test_pages_have_no_inline_scripts_or_styles(db, tenant_a, login):
    b = login(tenant_a.owner)
    for path in ("/home", "/team/", "/settings/", "/account"):
        html = b.get(path).get_data(as_text=True)
        assert "<script>" not in html and "<style" not in html
        assert ' style="' not in html and " onclick=" not in html


def test_healthz_reports_database_and_redis(client, db, app):
    r = client.get("/healthz")
    assert r.status_code == 200
    data = r.get_json()
    assert data["database"] == "ok"
    assert data["status"] == "ok"
    expected = "ok" if app.config.get("REDIS_URL") else "not configured"
    assert data["redis"] == expected


@pytest.mark.parametrize("lang, text", [("zh_CN", "未找到"), ("en", "Not found")])
def test_404_page_translated(client, db, lang, text):
    if lang == "en":
        client.post("/lang/en", data={"csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})
    r = client.get("/definitely/not/here")
    assert r.status_code == 404
    assert text in r.get_data(as_text=True)


@pytest.mark.parametrize("lang, text", [("zh_CN", "无权操作"), ("en", "Not allowed")])
def test_403_page_translated(db, tenant_a, login, lang, text):
    viewer = factories.user(tenant_a, "v@a.example", role="viewer")
    b = login(viewer)
    if lang == "en":
        b.post("/lang/en")
    r = b.get("/settings/")
    assert r.status_code == 403
    assert text in r.get_data(as_text=True)


@pytest.mark.parametrize("lang, text", [("zh_CN", "此重置链接无效或已被使用"), ("en", "This reset link is not valid")])
def test_410_page_translated(client, db, lang, text):
    if lang == "en":
        client.post("/lang/en", data={"csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})
    r = client.get("/password/reset/not-a-real-token")
    assert r.status_code == 410
    assert text in r.get_data(as_text=True)


def test_language_before_login_is_kept_by_the_browser(client, db):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/lang/en", data={"csrf_token": token, "next": "/login"})
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    html = client.get("/signup").get_data(as_text=True)
    assert 'lang="en"' in html and "Start your company account" in html
    other = client.application.test_client()
    assert 'lang="zh-CN"' in other.get("/login").get_data(as_text=True)


def test_language_is_saved_for_the_user(app, db, tenant_a, login):
    b = login(tenant_a.owner)
    assert "首页" in b.get("/home").get_data(as_text=True)
    r = b.post("/lang/en", data={"next": "/home"})
    assert r.status_code == 302
    assert 'lang="en"' in b.get("/home").get_data(as_text=True)
    owner = db.session.execute(all_tenants(select(User).where(User.email == "owner@a.example"))).scalar_one()
    assert owner.language == "en"
    # A new browser shows English as soon as this user signs in.
    again = login(owner)
    assert 'lang="en"' in again.get("/home").get_data(as_text=True)


def test_language_switch_rejects_foreign_redirects(client, db):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/lang/en", data={"csrf_token": token, "next": "https://evil.example/x"})
    assert r.status_code == 302
    assert not r.headers["Location"].startswith("https://evil")


def test_ids_beyond_the_database_integer_range_are_plain_404s(login, tenant_a):
    # On PostgreSQL such a number would overflow the integer column; it must never become a 500.
    b = login(tenant_a.owner)
    for url in ("/clients/99999999999", "/clients/99999999999/history", "/clients/?owner=99999999999",
                "/clients/view-log?user=99999999999", "/api/v1/clients/99999999999"):
        r = b.get(url)
        assert r.status_code in (200, 401, 404), (url, r.status_code)
        assert r.status_code != 500
    assert b.get("/clients/99999999999").status_code == 404
