"""GET /api/v1/billing: the plan for owners and admins, documented in the OpenAPI document; 404 when billing is
off."""
from __future__ import annotations

import time

from tests import factories
from tests.api.conftest import Api, make_token
from tests.billing.conftest import Events, link_customer, post_event


def test_free_plan(app, billing_on, tenant_a):
    factories.user(tenant_a, "m@a.example")
    body = Api(app.test_client(), make_token(tenant_a.owner)).get("/billing").get_json()
    assert body == {"plan": "free", "seats": 3, "seats_used": 2, "clients_limit": 200, "status": "free",
                    "grace_until": None, "read_only": False, "renews_at": None}


def test_team_plan_in_grace(app, client, billing_on, tenant_a):
    link_customer(tenant_a.id, "cus_api")
    ev = Events(tenant_a.id, "cus_api")
    now = int(time.time())
    post_event(client, ev.checkout_completed(now - 100, seats=7))
    post_event(client, ev.subscription("created", now - 99, seats=7, period_end=now + 86400))
    post_event(client, ev.invoice("payment_failed", now - 50))
    body = Api(app.test_client(), make_token(tenant_a.owner)).get("/billing").get_json()
    assert (body["plan"], body["seats"], body["seats_used"], body["clients_limit"], body["status"]) == \
        ("team", 7, 1, None, "past_due")
    assert body["grace_until"].endswith("Z") and body["read_only"] is False and body["renews_at"]


def test_members_and_viewers_are_refused(app, billing_on, tenant_a):
    for role in ("member", "viewer"):
        r = Api(app.test_client(), make_token(factories.user(tenant_a, f"{role}@a.example", role))).get("/billing")
        assert r.status_code == 403 and r.mimetype == "application/problem+json"


def test_off_without_billing(app, db, tenant_a):
    r = Api(app.test_client(), make_token(tenant_a.owner)).get("/billing")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"


def test_documented(app, db):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/billing"]["get"]
    assert set(op["responses"]) >= {"200", "401", "403", "404"}
    schema = doc["components"]["schemas"]["Billing"]
    assert set(schema["required"]) == {"plan", "seats", "seats_used", "clients_limit", "status", "grace_until"}
