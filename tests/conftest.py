"""Shared fixtures: a real database (SQLite file, or PostgreSQL when DATABASE_URL says so), built by the
migrations once per run and emptied between tests; a test client; sign-in helpers; two tenants."""
from __future__ import annotations

import os
import re
import tempfile

import pytest
from sqlalchemy import text

if not os.environ.get("DATABASE_URL"):
    _tmpdir = tempfile.mkdtemp(prefix="clientcard-test-")
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmpdir}/test.sqlite"

from app import create_app  # noqa: E402
from app.config import TestConfig  # noqa: E402
from app.extensions import db as _db, limiter  # noqa: E402
from app.tenancy import set_current_tenant, tenant_context  # noqa: E402

from tests import factories  # noqa: E402


def _cheap_argon2():
    # Real argon2 hashes, at the lowest cost: hundreds of test users must not take minutes.
    from argon2 import PasswordHasher

    import app.accounts.models as account_models

    account_models._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    account_models._DUMMY_HASH = account_models._hasher.hash("dummy-password-for-timing")


_cheap_argon2()


@pytest.fixture(scope="session")
def app():
    app = create_app(TestConfig)
    with app.app_context():
        from flask_migrate import upgrade

        if _db.engine.dialect.name == "postgresql":
            with _db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    yield app


@pytest.fixture()
def db(app):
    """The database, emptied after the test; no tenant in scope at the start."""
    ctx = app.app_context()
    ctx.push()
    token = set_current_tenant(None)
    limiter.reset()
    app.extensions["mail_outbox"] = []
    try:
        yield _db
    finally:
        _db.session.rollback()
        _db.session.remove()
        _truncate_all()
        try:
            from app.tenancy import reset_current_tenant

            reset_current_tenant(token)
        except ValueError:
            set_current_tenant(None)
        ctx.pop()


def _truncate_all():
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def hx():
    """Headers of an htmx (non-boosted) request."""
    return {"HX-Request": "true"}


def readable_body(r) -> str:
    """A response as text to search for leaks: workbooks are opened and their cells read."""
    if r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        import io

        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(r.get_data()), read_only=True)
        return "\n".join(str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row if v is not None)
    return r.get_data().decode("utf-8", "replace")


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


class Browser:
    """A signed-in test client that sends the CSRF token like the base layout does."""

    def __init__(self, client, user=None):
        self.client = client
        self.user = user
        self._csrf = None

    def csrf(self):
        if self._csrf is None:
            page = self.client.get("/auth-csrf-probe")  # any page renders the token; 404 pages too
            self._csrf = csrf_from(page.get_data(as_text=True))
        return self._csrf

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, headers=None, **kw):
        headers = {"X-CSRFToken": self.csrf(), **(headers or {})}
        return self.client.post(url, data=data or {}, headers=headers, **kw)

    def request(self, method, url, **kw):
        headers = {"X-CSRFToken": self.csrf(), **(kw.pop("headers", None) or {})}
        return self.client.open(url, method=method, headers=headers, **kw)


@pytest.fixture()
def login(app, db):
    """login(user) -> a Browser signed in as that user (its own cookie jar)."""

    def _login(user, password=factories.PASSWORD):
        from sqlalchemy import inspect, select

        from app.accounts.models import User
        from app.tenancy import all_tenants

        # The user may be expired by an earlier commit; reload it without needing a tenant in scope.
        user = _db.session.execute(all_tenants(select(User).where(User.id == inspect(user).identity[0]))).scalar_one()
        c = app.test_client()
        b = Browser(c)
        r = b.post("/login", data={"email": user.email, "password": password})
        assert r.status_code == 302, r.get_data(as_text=True)[:2000]
        b.user = user
        set_current_tenant(None)  # requests leave no scope behind in the test's context
        return b

    return _login


@pytest.fixture()
def tenant_a(db):
    return factories.tenant("甲公司", "owner@a.example")


@pytest.fixture()
def tenant_b(db):
    return factories.tenant("乙公司", "owner@b.example")


@pytest.fixture()
def two_tenants(tenant_a, tenant_b):
    return tenant_a, tenant_b


@pytest.fixture()
def as_tenant():
    """with as_tenant(t): ... runs service calls inside that tenant's scope."""
    return lambda t: tenant_context(t.id)
