"""Server-side sessions: signing out, a password change or a deactivation ends the session on the server, so a
copied session cookie or remember cookie opens nothing afterwards."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect, select, update

from app.accounts.models import UserSession
from app.tenancy import all_tenants
from tests import factories
from tests.conftest import csrf_from


def _sign_in(app, email="owner@a.example", password=factories.PASSWORD, remember=True, agent=None):
    c = app.test_client()
    if agent:
        c.environ_base["HTTP_USER_AGENT"] = agent
    token = csrf_from(c.get("/login").get_data(as_text=True))
    data = {"csrf_token": token, "email": email, "password": password}
    if remember:
        data["remember"] = "y"
    r = c.post("/login", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return c


def _cookies(c) -> dict:
    return {name: c.get_cookie(name).value for name in ("session", "remember_token") if c.get_cookie(name)}


def _browser_with(app, cookies: dict):
    fresh = app.test_client()
    for name, value in cookies.items():
        fresh.set_cookie(name, value)
    return fresh


def _signed_in(c) -> bool:
    r = c.get("/home")
    assert r.status_code in (200, 302)
    return r.status_code == 200


def _logout(c):
    r = c.post("/logout", data={"csrf_token": csrf_from(c.get("/home").get_data(as_text=True))})
    assert r.status_code == 302


def _sessions(db):
    return db.session.execute(all_tenants(select(UserSession))).scalars().all()


def test_old_session_cookie_opens_nothing_after_logout(app, db, tenant_a):
    c = _sign_in(app, remember=False)
    stolen = _cookies(c)
    assert set(stolen) == {"session"} and _signed_in(_browser_with(app, stolen))
    _logout(c)
    assert not _signed_in(_browser_with(app, stolen))
    assert not _signed_in(c)


def test_remember_cookie_alone_opens_nothing_after_logout(app, db, tenant_a):
    c = _sign_in(app, remember=True)
    remember = {"remember_token": _cookies(c)["remember_token"]}
    assert _signed_in(_browser_with(app, remember))
    _logout(c)
    assert not _signed_in(_browser_with(app, remember))


def test_logout_ends_only_this_browser(app, db, tenant_a):
    laptop = _sign_in(app, agent="Laptop")
    phone = _sign_in(app, agent="Phone")
    assert sorted(s.user_agent for s in _sessions(db)) == ["Laptop", "Phone"]
    _logout(laptop)
    assert [s.user_agent for s in _sessions(db)] == ["Phone"]
    assert _signed_in(phone) and not _signed_in(laptop)


def test_password_change_ends_other_browsers_remember_cookie(app, db, tenant_a, login):
    other = _sign_in(app, remember=True)
    other_cookies = _cookies(other)
    mine = login(tenant_a.owner)
    r = mine.post("/account/password", data={"current": factories.PASSWORD, "password": "a-brand-new-secret",
                                             "confirm": "a-brand-new-secret"})
    assert r.status_code == 302
    assert mine.get("/home").status_code == 200
    assert not _signed_in(_browser_with(app, {"remember_token": other_cookies["remember_token"]}))
    assert not _signed_in(_browser_with(app, other_cookies))
    assert len(_sessions(db)) == 1  # only the browser that changed the password


def test_password_reset_ends_every_session(app, client, db, tenant_a):
    import re

    c = _sign_in(app, remember=True)
    saved = _cookies(c)
    token = csrf_from(client.get("/password/forgot").get_data(as_text=True))
    client.post("/password/forgot", data={"csrf_token": token, "email": "owner@a.example"})
    link = re.search(r"(/password/reset/\S+)", app.extensions["mail_outbox"][-1].get_content()).group(1)
    token = csrf_from(client.get(link).get_data(as_text=True))
    r = client.post(link, data={"csrf_token": token, "password": "reset-secret-2026", "confirm": "reset-secret-2026"})
    assert r.status_code == 302
    assert not _signed_in(_browser_with(app, saved))
    assert _sessions(db) == []


def test_deactivation_ends_sessions_and_remember_cookies(app, db, tenant_a, login):
    member_id = inspect(factories.user(tenant_a, "leaver@a.example")).identity[0]
    c = _sign_in(app, email="leaver@a.example", remember=True)
    saved = _cookies(c)
    admin = login(tenant_a.owner)
    r = admin.post(f"/team/{member_id}/deactivate")
    assert r.status_code in (200, 302, 303), r.status_code
    assert not _signed_in(_browser_with(app, saved))
    assert not _signed_in(_browser_with(app, {"remember_token": saved["remember_token"]}))
    assert all(s.user_id != member_id for s in _sessions(db))


def test_last_seen_is_written_at_most_every_few_minutes(app, db, tenant_a):
    c = _sign_in(app, remember=False)
    first = _sessions(db)[0].last_seen_at
    for _ in range(3):
        assert _signed_in(c)
    db.session.expire_all()
    assert _sessions(db)[0].last_seen_at == first
    with db.engine.begin() as conn:  # ten minutes pass
        conn.execute(update(UserSession.__table__).values(last_seen_at=first - timedelta(minutes=10)))
    assert _signed_in(c)
    db.session.expire_all()
    assert _sessions(db)[0].last_seen_at > first - timedelta(minutes=1)


def test_session_unused_longer_than_the_remember_cookie_ends(app, db, tenant_a):
    c = _sign_in(app, remember=True)
    seen = _sessions(db)[0].last_seen_at
    with db.engine.begin() as conn:
        conn.execute(update(UserSession.__table__).values(last_seen_at=seen - timedelta(days=400)))
    assert not _signed_in(c)


def test_session_rows_are_tenant_scoped(app, db, two_tenants, as_tenant):
    a, b = two_tenants
    _sign_in(app, email="owner@a.example")
    with as_tenant(b):
        assert db.session.execute(select(UserSession)).scalars().all() == []
    with as_tenant(a):
        assert len(db.session.execute(select(UserSession)).scalars().all()) == 1
