"""Sign-in hardening: redirects after sign-in stay on this site, one throttle per account however its email is
spelled, and the security headers."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from tests import factories
from tests.conftest import csrf_from

EVIL = [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", " //evil.example",
    "//evil.example", "///evil.example", "////evil.example/x", "/\\evil.example", "\\\\evil.example",
    "\\/evil.example", "/\\/evil.example", "https://evil.example/", "http:evil.example", "HTTPS:/evil.example",
    "javascript:alert(1)", "evil.example", "/%2F/evil.example", "/%2f%2fevil.example", "/%5Cevil.example",
    "%2F%2Fevil.example", "/%09/evil.example", "/\u3000/evil.example",
    "/\u200b/evil.example", "/\u2028/evil.example", "/ /evil.example",
    "//evil.example@example.com", "/" + "a" * 3000,
]
LOCAL = ["/team/", "/clients/?q=%E5%8D%8E%E5%85%89", "/clients/42?tab=history#notes", "/settings/"]


def _post_login(client, target):
    url = "/login?next=" + quote(target, safe="")
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, "email": "owner@a.example", "password": factories.PASSWORD})


@pytest.mark.parametrize("target", EVIL)
def test_next_never_leads_to_another_site(client, db, tenant_a, target):
    r = _post_login(client, target)
    assert r.status_code == 302
    assert r.headers["Location"] == "/home"


def test_next_with_a_tab_as_sent_by_a_browser(client, db, tenant_a):
    # The reported case, URL exactly as written: %09 decodes to a tab that browsers drop.
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login?next=/%09/evil.example",
                    data={"csrf_token": token, "email": "owner@a.example", "password": factories.PASSWORD})
    assert r.headers["Location"] == "/home"


@pytest.mark.parametrize("target", ["/\x00/evil.example", "/\x7f/evil.example"])
def test_next_with_control_characters_is_refused_outright(client, db, tenant_a, target):
    assert _post_login(client, target).status_code == 400  # the request-wide check (tests/test_bad_input.py)


@pytest.mark.parametrize("target", LOCAL)
def test_next_to_a_page_of_this_site_is_kept(client, db, tenant_a, target):
    r = _post_login(client, target)
    assert r.headers["Location"] == target


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\\evil.example", "https://evil.example/x"])
def test_language_switch_never_leads_to_another_site(client, db, target):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/lang/en", data={"csrf_token": token, "next": target})
    assert r.status_code == 302
    assert "evil" not in r.headers["Location"]


@pytest.mark.parametrize("spelling", ["ｏｗｎｅｒ＠ａ．ｅｘａｍｐｌｅ", "OWNER@A.EXAMPLE", " owner@a。example ",
                                      "Ｏwner@a.example"])
def test_account_throttle_counts_every_spelling_of_one_email(client, db, tenant_a, spelling):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for i in range(5):
        r = client.post("/login", data={"csrf_token": token, "email": "owner@a.example",
                                        "password": f"wrong-password-{i}"})
        assert r.status_code == 422
    # Another spelling of the same address finds the same account, so it is the same account's budget.
    r = client.post("/login", data={"csrf_token": token, "email": spelling, "password": factories.PASSWORD})
    assert r.status_code == 429


def test_content_security_policy_forbids_base_elements(client, db):
    csp = client.get("/login").headers["Content-Security-Policy"]
    assert "base-uri 'none'" in csp and "base-uri 'self'" not in csp


def test_no_hsts_over_plain_http(client, db, app):
    assert app.config["BASE_URL"].startswith("http://")
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_hsts_when_served_over_https(client, db, app, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://clientcard.example.com")
    for url in ("/login", "/api/v1/openapi.json", "/no-such-page"):
        assert client.get(url).headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
