"""The README's operator commands, run as an operator runs them: `flask --app wsgi ...` in its own process
from the repository root, configured by DATABASE_URL alone, against a fresh SQLite file built by `db upgrade`.
(In-process CLI tests share the test's app context and tenant scope, and miss what a real shell hits.)"""
from __future__ import annotations

import sqlite3

import pytest
import requests

from app.extensions import db as _db
from tests.processes import flask_cli, gunicorn, process_env


@pytest.fixture(scope="module")
def operator_db(tmp_path_factory):
    """(env, path): a fresh database file built by `flask db upgrade`, and the environment naming it."""
    path = tmp_path_factory.mktemp("operator") / "clientcard.sqlite"
    env = process_env(DATABASE_URL=f"sqlite:///{path}")
    upgrade = flask_cli(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    return env, path


def _rows(path, sql, *params):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def _ok(result) -> list[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout.strip().splitlines()


def _refused(result, message: str) -> None:
    assert result.returncode != 0, result.stdout
    assert message in result.stderr, result.stderr


def test_db_upgrade_builds_every_table_and_is_idempotent(app, operator_db):
    env, path = operator_db
    tables = {name for (name,) in _rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {t.name for t in _db.metadata.sorted_tables} | {"alembic_version"} <= tables
    _ok(flask_cli(env, "db", "upgrade"))  # a second run (every deploy) changes nothing and succeeds


def test_tenant_user_and_token_commands_as_run_in_a_shell(operator_db, tmp_path):
    env, path = operator_db
    tenant_id = int(_ok(flask_cli(env, "tenant", "create", "--company", "华光贸易", "--email", "Boss@HuaGuang.example",
                                  "--password", "hua-guang-2026", "--template", "telesales", "--lang", "en"))[-1])
    assert _rows(path, "SELECT name FROM tenant WHERE id = ?", tenant_id) == [("华光贸易",)]

    for role in ("owner", "admin", "member", "viewer"):
        user_id = int(_ok(flask_cli(env, "user", "add", "--tenant", str(tenant_id), "--email",
                                    f"{role}@huaguang.example", "--password", "north-wind-93", "--role", role))[-1])
        assert _rows(path, "SELECT tenant_id, role FROM user WHERE id = ?", user_id) == [(tenant_id, role)]

    _refused(flask_cli(env, "user", "add", "--tenant", str(tenant_id), "--email", "x@huaguang.example",
                       "--password", "north-wind-93", "--role", "boss"), "Invalid value for '--role'")
    _refused(flask_cli(env, "user", "add", "--tenant", "4242", "--email", "x@huaguang.example",
                       "--password", "north-wind-93"), "no tenant 4242")
    _refused(flask_cli(env, "user", "add", "--tenant", str(tenant_id), "--email", "MEMBER@huaguang.example",
                       "--password", "north-wind-93"), "MEMBER@huaguang.example is already registered")
    assert _rows(path, "SELECT count(*) FROM user WHERE tenant_id = ?", tenant_id) == [(5,)]  # nothing written

    _refused(flask_cli(env, "token", "create", "--email", "nobody@huaguang.example"), "no user")
    lines = _ok(flask_cli(env, "token", "create", "--email", "viewer@huaguang.example", "--name", "财务系统"))
    assert "viewer@huaguang.example" in lines[0]
    token = lines[-1]
    assert token.startswith("cc_")
    assert _rows(path, "SELECT name FROM api_token") == [("财务系统",)]

    # The printed token is what a script then sends to the API of the server on this database.
    with gunicorn(env, tmp_path / "gunicorn.log") as base_url:
        r = requests.get(base_url + "/api/v1/clients", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["items"] == []
        r = requests.get(base_url + "/api/v1/clients", headers={"Authorization": f"Bearer {token}x"}, timeout=10)
        assert r.status_code == 401


def test_seed_demo_is_idempotent_and_seed_bench_runs(operator_db):
    env, path = operator_db
    first = _ok(flask_cli(env, "seed-demo"))
    second = _ok(flask_cli(env, "seed-demo"))
    assert first[0] == "demo tenant loaded" and second[0] == "demo tenant already present"
    for lines in (first, second):
        assert "Login:    demo@clientcard.local" in lines and "Password: demo-pass-2026" in lines
    assert _rows(path, "SELECT count(*) FROM user WHERE email = 'demo@clientcard.local'") == [(1,)]
    [(demo_tenant,)] = _rows(path, "SELECT tenant_id FROM user WHERE email = 'demo@clientcard.local'")
    assert _rows(path, "SELECT count(*) FROM client WHERE tenant_id = ?", demo_tenant)[0][0] >= 30

    lines = _ok(flask_cli(env, "seed-bench", "--tenants", "2", "--clients", "5", "--small-clients", "1"))
    big_tenant = int(lines[-1].removeprefix("big tenant: "))
    assert _rows(path, "SELECT count(*) FROM client WHERE tenant_id = ?", big_tenant) == [(5,)]
