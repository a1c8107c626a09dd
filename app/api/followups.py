"""REST API v1 for grading, follow-ups and the due list, in the style of app.api.routes; documented by
`openapi_paths` / `OPENAPI_SCHEMAS`, registered with app.api.openapi."""
from __future__ import annotations

import re
from datetime import date, timedelta

from flask import jsonify, request
from flask_babel import gettext as _

from app.api import bp
from app.api.openapi import register_paths
from app.api.auth import admin_only, api_abort, current_api_user, editor_only, json_body
from app.api.problems import problem
from app.api.routes import _check_shape, _client_or_404, _commit_or_fail, _page_params, _id_page
from app.clients.services import ValidationFailed
from app.extensions import db
from app.followups import services as fs
from app.followups.grading import MAX_FACTORS, rules_of
from app.tenancy import current_tenant


def _invalid(errors: dict):
    return problem(422, None, errors={k: str(v) for k, v in errors.items()})


def rules_json(rules: dict) -> dict:
    return {"mode": rules.get("mode", "amount"), "field": rules["field"], "factors": rules.get("factors") or [],
            "grades": rules["grades"], "cadence_days": rules["cadence_days"],
            "first_visit_days": rules["first_visit_days"]}


@bp.get("/settings/grading")
def grading_show():
    return jsonify(rules_json(rules_of(current_tenant())))


@bp.put("/settings/grading")
@admin_only
def grading_update():
    data = json_body()
    errors = _check_shape(data, {"mode": ((str,), _("Grade by one field or by points.")),
                                 "field": ((str,), _("Enter the key of a number or money field.")),
                                 "factors": ((list,), _("Score between 1 and %(n)d fields.", n=MAX_FACTORS)),
                                 "grades": ((list,), _("Enter the grades as a list.")),
                                 "cadence_days": ((dict,), _("Enter the days between contacts for each grade.")),
                                 "first_visit_days": ((int,), _("Enter a whole number of days."))},
                          required=("grades", "factors" if data.get("mode") == "points" else "field"))
    if errors:
        return _invalid(errors)
    try:
        rules, count = fs.save_rules_and_regrade(current_api_user(), data)
    except ValidationFailed as e:
        db.session.rollback()
        return _invalid(e.errors)
    _commit_or_fail()
    return jsonify({**rules_json(rules), "regraded": count})


def followup_json(f) -> dict:
    return {"id": f.id, "client_id": f.client_id, "date": f.date.isoformat(), "method": f.method,
            "content": f.content, "feedback": f.feedback, "plan": f.plan,
            "next_date": f.next_date.isoformat() if f.next_date else None, "satisfaction": f.satisfaction,
            "author_id": f.author_id, "created_at": f.created_at.isoformat(), "updated_at": f.updated_at.isoformat()}


@bp.get("/clients/<int:client_id>/followups")
def followups_index(client_id):
    client = _client_or_404(client_id)
    limit, position = _page_params()
    rows = fs.followups_of(client, limit=10000)
    rows = sorted(rows, key=lambda f: f.id, reverse=True)
    items, cursor = _id_page(rows, limit, position, followup_json)
    return jsonify({"items": items, "next_cursor": cursor, "total": len(rows)})


@bp.post("/clients/<int:client_id>/followups")
@editor_only
def followups_create(client_id):
    client = _client_or_404(client_id)
    data = json_body()
    text = ((str,), _("Enter text."))
    errors = _check_shape(data, {"date": text, "method": text, "content": text, "feedback": text, "plan": text,
                                 "next_date": text, "satisfaction": ((int,), _("Rate satisfaction from 1 to 5."))},
                          required=("date", "method", "content"))
    if errors:
        return _invalid(errors)
    try:
        followup = fs.add_followup(current_api_user(), client, data)
    except ValidationFailed as e:
        db.session.rollback()
        return _invalid(e.errors)
    payload = followup_json(followup)
    _commit_or_fail()
    response = jsonify(payload)
    response.status_code = 201
    return response


@bp.get("/followups/due")
def followups_due():
    today = fs.local_today()
    raw = (request.args.get("until") or "").strip()
    until = today + timedelta(days=7)
    if raw:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                raise ValueError
            until = date.fromisoformat(raw)
        except ValueError:
            api_abort(422, errors={"until": _("Enter a date such as 2024-06-30.")})
    items = fs.due_list(current_api_user(), until=until, today=today)
    return jsonify({"items": [{"client": {"id": i.client_id, "number": i.number, "name": i.name, "grade": i.grade},
                               "last_contact": i.last_contact.isoformat() if i.last_contact else None,
                               "due_date": i.due_date.isoformat(), "days_overdue": i.days_overdue}
                              for i in items], "total": len(items)})


# ---------------------------------------------------------------- OpenAPI

def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


OPENAPI_SCHEMAS = {
    "GradingRules": {
        "type": "object", "required": ["mode", "field", "factors", "grades", "cadence_days", "first_visit_days"],
        "properties": {
            "mode": {"type": "string", "enum": ["amount", "points"],
                     "description": "amount: grades are lower bounds of `field`; points: of the weighted score."},
            "field": {"type": "string", "description": "Key of the number or money field that grades clients."},
            "factors": {"type": "array", "items": _ref("GradingFactor")},
            "grades": {"type": "array", "items": {
                "type": "object", "required": ["name", "min"],
                "properties": {"name": {"type": "string"}, "min": {"type": ["number", "null"]}}}},
            "cadence_days": {"type": "object", "additionalProperties": {"type": "integer"}},
            "first_visit_days": {"type": "integer"},
            "regraded": {"type": "integer", "description": "PUT only: how many clients changed grade."},
        },
    },
    "GradingFactor": {
        "type": "object", "required": ["field"],
        "properties": {
            "field": {"type": "string", "description": "A number, money or choice field (not sensitive)."},
            "weight": {"type": "number", "default": 1},
            "points": {"type": "object", "additionalProperties": {"type": "number"},
                       "description": "Choice fields: the points of each option (options left out score 0)."},
        },
    },
    "GradingRulesInput": {
        "type": "object", "required": ["grades"], "additionalProperties": False,
        "description": "`field` is required in amount mode (the default), `factors` in points mode.",
        "properties": {
            "mode": {"type": "string", "enum": ["amount", "points"]},
            "field": {"type": "string"},
            "factors": {"type": "array", "minItems": 1, "maxItems": 6, "items": _ref("GradingFactor")},
            "grades": {"type": "array", "minItems": 1, "maxItems": 6, "items": {
                "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string", "maxLength": 4}, "min": {"type": ["number", "null"]}}}},
            "cadence_days": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1,
                                                                        "maximum": 3650}},
            "first_visit_days": {"type": "integer", "minimum": 0, "maximum": 365},
        },
    },
    "FollowUp": {
        "type": "object", "required": ["id", "client_id", "date", "method", "content", "feedback", "plan",
                                       "next_date", "satisfaction", "author_id", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"}, "client_id": {"type": "integer"},
            "date": {"type": "string", "format": "date"}, "method": {"type": "string"},
            "content": {"type": "string"}, "feedback": {"type": "string"}, "plan": {"type": "string"},
            "next_date": {"type": ["string", "null"], "format": "date"},
            "satisfaction": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
            "author_id": {"type": ["integer", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "FollowUpInput": {
        "type": "object", "required": ["date", "method", "content"], "additionalProperties": False,
        "properties": {
            "date": {"type": "string", "description": "YYYY-MM-DD; 2024年6月30日 too."},
            "method": {"type": "string", "description": "One of the tenant's methods (电话, 上门拜访, 邮件, 微信, 视频会议)."},
            "content": {"type": "string"}, "feedback": {"type": "string"}, "plan": {"type": "string"},
            "next_date": {"type": ["string", "null"]},
            "satisfaction": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
        },
    },
    "FollowUpList": {
        "type": "object", "required": ["items", "next_cursor", "total"],
        "properties": {"items": {"type": "array", "items": _ref("FollowUp")},
                       "next_cursor": {"type": ["string", "null"]}, "total": {"type": "integer"}},
    },
    "DueList": {
        "type": "object", "required": ["items", "total"],
        "properties": {"total": {"type": "integer"}, "items": {"type": "array", "items": {
            "type": "object", "required": ["client", "last_contact", "due_date", "days_overdue"],
            "properties": {
                "client": {"type": "object", "required": ["id", "number", "name", "grade"],
                           "properties": {"id": {"type": "integer"}, "number": {"type": "string"},
                                          "name": {"type": "string"}, "grade": {"type": ["string", "null"]}}},
                "last_contact": {"type": ["string", "null"], "format": "date"},
                "due_date": {"type": "string", "format": "date"},
                "days_overdue": {"type": "integer", "description": "Negative when not yet due."}}}}},
    },
    "GradeOverride": {
        "oneOf": [{"type": "null"}, {
            "type": "object", "required": ["grade", "reason"], "additionalProperties": False,
            "properties": {"grade": {"type": "string"}, "reason": {"type": "string", "minLength": 1}}}],
        "description": "A grade set by hand with its reason (sticky until cleared), or null to clear it.",
    },
}


def openapi_paths(op, json_, problem_, errors, page, client_id) -> dict:
    """The follow-up paths, built with the document's own helpers."""
    return {
        "/settings/grading": {
            "get": op("The grading rules and contact cadence.", {"200": json_(_ref("GradingRules"), "The rules."),
                                                                  **errors()}, tag="grading", op_id="getGrading"),
            "put": op("Replace the grading rules and re-grade every client in one step (owners and admins).",
                      {"200": json_(_ref("GradingRules"), "The applied rules and `regraded`."),
                       **errors("400", "403", "415", "422")}, body="GradingRulesInput", tag="grading",
                      op_id="putGrading"),
        },
        "/clients/{client_id}/followups": {
            "parameters": [client_id],
            "get": op("The client's follow-ups, newest first.", {"200": json_(_ref("FollowUpList"), "A page."),
                                                                  **errors("404", "422")},
                      params=page, tag="followups", op_id="listFollowUps"),
            "post": op("Log a follow-up.", {"201": json_(_ref("FollowUp"), "The follow-up."),
                                            **errors("400", "403", "404", "415", "422")},
                       body="FollowUpInput", tag="followups", op_id="createFollowUp"),
        },
        "/followups/due": {
            "get": op("The token user's clients due for contact by `until` (default today + 7 days), most overdue "
                      "first.", {"200": json_(_ref("DueList"), "The due clients."), **errors("422")},
                      params=[{"name": "until", "in": "query", "required": False,
                               "schema": {"type": "string", "format": "date"}}], tag="followups",
                      op_id="dueFollowUps"),
        },
    }


register_paths(lambda h: (openapi_paths(h._op, h._json, h._problem, h._errors, h.PAGE, h.CLIENT_ID), OPENAPI_SCHEMAS))
