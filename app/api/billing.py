"""GET /api/v1/billing (owners and admins), the read-only guard for API writes, and their OpenAPI entries."""
from __future__ import annotations

from flask import g, request

from app.api import bp
from app.api import openapi
from app.api.auth import api_abort
from app.billing import services as billing
from app.clients.access import check_writable
from app.tenancy import current_tenant


@bp.before_request
def _read_only_guard():
    # Runs after the token signed the request in (app/api/auth.py registered its hook first): a read-only
    # tenant's API writes are refused like its page writes (problem+json 403, type …/problems/read-only).
    if getattr(g, "api_user", None) is not None:
        check_writable(current_tenant(), request.endpoint, request.method)


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


@bp.get("/billing")
def billing_show():
    if not billing.enabled():
        api_abort(404)  # self-hosted: billing is off
    if not g.api_user.is_admin:
        api_abort(403)
    info = billing.summary(current_tenant())
    return {"plan": info["plan"], "seats": info["seats"], "seats_used": info["seats_used"],
            "clients_limit": info["clients_limit"], "status": info["status"], "grace_until": _iso(info["grace_until"]),
            "read_only": info["grace"] == "read_only", "renews_at": _iso(info["renews_at"])}


def _paths() -> dict:
    return {"/billing": {"get": openapi._op(
        "The company's plan, seats and payment state (owners and admins; 404 when billing is off).",
        {"200": openapi._json(openapi._ref("Billing"), "The plan."), **openapi._errors("403", "404")},
        tag="billing", op_id="getBilling")}}


openapi.SCHEMAS["Billing"] = {
    "type": "object", "required": ["plan", "seats", "seats_used", "clients_limit", "status", "grace_until"],
    "properties": {
        "plan": {"enum": ["free", "team"]},
        "seats": {"type": "integer", "description": "Users the plan allows (Team: the seats paid for)."},
        "seats_used": {"type": "integer", "description": "Active users."},
        "clients_limit": {"type": ["integer", "null"], "description": "Client cards the plan allows; null: no limit."},
        "status": {"type": "string", "description": "free, or Stripe's subscription status (active, past_due, "
                                                    "unpaid, canceled …; paid for a year paid at once)."},
        "grace_until": {"type": ["string", "null"], "format": "date-time",
                        "description": "After a failed payment: when the company becomes read-only."},
        "read_only": {"type": "boolean", "description": "Writes are refused (403, type …/problems/read-only) until "
                                                        "the payment is fixed; reads and exports still work."},
        "renews_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
openapi.EXTRA_PATHS.append(_paths)
