"""Everything the README calls configuration comes from the environment, API_LIMIT included."""
from __future__ import annotations

import importlib

import pytest


def _config(monkeypatch, **env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    import app.config as mod

    try:
        return importlib.reload(mod).Config
    finally:
        for k in env:
            monkeypatch.delenv(k)
        importlib.reload(mod)


def test_limits_and_sizes_from_the_environment(monkeypatch):
    cfg = _config(monkeypatch, API_LIMIT="5000 per minute", LOGIN_LIMIT_IP="50/minute", API_MAX_BODY="2048",
                  INVITE_DAYS="3", PASSWORD_RESET_SECONDS="600", SIGNUP_LIMIT="3 per hour")
    assert (cfg.API_LIMIT, cfg.LOGIN_LIMIT_IP, cfg.API_MAX_BODY, cfg.INVITE_DAYS, cfg.PASSWORD_RESET_SECONDS,
            cfg.SIGNUP_LIMIT) == ("5000 per minute", "50/minute", 2048, 3, 600, "3 per hour")


@pytest.mark.parametrize("env", [{"API_LIMIT": "lots"}, {"API_MAX_BODY": "-1"}, {"INVITE_DAYS": "a week"}])
def test_malformed_values_stop_the_start(monkeypatch, env):
    with pytest.raises(ValueError, match=next(iter(env))):
        _config(monkeypatch, **env)


def test_api_limit_applies_per_token(app, db, monkeypatch):
    from tests import factories
    from tests.api.conftest import make_token

    t = factories.tenant("限速公司", "rate@a.example")
    monkeypatch.setitem(app.config, "API_LIMIT", "3 per minute")
    c = app.test_client()
    one, two = make_token(t.owner), make_token(t.owner)
    codes = [c.get("/api/v1/template", headers={"Authorization": f"Bearer {one}"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert c.get("/api/v1/template", headers={"Authorization": f"Bearer {two}"}).status_code == 200
