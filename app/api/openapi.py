"""The OpenAPI 3.1 document of API v1, served at /api/v1/openapi.json and checked by schemathesis."""
from __future__ import annotations

import sys
from copy import deepcopy

from flask import request

from app.values import FIELD_TYPES

PROBLEM = "application/problem+json"

# Modules of other areas add their paths and schemas here: register_paths(fn), fn(this module) -> (paths, schemas).
PATH_PROVIDERS: list = []


def register_paths(provider) -> None:
    if provider not in PATH_PROVIDERS:
        PATH_PROVIDERS.append(provider)


def value_schema_name(field_type: str) -> str:
    """The component name of a field type's value schema, e.g. MoneyValue."""
    return f"{field_type.capitalize()}Value"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str, schema: str = "Problem", headers: dict | None = None) -> dict:
    out = {"description": description, "content": {PROBLEM: {"schema": _ref(schema)}}}
    if headers:
        out["headers"] = headers
    return out


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                               "schema": {"type": "string"}}}

ERRORS = {
    "400": lambda: _problem("The body is not valid JSON or is nested too deeply, or a text in the body or the query "
                            "string holds a control character such as NUL."),
    "401": lambda: _problem("The bearer token is missing, unknown, revoked, or its user is deactivated."),
    "403": lambda: _problem("The user's role does not allow this, the plan's limit is reached (type …/problems/plan-limit, "
                            "with upgrade_url), or the company is read-only after an unpaid grace period."),
    "404": lambda: _problem("Not found, or it belongs to another tenant."),
    "409": lambda: _problem("Conflict."),
    "413": lambda: _problem("The request body is larger than 1 MB."),
    "415": lambda: _problem("The body is not JSON (send Content-Type: application/json)."),
    "422": lambda: _problem("Invalid input; `errors` maps each field key to a message.", "ValidationProblem"),
    "429": lambda: _problem("Too many requests for this token; see Retry-After.", headers=RETRY_AFTER),
}


def _errors(*codes: str) -> dict:
    # Every authenticated call can be refused (401), rate limited (429), sent too large a body (413) or a
    # query string with control characters (400).
    wanted = dict.fromkeys(("400", "401", "413", "429") + codes)
    return {code: ERRORS[code]() for code in wanted}


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


CLIENT_ID = {"name": "client_id", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": 2147483647}, "example": 1}
FIELD_KEY = {"name": "key", "in": "path", "required": True, "example": "address",
             "schema": {"type": "string", "minLength": 1, "maxLength": 40}}
PAGE = [
    {"name": "limit", "in": "query", "required": False, "description": "Page size, default 50; larger values are "
     "clamped to 200.", "schema": {"type": "integer", "minimum": 1, "default": 50}},
    {"name": "cursor", "in": "query", "required": False, "description": "Opaque cursor from `next_cursor`.",
     "schema": {"type": "string"}},
]


def _list_of(item: str) -> dict:
    return {"type": "object", "required": ["items", "next_cursor", "total"], "properties": {
        "items": {"type": "array", "items": _ref(item)},
        "next_cursor": {"type": ["string", "null"]},
        "total": {"type": "integer", "minimum": 0},
        "total_exact": {"type": "boolean", "description": "false when `total` is a floor: the client list counts "
                                                          "at most 1,000 matches and answers 1001 beyond that"}}}


FIELD_ATTRIBUTES = {
    "label": {"type": "string"}, "label_en": {"type": "string"}, "type": {"type": "string", "enum": list(FIELD_TYPES)},
    "help": {"type": "string"}, "help_en": {"type": "string"},
    "hints": {"type": "array", "items": {"type": "string"}, "description": "Questions to ask."},
    "options": {"type": "array", "items": {"type": "string"}, "description": "Options of select types."},
    "columns": {"type": "array", "items": {"$ref": "#/components/schemas/ColumnInput"},
                "description": "Columns of a table field."},
    "required": {"type": "boolean"}, "sensitive": {"type": "boolean"}, "in_brief": {"type": "boolean"},
    "identifier": {"type": "boolean"}, "yearly_reminder": {"type": "boolean"},
    "core": {"type": "boolean", "description": "Counted by the card's completeness (default: the new-client form "
                                               "and required fields)."},
}

SCHEMAS = {
    "Problem": {
        "type": "object", "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                       "detail": {"type": "string"}},
    },
    "ValidationProblem": {
        "allOf": [_ref("Problem"), {"type": "object", "required": ["errors"], "properties": {
            "errors": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Field key (or name, stage, owner, tags, version …) to a message in the "
                                      "token user's language."}}}],
    },
    "DuplicateProblem": {
        "allOf": [_ref("Problem"), {"type": "object", "required": ["duplicates"], "properties": {
            "duplicates": {"type": "array", "items": _ref("Duplicate")}}}],
    },
    "BatchDuplicateProblem": {
        "allOf": [_ref("Problem"), {"type": "object", "required": ["duplicates"], "properties": {
            "duplicates": {"type": "object", "additionalProperties": {"type": "array", "items": _ref("Duplicate")},
                           "description": "Item index to its likely duplicates."}}}],
    },
    "ConflictProblem": {
        "allOf": [_ref("Problem"), {"type": "object", "properties": {
            "client": _ref("Client"),
            "changes": {"type": "array", "items": _ref("HistoryItem"),
                        "description": "What changed since the version you sent."}}}],
    },
    "Duplicate": {
        "type": "object", "required": ["id", "number", "name", "matched_on"],
        "description": "A likely duplicate. When the user may not see that client (撞单 check), id, number and "
                       "name are null: it says only that the client exists and who owns it.",
        "properties": {"id": {"type": ["integer", "null"]}, "number": {"type": ["string", "null"]},
                       "name": {"type": ["string", "null"]},
                       "matched_on": {"type": "array", "items": {"type": "string"},
                                      "description": "name, phone, email or the key of an identifier field."},
                       "owner": {"type": "string"}, "visible": {"type": "boolean"}},
    },
    "UserRef": {
        "type": "object", "required": ["id", "name", "email"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"}},
    },
    "UserShort": {
        "type": "object", "required": ["id", "email"],
        "properties": {"id": {"type": "integer"}, "email": {"type": "string"}},
    },
    # What the API returns: a value of one of the field types (their schemas come from the registry).
    "FieldValue": {
        "description": "A stored value; its shape depends on the field's type (see the *Value schemas).",
        "anyOf": [_ref(value_schema_name(name)) for name in FIELD_TYPES],
    },
    # What the API accepts is wider: the value library also reads Chinese formats, so input is not constrained here.
    "FieldInput": {
        "description": "A value as FieldValue, or text the field's type reads: number, money \"50万\", "
                       "\"￥500,000\"; date 2024年6月30日, 2024/6/30; boolean 是/否; multiselect \"A、B\"; "
                       "person a user id or a unique name. null clears the value.",
    },
    **{value_schema_name(name): {**ft.schema, "examples": [ft.example]} for name, ft in FIELD_TYPES.items()},
    "Client": {
        "type": "object",
        "required": ["id", "number", "name", "stage", "grade", "grade_source", "owner", "co_owners", "tags",
                     "fields", "completeness", "version", "archived", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"}, "name": {"type": "string"},
            "stage": {"type": "string"}, "grade": {"type": ["string", "null"]},
            "grade_source": {"enum": ["rule", "manual", None]},
            "owner": _nullable(_ref("UserRef")),
            "co_owners": {"type": "array", "items": _ref("UserRef")},
            "tags": {"type": "array", "items": {"type": "string"}},
            "fields": {"type": "object", "additionalProperties": _ref("FieldValue"),
                       "description": "Field key to value. Sensitive fields appear only for users allowed to see "
                                      "them (admins, the client's owner and co-owners), and never in lists."},
            "completeness": {"type": "number", "minimum": 0, "maximum": 1},
            "version": {"type": "integer"}, "archived": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "ClientList": _list_of("Client"),
    "ClientCreate": {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string"}, "stage": {"type": "string"},
            "owner": {"type": "integer", "description": "User id; default: the token's user."},
            "co_owners": {"type": "array", "items": {"type": "integer"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "fields": {"type": "object", "additionalProperties": _ref("FieldInput")},
            "allow_duplicate": {"type": "boolean", "default": False},
        },
    },
    "ClientBatch": {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "minItems": 1, "maxItems": 500, "items": {
                "type": "object", "required": ["name"], "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"}, "stage": {"type": "string"}, "owner": {"type": "integer"},
                    "co_owners": {"type": "array", "items": {"type": "integer"}},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "fields": {"type": "object", "additionalProperties": _ref("FieldInput")}}}},
            "allow_duplicate": {"type": "boolean", "default": False},
        },
    },
    "ClientPatch": {
        "type": "object", "required": ["version"], "additionalProperties": False,
        "properties": {
            "version": {"type": "integer", "description": "The version you loaded; 409 when stale."},
            "name": {"type": "string"}, "stage": {"type": "string"}, "owner": {"type": "integer"},
            "co_owners": {"type": "array", "items": {"type": "integer"}},
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            "fields": {"type": "object", "additionalProperties": _ref("FieldInput"),
                       "description": "Merged key by key: null clears a value, keys left out are untouched."},
            "grade_override": _ref("GradeOverride"),
            "churn_reason": {"type": "string", "description": "Required with a move to the churn stage (流失): one "
                             "of the company's churn reasons; kept as the note of the change."},
        },
    },
    "HistoryItem": {
        "type": "object", "required": ["at", "actor", "action", "changes"],
        "properties": {
            "at": {"type": "string", "format": "date-time"}, "actor": _nullable(_ref("UserShort")),
            "action": {"type": "string"}, "version": {"type": "integer"}, "note": {"type": "string"},
            "changes": {"type": "object", "description": "Field key, or @name/@stage/@owner/@co_owners/@tags/"
                        "@grade/@archived, to its before and after.",
                        "additionalProperties": {"type": "object", "required": ["from", "to"],
                                                 "properties": {"from": {}, "to": {}}}},
        },
    },
    "HistoryList": _list_of("HistoryItem"),
    "ViewItem": {
        "type": "object", "required": ["at", "user", "reason"],
        "properties": {"at": {"type": "string", "format": "date-time"}, "user": _nullable(_ref("UserShort")),
                       "kind": {"type": "string"}, "reason": {"type": "string"}},
    },
    "ViewList": _list_of("ViewItem"),
    "Column": {
        "type": "object", "required": ["key", "label", "type", "options"],
        "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "type": {"type": "string"},
                       "options": {"type": "array", "items": {"type": "string"}}},
    },
    "Field": {
        "type": "object",
        "required": ["key", "label", "type", "required", "sensitive", "in_brief", "identifier", "options",
                     "columns", "archived"],
        "properties": {
            "key": {"type": "string"}, "label": {"type": "string"}, "type": {"enum": list(FIELD_TYPES)},
            "required": {"type": "boolean"}, "sensitive": {"type": "boolean"}, "in_brief": {"type": "boolean"},
            "identifier": {"type": "boolean"}, "yearly_reminder": {"type": "boolean"}, "core": {"type": "boolean"},
            "options": {"type": "array", "items": {"type": "string"}},
            "columns": {"type": "array", "items": _ref("Column")}, "archived": {"type": "boolean"},
            "section": {"type": ["string", "null"]}, "help": {"type": "string"},
        },
    },
    "Section": {
        "type": "object", "required": ["key", "label", "in_brief", "fields"],
        "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "in_brief": {"type": "boolean"},
                       "archived": {"type": "boolean"}, "fields": {"type": "array", "items": _ref("Field")}},
    },
    "Template": {
        "type": "object", "required": ["version", "sections"],
        "properties": {"version": {"type": "integer"}, "sections": {"type": "array", "items": _ref("Section")}},
    },
    "ColumnInput": {
        "type": "object", "additionalProperties": False,
        "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "label_en": {"type": "string"},
                       "type": {"type": "string"}, "options": {"type": "array", "items": {"type": "string"}},
                       "options_en": {"type": "array", "items": {"type": "string"}}},
    },
    "FieldCreate": {
        "type": "object", "required": ["section", "label", "type"], "additionalProperties": False,
        "properties": {
            "section": {"type": "string", "description": "The key of the section to add the field to."},
            "key": {"type": "string", "description": "Stable key (a-z, 0-9, _); made from the label when left out."},
            **FIELD_ATTRIBUTES,
        },
    },
    "FieldPatch": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "section": {"type": "string", "description": "Move the field to this section."},
            "key": {"type": "string", "description": "Must equal the path's key: keys never change."},
            **FIELD_ATTRIBUTES,
        },
    },
}


def _op(summary: str, responses: dict, *, params=None, body: str | None = None, tag: str = "clients",
        op_id: str) -> dict:
    out = {"summary": summary, "operationId": op_id, "tags": [tag], "responses": responses}
    if params:
        out["parameters"] = params
    if body:
        out["requestBody"] = _body(body)
    return out


LIST_PARAMS = [
    {"name": "q", "in": "query", "required": False, "description": "Search name, number, phone, email and text "
     "fields (substring).", "schema": {"type": "string"}},
    {"name": "stage", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "grade", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "owner", "in": "query", "required": False, "description": "Owner's user id.",
     "schema": {"type": "integer"}},
    {"name": "tag", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "archived", "in": "query", "required": False, "schema": {"enum": ["false", "true", "all"],
                                                                      "default": "false"}},
    {"name": "sort", "in": "query", "required": False, "description": "name, number, updated, grade or a number/"
     "date field key; prefix - for descending.", "schema": {"type": "string"}},
] + PAGE


def paths() -> dict:
    client_read = _errors("404")
    return {
        "/openapi.json": {"get": {"summary": "This document.", "operationId": "openapi", "tags": ["meta"],
                                  "security": [],
                                  "responses": {"200": _json({"type": "object"}, "The OpenAPI document."),
                                                "429": ERRORS["429"]()}}},
        "/template": {"get": _op("The card template: sections and fields, archived ones included.",
                                 {"200": _json(_ref("Template"), "The template."), **_errors()},
                                 tag="template", op_id="getTemplate")},
        "/template/fields": {"post": _op(
            "Add a field (owners and admins).",
            {"201": _json(_ref("Field"), "The new field."), **_errors("400", "403", "415", "422")},
            body="FieldCreate", tag="template", op_id="createField")},
        "/template/fields/{key}": {
            "parameters": [FIELD_KEY],
            "patch": _op("Change a field (owners and admins).",
                         {"200": _json(_ref("Field"), "The field."),
                          **_errors("400", "403", "404", "415", "422")},
                         body="FieldPatch", tag="template", op_id="updateField"),
            "delete": _op("Archive a field: hidden, values kept (owners and admins).",
                          {"204": {"description": "Archived."}, **_errors("403", "404", "422")},
                          tag="template", op_id="archiveField"),
        },
        "/template/fields/{key}/restore": {
            "parameters": [FIELD_KEY],
            "post": _op("Restore an archived field and its values (owners and admins).",
                        {"200": _json(_ref("Field"), "The field."), **_errors("403", "404", "422")},
                        tag="template", op_id="restoreField"),
        },
        "/clients": {
            "get": _op("List clients the user may see.",
                       {"200": _json(_ref("ClientList"), "A page of clients."), **_errors("422")},
                       params=LIST_PARAMS, op_id="listClients"),
            "post": _op("Create a client card.",
                        {"201": _json(_ref("Client"), "The new client."),
                         "409": _problem("A likely duplicate exists; send allow_duplicate: true to create anyway.",
                                         "DuplicateProblem"),
                         **_errors("400", "403", "415", "422")},
                        body="ClientCreate", op_id="createClient"),
        },
        "/clients/batch": {
            "post": _op("Create up to 500 clients at once, all or nothing: nothing is written when any item fails "
                        "(errors are keyed items.<index>.<field>). Sensitive values are not answered.",
                        {"201": _json({"type": "object", "required": ["items"], "properties": {
                            "items": {"type": "array", "items": _ref("Client")}}}, "The new clients, in order."),
                         "409": _problem("Some items look like existing clients or like earlier items of the batch; "
                                         "send allow_duplicate: true to create them anyway.", "BatchDuplicateProblem"),
                         **_errors("400", "403", "415", "422")},
                        body="ClientBatch", op_id="createClients"),
        },
        "/clients/{client_id}": {
            "parameters": [CLIENT_ID],
            "get": _op("A client card (logged in the card's view log).",
                       {"200": _json(_ref("Client"), "The client; archived ones too."), **client_read},
                       params=[{"name": "reason", "in": "query", "required": False,
                                "description": "Why sensitive fields are read; kept in the view log.",
                                "schema": {"type": "string"}}], op_id="getClient"),
            "patch": _op("Change a client: fields merged key by key (null clears).",
                         {"200": _json(_ref("Client"), "The changed client."),
                          "409": _problem("The version is stale: `client` is the current card.", "ConflictProblem"),
                          **_errors("400", "403", "404", "415", "422")},
                         body="ClientPatch", op_id="updateClient"),
            "delete": _op("Archive a client.", {"204": {"description": "Archived."},
                                                **_errors("403", "404", "409")}, op_id="archiveClient"),
        },
        "/clients/{client_id}/restore": {
            "parameters": [CLIENT_ID],
            "post": _op("Restore an archived client.", {"200": _json(_ref("Client"), "The client."),
                                                        **_errors("403", "404", "409")}, op_id="restoreClient"),
        },
        "/clients/{client_id}/history": {
            "parameters": [CLIENT_ID],
            "get": _op("The card's change history, newest first.",
                       {"200": _json(_ref("HistoryList"), "A page of changes."), **_errors("404", "422")},
                       params=PAGE, op_id="clientHistory"),
        },
        "/clients/{client_id}/views": {
            "parameters": [CLIENT_ID],
            "get": _op("The card's view log, newest first (admins).",
                       {"200": _json(_ref("ViewList"), "A page of views."), **_errors("403", "404", "422")},
                       params=PAGE, op_id="clientViews"),
        },
    }


def document() -> dict:
    """The whole OpenAPI document (a fresh copy: callers may change it)."""

    all_paths, schemas = paths(), dict(SCHEMAS)
    for provider in PATH_PROVIDERS:
        more_paths, more_schemas = provider(sys.modules[__name__])
        all_paths.update(more_paths)
        schemas.update(more_schemas)

    return deepcopy({
        "openapi": "3.1.0",
        "info": {"title": "ClientCard API", "version": "1",
                 "description": "Client cards (客户资料卡) over JSON. Authenticate with `Authorization: Bearer "
                                "<token>`; errors are application/problem+json; lists take `limit` and `cursor` "
                                "and answer {items, next_cursor, total}."},
        "servers": [{"url": request.script_root + "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": all_paths,
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "An API token from Account → API tokens (or `flask --app wsgi token create`)."}},
            "schemas": schemas,
        },
    })
