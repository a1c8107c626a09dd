"""Redis is not a single point of failure: with it unreachable (or hung), sign-in, password reset, the API and
/healthz keep working on per-process rate limits, and everything returns to Redis by itself when it is back.

Each test builds its own app pointed at a Redis of its own (a closed port, a socket that never answers, or a
redis-server started here), so these run the same on the SQLite-only and the PostgreSQL+Redis CI legs."""
from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time

import pytest
from sqlalchemy import inspect

from app import create_app
from app.config import TestConfig
from app.extensions import db as _db, limiter
from tests import factories
from tests.conftest import Browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rebind_limiter(app) -> None:
    # The routes are decorated with the one module-level Limiter, which keeps one storage and one
    # "storage is dead" flag for the whole process: give it back to the session app, alive, with no
    # recovery back-off left over from a test that broke its Redis on purpose.
    limiter.init_app(app)
    limiter._storage_dead = False
    limiter._Limiter__check_backend_count = 0
    limiter._Limiter__last_check_backend = 0.0


@pytest.fixture()
def build_app(app, db):
    """build_app(redis_url, **config) -> an app like the session one, on the same database, with that Redis."""
    built = []

    def _build(redis_url, **config):
        # What REDIS_URL in the environment configures: the shared client and the rate-limit storage.
        limiter_storage = {"RATELIMIT_STORAGE_URI": redis_url} if redis_url else {}
        other = create_app(TestConfig, REDIS_URL=redis_url, **limiter_storage, **config)
        other.extensions["mail_outbox"] = []
        built.append(other)
        _rebind_limiter(other)
        return other

    yield _build
    for other in built:
        with other.app_context():
            _db.engine.dispose()
    _rebind_limiter(app)


@pytest.fixture()
def dead_redis_url():
    return f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there: connections are refused


@pytest.fixture()
def hung_redis_url():
    """A Redis that accepts connections and never answers (a frozen server, a black-holed network)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)  # never accept(): the kernel completes the handshake, nobody ever replies
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def _api_token(tenant_bundle):
    from app.accounts.models import User
    from app.accounts.services import create_api_token

    with factories.tenant_context(tenant_bundle.id):
        user = _db.session.get(User, inspect(tenant_bundle.owner).identity[0])
        token = create_api_token(user, "script")
        _db.session.commit()
    return token


def test_sign_in_works_and_is_still_rate_limited_with_redis_down(build_app, dead_redis_url, tenant_a):
    other = build_app(dead_redis_url)
    browser = Browser(other.test_client())
    r = browser.post("/login", data={"email": "owner@a.example", "password": factories.PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/home")
    assert browser.get("/home").status_code == 200

    # The per-account limit (5 per 5 minutes, the sign-in above included) is counted in this process's memory.
    guesser = Browser(other.test_client())
    answers = [guesser.post("/login", data={"email": "owner@a.example", "password": f"wrong-{i}"}).status_code
               for i in range(5)]
    assert answers == [422] * 4 + [429]


def test_password_reset_request_works_with_redis_down(build_app, dead_redis_url, tenant_a):
    other = build_app(dead_redis_url)
    browser = Browser(other.test_client())
    r = browser.post("/password/forgot", data={"email": "owner@a.example"})
    assert r.status_code == 302
    [mail] = other.extensions["mail_outbox"]
    assert mail["To"] == "owner@a.example" and "/password/reset/" in mail.get_content()


def test_api_works_and_is_still_rate_limited_with_redis_down(build_app, dead_redis_url, tenant_a):
    other = build_app(dead_redis_url, API_LIMIT="3 per minute")
    factories.client(tenant_a, name="远航物流有限公司")
    headers = {"Authorization": f"Bearer {_api_token(tenant_a)}"}
    api = other.test_client()
    r = api.get("/api/v1/clients", headers=headers)
    assert r.status_code == 200
    assert [c["name"] for c in r.get_json()["items"]] == ["远航物流有限公司"]
    assert [api.get("/api/v1/clients", headers=headers).status_code for _ in range(3)] == [200, 200, 429]


def test_healthz_is_degraded_but_up_with_redis_down(build_app, dead_redis_url):
    r = build_app(dead_redis_url).test_client().get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "degraded", "database": "ok", "redis": "unreachable"}


def test_healthz_answers_503_when_the_database_is_down(build_app, tmp_path):
    broken = build_app(None, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/no/such/dir/db.sqlite")
    r = broken.test_client().get("/healthz")
    assert r.status_code == 503
    data = r.get_json()
    assert data["status"] == "degraded" and data["database"].startswith("error") and data["redis"] == "not configured"


def test_a_dead_redis_is_logged_once_not_per_request(build_app, dead_redis_url, tenant_a, caplog):
    other = build_app(dead_redis_url)
    headers = {"Authorization": f"Bearer {_api_token(tenant_a)}"}
    caplog.set_level(logging.INFO)
    browser = Browser(other.test_client())
    for _ in range(3):
        browser.post("/login", data={"email": "owner@a.example", "password": "wrong-password-1"})
        browser.post("/password/forgot", data={"email": "nobody@a.example"})
        other.test_client().get("/api/v1/clients", headers=headers)
        other.test_client().get("/healthz")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([r for r in warnings if r.name == "flask-limiter"]) == 1, [r.getMessage() for r in warnings]
    assert len([r for r in warnings if r.name == "clientcard.redis"]) == 1, [r.getMessage() for r in warnings]
    assert not [r for r in warnings if r.name not in ("flask-limiter", "clientcard.redis")]


def test_a_hung_redis_costs_about_a_second_once_not_per_request(build_app, hung_redis_url, tenant_a):
    other = build_app(hung_redis_url)
    browser = Browser(other.test_client())
    started = time.monotonic()
    for _ in range(5):
        assert browser.post("/login", data={"email": "owner@a.example", "password": "wrong-password-1"}
                            ).status_code in (422, 429)
    # Falling back waits one timeout with one retry (2 x 0.5 s); the back-off re-checks add about one more.
    # Without socket timeouts the first request would hang for as long as the server stays silent.
    assert time.monotonic() - started < 4.5


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server binary")
def test_rate_limits_return_to_redis_by_themselves(build_app, tenant_a):
    import redis

    port = _free_port()
    other = build_app(f"redis://127.0.0.1:{port}/0", API_LIMIT="1000 per minute")
    token = _api_token(tenant_a)
    headers = {"Authorization": f"Bearer {token}"}
    api = other.test_client()
    assert api.get("/api/v1/clients", headers=headers).status_code == 200  # counted in memory
    assert api.get("/healthz").get_json()["redis"] == "unreachable"

    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--daemonize", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        store = redis.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                store.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

        from app.accounts.models import hash_token

        def counter_keys():
            return [k for k in store.keys("*") if hash_token(token).encode() in k]

        # The limiter re-checks its storage with a back-off (1 s, 2 s, ...): keep calling until it is back.
        deadline = time.monotonic() + 15
        while not counter_keys():
            assert time.monotonic() < deadline, "the rate limits never went back to Redis"
            assert api.get("/api/v1/clients", headers=headers).status_code == 200
            time.sleep(0.2)
        [key] = counter_keys()
        before = int(store.get(key))
        for _ in range(3):
            assert api.get("/api/v1/clients", headers=headers).status_code == 200
        assert int(store.get(key)) == before + 3  # every call is counted in Redis again, shared by all processes

        assert api.get("/healthz").get_json() == {"status": "ok", "database": "ok", "redis": "ok"}
    finally:
        server.terminate()
        server.wait(timeout=10)
