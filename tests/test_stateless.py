"""The web tier is stateless: two gunicorn processes on the same PostgreSQL, Redis and SECRET_KEY behave as one
site. A session, a rate-limit count and the data all live outside the process that handled the request."""
from __future__ import annotations

import os

import pytest
import requests

from app.extensions import db as _db
from tests import factories
from tests.conftest import csrf_from
from tests.processes import gunicorn, process_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not (os.environ.get("DATABASE_URL", "").startswith("postgresql") and os.environ.get("REDIS_URL")),
                       reason="two web processes share state only through PostgreSQL and Redis"),
]


@pytest.fixture(scope="module")
def two_processes(app, tmp_path_factory):
    """Base URLs of two `gunicorn wsgi:app` processes on the tests' database and Redis, sharing one secret."""
    logs = tmp_path_factory.mktemp("gunicorn")
    env = process_env(DATABASE_URL=os.environ["DATABASE_URL"], REDIS_URL=os.environ["REDIS_URL"],
                      SECRET_KEY="one-secret-for-every-web-process")
    with gunicorn(env, logs / "one.log") as one, gunicorn(env, logs / "two.log") as two:
        yield one, two


def _sign_in_form(session: requests.Session, base_url: str) -> str:
    return csrf_from(session.get(base_url + "/login", timeout=10).text)


def test_a_session_signed_in_on_one_process_is_honoured_by_the_other(two_processes, tenant_a):
    one, two = two_processes
    browser = requests.Session()
    r = browser.post(one + "/login", data={"csrf_token": _sign_in_form(browser, one), "email": "owner@a.example",
                                           "password": factories.PASSWORD}, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].endswith("/home")

    other_tab = requests.Session()
    other_tab.cookies.update(browser.cookies)
    r = other_tab.get(two + "/home", allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "甲公司" in r.text
    # The cookie, not the address, is what signs the user in: without it the second process asks to sign in.
    assert requests.get(two + "/home", allow_redirects=False, timeout=10).status_code == 302


def test_login_attempts_spent_on_one_process_count_on_the_other(two_processes, tenant_a):
    one, two = two_processes
    guesser = requests.Session()
    csrf = _sign_in_form(guesser, one)
    wrong = {"csrf_token": csrf, "email": "owner@a.example", "password": "not-the-password"}
    answers = [guesser.post(one + "/login", data=wrong, timeout=10).status_code for _ in range(5)]
    assert answers == [422] * 5  # the per-account limit is 5 per 5 minutes
    assert guesser.post(two + "/login", data=wrong, timeout=10).status_code == 429
    # Only that account is locked: another one still signs in through the second process.
    factories.user(tenant_a, "sales@a.example")
    r = guesser.post(two + "/login", data={**wrong, "email": "sales@a.example", "password": factories.PASSWORD},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302


def test_a_client_created_through_one_process_is_seen_through_the_other(two_processes, tenant_a):
    from sqlalchemy import inspect

    from app.accounts.models import User
    from app.accounts.services import create_api_token

    one, two = two_processes
    with factories.tenant_context(tenant_a.id):
        token = create_api_token(_db.session.get(User, inspect(tenant_a.owner).identity[0]), "script")
        _db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    r = requests.post(one + "/api/v1/clients", headers=headers, timeout=10,
                      json={"name": "远航物流有限公司", "fields": {"business_phone": "021-5588 1234", "industry": "服装"}})
    assert r.status_code == 201, r.text

    r = requests.get(two + "/api/v1/clients", params={"q": "远航"}, headers=headers, timeout=10)
    assert [c["name"] for c in r.json()["items"]] == ["远航物流有限公司"]
    browser = requests.Session()
    browser.post(two + "/login", data={"csrf_token": _sign_in_form(browser, two), "email": "owner@a.example",
                                       "password": factories.PASSWORD}, timeout=10)
    assert "远航物流有限公司" in browser.get(one + "/clients/", timeout=10).text
