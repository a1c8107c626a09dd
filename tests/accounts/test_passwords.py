"""Password rules: common passwords and guessable patterns are refused, with one clear message, in every form
that sets a password."""
from __future__ import annotations

import pytest
from flask_babel import force_locale

from app.accounts.passwords import password_problem
from tests.conftest import csrf_from

COMMON = ["iloveyou123", "1q2w3e4r5t", "woaini520520", "woaini1314520", "1314520woaini", "5201314abc", "qweasdzxc123",
          "zhang123456", "Password2024!", "Passw0rd!23", "1qaz2wsx3edc", "a1b2c3d4e5f6", "dragon12345"]
STRONG = ["correct-horse-42", "北京烤鸭配黄瓜条-七月", "tea-kettle-orbit-1987", "Xiao-Ming-bike-2026"]


@pytest.mark.parametrize("password", COMMON)
def test_common_passwords_are_refused(app, password):
    with app.test_request_context(), force_locale("en"):
        problem = password_problem(password, "li@huaguang.example")
        assert problem is not None
        assert "too easy to guess" in str(problem) or "too common" in str(problem)


@pytest.mark.parametrize("password", STRONG)
def test_strong_passphrases_are_accepted(app, password):
    with app.test_request_context():
        assert password_problem(password, "li@huaguang.example") is None


def test_the_email_is_a_hint_too(app):
    with app.test_request_context():
        assert password_problem("huaguang-2026", "li@huaguang.example") is not None
        assert password_problem("huaguang-2026", "li@example.com") is None


def test_signup_refuses_a_common_password_with_a_clear_message(client, db):
    token = csrf_from(client.get("/signup").get_data(as_text=True))
    client.post("/lang/en", data={"csrf_token": token, "next": "/signup"})
    r = client.post("/signup", data={"csrf_token": token, "company": "华光科技", "name": "王经理",
                                     "email": "wang@huaguang.example", "password": "woaini520520",
                                     "language": "en", "template": "key_account_company"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "This password is too easy to guess" in html
    assert client.get("/home").status_code == 302
