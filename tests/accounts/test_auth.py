"""Sign-up, sign-in, sign-out, throttling, password change and reset, as a user meets them."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.accounts.models import Tenant, User
from app.tenancy import all_tenants
from tests import factories
from tests.conftest import csrf_from

GOOD = {"company": "华光科技", "name": "王经理", "email": "wang@huaguang.example", "password": "hua-guang-2026",
        "language": "zh_CN", "template": "key_account_company"}


def _counts(db):
    tenants = db.session.execute(select(func.count(Tenant.id))).scalar_one()
    users = db.session.execute(all_tenants(select(func.count(User.id)))).scalar_one()
    return tenants, users


def _form_post(client, url, data):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def _error_next_to(html: str, field_id: str) -> str:
    """The error paragraph rendered beside one field."""
    m = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]+)</p>', html)
    assert m, f"no error next to {field_id}"
    return m.group(1)


# ---------------------------------------------------------------- sign-up

def test_signup_reaches_home_in_chinese(client, db):
    r = _form_post(client, "/signup", GOOD)
    assert r.status_code == 302 and r.headers["Location"].endswith("/home")
    home = client.get("/home")
    html = home.get_data(as_text=True)
    assert home.status_code == 200
    assert 'lang="zh-CN"' in html and "您好，王经理" in html and "欢迎使用客户资料卡" in html
    assert _counts(db) == (1, 1)
    user = db.session.execute(all_tenants(select(User))).scalar_one()
    assert user.role == "owner" and user.email == "wang@huaguang.example"


@pytest.mark.parametrize("changes, field, message", [
    ({"company": ""}, "company", "请输入公司名称。"),
    ({"name": "  "}, "name", "请输入您的姓名。"),
    ({"email": ""}, "email", "请输入邮箱地址。"),
    ({"email": "wang@@huaguang"}, "email", "请输入邮箱地址，例如 name@example.com。"),
    ({"email": "not-an-email"}, "email", "请输入邮箱地址，例如 name@example.com。"),
    ({"password": ""}, "password", "请设置密码。"),
    ({"password": "short1"}, "password", "至少需要 10 个字符。"),
    ({"password": "password123"}, "password", None),
    ({"password": "1234567890"}, "password", None),
])
def test_signup_bad_input_shows_message_and_creates_nothing(client, db, changes, field, message):
    r = _form_post(client, "/signup", {**GOOD, **changes})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    error = _error_next_to(html, field)
    if message:
        assert error == message
    else:
        assert error.strip()
    assert _counts(db) == (0, 0)


def test_signup_with_registered_email_is_refused(client, db, tenant_a):
    before = _counts(db)
    r = _form_post(client, "/signup", {**GOOD, "email": "Owner@A.example"})
    assert r.status_code == 422
    assert _error_next_to(r.get_data(as_text=True), "email") == "此邮箱已注册，请直接登录或重置密码。"
    assert _counts(db) == before


# ---------------------------------------------------------------- sign-in and sign-out

def test_login_and_logout(client, db, tenant_a):
    r = _form_post(client, "/login", {"email": "OWNER@a.example ", "password": factories.PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/home")
    assert client.get("/home").status_code == 200
    token = csrf_from(client.get("/home").get_data(as_text=True))
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    r = client.get("/home")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_wrong_password(client, db, tenant_a):
    r = _form_post(client, "/login", {"email": "owner@a.example", "password": "wrong-password-1"})
    assert r.status_code == 422
    assert _error_next_to(r.get_data(as_text=True), "password") == "邮箱或密码错误。"
    assert client.get("/home").status_code == 302


def test_unknown_email_gets_the_same_answer(client, db):
    r = _form_post(client, "/login", {"email": "nobody@a.example", "password": "wrong-password-1"})
    assert r.status_code == 422
    assert _error_next_to(r.get_data(as_text=True), "password") == "邮箱或密码错误。"


def test_deactivated_user_cannot_sign_in(client, db, tenant_a, as_tenant):
    u = factories.user(tenant_a, "leaver@a.example")
    with as_tenant(tenant_a):
        u.active = False
        db.session.commit()
    r = _form_post(client, "/login", {"email": "leaver@a.example", "password": factories.PASSWORD})
    assert r.status_code == 422
    assert "此账号已停用" in r.get_data(as_text=True)
    assert client.get("/home").status_code == 302


def test_remember_me_sets_a_lasting_cookie(app, db, tenant_a):
    c = app.test_client()
    r = _form_post(c, "/login", {"email": "owner@a.example", "password": factories.PASSWORD, "remember": "y"})
    assert r.status_code == 302
    cookies = " ".join(r.headers.getlist("Set-Cookie"))
    assert "remember_token=" in cookies and "HttpOnly" in cookies
    # The remember cookie alone signs the browser in again.
    remember = c.get_cookie("remember_token")
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember.value)
    assert fresh.get("/home").status_code == 200

    c2 = app.test_client()
    r = _form_post(c2, "/login", {"email": "owner@a.example", "password": factories.PASSWORD})
    assert c2.get_cookie("remember_token") is None


@pytest.mark.parametrize("target, expected", [
    ("/team/", "/team/"),
    ("//evil.example/x", "/home"),
    ("https://evil.example/", "/home"),
    ("/\\evil.example", "/home"),
])
def test_next_redirect_stays_on_this_site(client, db, tenant_a, target, expected):
    from urllib.parse import quote

    url = "/login?next=" + quote(target, safe="")
    token = csrf_from(client.get(url).get_data(as_text=True))
    r = client.post(url, data={"csrf_token": token, "email": "owner@a.example", "password": factories.PASSWORD})
    assert r.status_code == 302
    assert r.headers["Location"] == expected


# ---------------------------------------------------------------- throttling

def test_sixth_wrong_login_for_one_account_is_throttled(client, db, tenant_a):
    for i in range(5):
        r = _form_post(client, "/login", {"email": "owner@a.example", "password": f"wrong-password-{i}"})
        assert r.status_code == 422
    r = _form_post(client, "/login", {"email": "owner@a.example", "password": "wrong-password-6"})
    assert r.status_code == 429
    html = r.get_data(as_text=True)
    assert "尝试次数过多" in html and "<html" in html
    # Even the right password waits now: the account is the thing being guessed.
    r = _form_post(client, "/login", {"email": "owner@a.example", "password": factories.PASSWORD})
    assert r.status_code == 429


def test_login_throttled_per_ip(client, db, app):
    limit = int(app.config["LOGIN_LIMIT_IP"].split()[0])
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for i in range(limit):
        r = client.post("/login", data={"csrf_token": token, "email": f"user{i}@x.example", "password": "nope-nope-1"})
        assert r.status_code == 422
    r = client.post("/login", data={"csrf_token": token, "email": "another@x.example", "password": "nope-nope-1"})
    assert r.status_code == 429


def test_throttle_page_in_english(client, db, tenant_a):
    client.post("/lang/en", data={"csrf_token": csrf_from(client.get("/login").get_data(as_text=True)),
                                  "next": "/login"})
    for i in range(6):
        r = _form_post(client, "/login", {"email": "owner@a.example", "password": f"wrong-password-{i}"})
    assert r.status_code == 429
    assert "Too many attempts" in r.get_data(as_text=True)


# ---------------------------------------------------------------- passwords

def test_change_password_ends_other_sessions(app, db, tenant_a, login):
    mine = login(tenant_a.owner)
    other = login(tenant_a.owner)
    assert other.get("/home").status_code == 200
    r = mine.post("/account/password", data={"current": factories.PASSWORD, "password": "a-brand-new-secret",
                                             "confirm": "a-brand-new-secret"})
    assert r.status_code == 302
    assert mine.get("/home").status_code == 200
    r = other.get("/home")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    fresh = app.test_client()
    r = _form_post(fresh, "/login", {"email": "owner@a.example", "password": "a-brand-new-secret"})
    assert r.status_code == 302


def test_change_password_wrong_current(db, tenant_a, login):
    b = login(tenant_a.owner)
    r = b.post("/account/password", data={"current": "not-my-password", "password": "a-brand-new-secret",
                                          "confirm": "a-brand-new-secret"})
    assert r.status_code == 422
    assert _error_next_to(r.get_data(as_text=True), "current")


def _reset_link(app) -> str:
    outbox = app.extensions["mail_outbox"]
    assert outbox, "no mail was sent"
    body = outbox[-1].get_content()
    return re.search(r"(/password/reset/\S+)", body).group(1)


def test_password_reset_is_single_use(app, client, db, tenant_a):
    r = _form_post(client, "/password/forgot", {"email": "owner@a.example"})
    assert r.status_code == 302
    mail = app.extensions["mail_outbox"][-1]
    assert mail["To"] == "owner@a.example"
    link = _reset_link(app)
    assert client.get(link).status_code == 200
    r = _form_post(client, link, {"password": "reset-secret-2026", "confirm": "reset-secret-2026"})
    assert r.status_code == 302
    r = _form_post(app.test_client(), "/login", {"email": "owner@a.example", "password": "reset-secret-2026"})
    assert r.status_code == 302
    again = client.get(link)
    assert again.status_code == 410
    assert "已失效" in again.get_data(as_text=True) or "无效" in again.get_data(as_text=True)


def test_password_reset_unknown_email_sends_nothing(app, client, db):
    r = _form_post(client, "/password/forgot", {"email": "nobody@a.example"})
    assert r.status_code == 302
    assert app.extensions["mail_outbox"] == []


def test_password_reset_expired_and_invalid(app, client, db, tenant_a):
    _form_post(client, "/password/forgot", {"email": "owner@a.example"})
    link = _reset_link(app)
    old = app.config["PASSWORD_RESET_SECONDS"]
    app.config["PASSWORD_RESET_SECONDS"] = -1
    try:
        r = client.get(link)
    finally:
        app.config["PASSWORD_RESET_SECONDS"] = old
    assert r.status_code == 410
    assert client.get("/password/reset/not-a-real-token").status_code == 410


def test_password_reset_weak_password_keeps_the_old_one(app, client, db, tenant_a):
    _form_post(client, "/password/forgot", {"email": "owner@a.example"})
    link = _reset_link(app)
    r = _form_post(client, link, {"password": "short", "confirm": "short"})
    assert r.status_code == 422
    assert _error_next_to(r.get_data(as_text=True), "password") == "至少需要 10 个字符。"
    r = _form_post(app.test_client(), "/login", {"email": "owner@a.example", "password": factories.PASSWORD})
    assert r.status_code == 302
