"""REST API v1 routes: parse the request, call the service layer, answer JSON (errors as problem+json)."""
from __future__ import annotations

import re

from flask import g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from app.api import bp
from app.api.auth import admin_only, api_abort, editor_only, init_blueprint, json_body
from app.api.problems import problem, problem_for_error
from app.api.serializers import (People, change_json, client_json, decode_cursor, duplicate_json, encode_cursor,
                                 field_json, template_json, view_json)
from app.card_templates import editing
from app.card_templates.cache import cached_template
from app.card_templates.services import fields_by_key, load_template
from app.clients import services as cs
from app.clients.access import NotAllowed, TemplateFields, card_view, get_visible_client
from app.clients.duplicates import DuplicateFound
from app.clients.history import history, record_view
from app.clients.models import ClientView
from app.db_types import MAX_DB_INT as MAX_ID
from app.extensions import db
from app.followups.services import apply_grade_override

init_blueprint(bp)
bp.register_error_handler(HTTPException, problem_for_error)

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


# ---------------------------------------------------------------- helpers

def _user():
    return g.api_user


def _invalid(errors: dict, detail=None):
    return problem(422, detail, errors={k: str(v) for k, v in errors.items()})


def _check_shape(data: dict, spec: dict, required=()) -> dict:
    """Type-check top-level members: spec maps name -> (python types, message); unknown members are errors."""
    errors = {}
    for name in data:
        if name not in spec:
            errors[name] = _("Unknown property.")
    for name in required:
        if data.get(name) is None:
            errors.setdefault(name, _("This is required."))
    for name, (types, message) in spec.items():
        value = data.get(name)
        if value is None or name in errors:
            continue
        if isinstance(value, bool) and bool not in types:
            errors[name] = message
        elif not isinstance(value, types):
            errors[name] = message
    return errors


def _string_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _int_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def _client_or_404(client_id: int):
    if client_id > MAX_ID:
        api_abort(404)
    client = get_visible_client(_user(), client_id)
    if client is None:
        api_abort(404)
    return client


def _client_payload(client, template, people=None, *, log_sensitive: bool = True, reason: str = "API") -> dict:
    """The client object for this user; returning sensitive values is logged in the view log."""
    user = _user()
    view = card_view(user, client, template, reveal=True)
    if log_sensitive and view.shows_sensitive_values():
        record_view(user, client, kind="sensitive", reason=reason)
    return client_json(client, view.values(), people or People())


def _page_params():
    """limit (default 50, clamped to 200) and the decoded cursor; 422 when malformed."""
    errors = {}
    raw = request.args.get("limit")
    limit = DEFAULT_LIMIT
    if raw not in (None, ""):
        try:
            limit = int(raw)
        except ValueError:
            errors["limit"] = _("Enter a whole number.")
        else:
            if limit < 1:
                errors["limit"] = _("Enter a number of at least 1.")
    cursor = request.args.get("cursor") or None
    position = None
    if cursor:
        try:
            position = decode_cursor(cursor)
            if isinstance(position, bool) or not isinstance(position, int) or not 0 < position <= MAX_ID:
                raise ValueError
        except ValueError:
            errors["cursor"] = _("This cursor is not valid; start again from the first page.")
    if errors:
        api_abort(422, errors=errors)
    return min(limit, MAX_LIMIT), position


def _id_page(rows, limit, position, to_json):
    """Page a newest-first list of rows with integer ids: items after the cursor id."""
    if position is not None:
        rows = [r for r in rows if r.id < position]
    page = rows[:limit]
    more = len(rows) > limit
    return [to_json(r) for r in page], encode_cursor(page[-1].id) if more and page else None


def _commit_or_fail():
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


# ---------------------------------------------------------------- OpenAPI

@bp.get("/openapi.json")
def openapi():
    from app.api.openapi import document

    return jsonify(document())


# ---------------------------------------------------------------- template

TEMPLATE_FIELD_SPEC = {
    "section": str, "label": str, "label_en": str, "type": str, "key": str, "help": str, "help_en": str,
    "hints": list, "options": list, "columns": list, "required": bool, "sensitive": bool, "in_brief": bool,
    "identifier": bool, "yearly_reminder": bool, "core": bool,
}
COLUMN_SPEC = {"key": str, "label": str, "label_en": str, "type": str, "options": list, "options_en": list}


def _field_body(required=()) -> dict:
    data = json_body()
    messages = {str: _("Enter text."), list: _("Enter a list."), bool: _("Enter true or false.")}
    spec = {name: ((kind,), messages[kind]) for name, kind in TEMPLATE_FIELD_SPEC.items()}
    errors = _check_shape(data, spec, required)
    for name in ("options", "hints"):
        if isinstance(data.get(name), list) and not _string_list(data[name]):
            errors[name] = _("Enter a list of strings.")
    if isinstance(data.get("columns"), list) and not all(_column_ok(c) for c in data["columns"]):
        errors["columns"] = _("Enter the columns as a list of objects with key, label, type and options.")
    if errors:
        api_abort(422, errors=errors)
    return data


def _column_ok(col) -> bool:
    if not isinstance(col, dict) or not set(col) <= set(COLUMN_SPEC):
        return False
    for name, kind in COLUMN_SPEC.items():
        value = col.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is list and not _string_list(value)):
            return False
    return True


def _field_or_404(key: str):
    fd = fields_by_key(load_template()).get(key)
    if fd is None:
        api_abort(404)
    return fd


def _template_write(call):
    """Run a template editing service call; its errors become 422 (with the cards that block a type change)."""
    try:
        result = call(editing)
    except editing.TemplateError as e:
        db.session.rollback()
        blocking = [{k: str(v) if k == "message" else v for k, v in b.items()} for b in e.blocking]
        extra = {"blocking": blocking} if blocking else {}
        return None, problem(422, errors={k: str(v) for k, v in e.errors.items()}, **extra)
    _commit_or_fail()
    return result, None


@bp.get("/template")
def template_show():
    return jsonify(template_json(cached_template()))


@bp.post("/template/fields")
@admin_only
def template_field_create():
    data = _field_body(required=("section", "label", "type"))
    section = data.pop("section")
    fd, failed = _template_write(lambda editing: editing.add_field(_user(), section, data))
    if failed:
        return failed
    return jsonify(field_json(_field_or_404(fd.key))), 201


@bp.patch("/template/fields/<key>")
@admin_only
def template_field_update(key):
    _field_or_404(key)
    data = _field_body()
    _fd, failed = _template_write(lambda editing: editing.update_field(_user(), key, data))
    if failed:
        return failed
    return jsonify(field_json(_field_or_404(key)))


@bp.delete("/template/fields/<key>")
@admin_only
def template_field_archive(key):
    _field_or_404(key)
    _fd, failed = _template_write(lambda editing: editing.archive_field(_user(), key))
    if failed:
        return failed
    return "", 204


@bp.post("/template/fields/<key>/restore")
@admin_only
def template_field_restore(key):
    _field_or_404(key)
    _fd, failed = _template_write(lambda editing: editing.restore_field(_user(), key))
    if failed:
        return failed
    return jsonify(field_json(_field_or_404(key)))


# ---------------------------------------------------------------- clients

CLIENT_SPEC = {
    "name": ((str,), "Enter the client's name as text."),
    "stage": ((str,), "Enter the stage as text."),
    "owner": ((int,), "Enter the owner as a user id."),
    "co_owners": ((list,), "Enter co-owners as a list of user ids."),
    "tags": ((list,), "Enter tags as a list of strings."),
    "fields": ((dict,), "Enter fields as an object of field key to value."),
    "allow_duplicate": ((bool,), "Enter true or false."),
    "version": ((int,), "Enter the version you loaded, a whole number."),
    "grade_override": ((dict,), "Send {\"grade\": …, \"reason\": …} or null."),
    "churn_reason": ((str,), "Enter text."),
}


def _client_body(*, create: bool) -> dict:
    data = json_body()
    errors = _client_errors(data, create=create)
    if errors:
        api_abort(422, errors=errors)
    return data


def _client_errors(data: dict, *, create: bool) -> dict:
    allowed = {k: (types, _(msg)) for k, (types, msg) in CLIENT_SPEC.items()
               if k not in (("version", "grade_override", "churn_reason") if create else ("allow_duplicate",))}
    errors = _check_shape(data, allowed, required=("name",) if create else ("version",))
    if "tags" in data and data["tags"] is not None and "tags" not in errors and not _string_list(data["tags"]):
        errors["tags"] = _("Enter tags as a list of strings.")
    if data.get("co_owners") is not None and "co_owners" not in errors and not _int_list(data["co_owners"]):
        errors["co_owners"] = _("Enter co-owners as a list of user ids.")
    if not create:
        for name in ("name", "stage", "owner"):
            if name in data and data[name] is None:
                errors[name] = _("This cannot be cleared.")
    if "owner" not in errors and isinstance(data.get("owner"), int) and not 0 < data["owner"] <= MAX_ID:
        errors["owner"] = _("Choose an active colleague as owner.")
    if "co_owners" not in errors and any(not 0 < i <= MAX_ID for i in data.get("co_owners") or []):
        errors["co_owners"] = _("Co-owners must be active colleagues.")
    if "version" not in errors and isinstance(data.get("version"), int) and not 0 <= data["version"] <= MAX_ID:
        errors["version"] = _("Enter the version you loaded, a whole number.")
    return errors


@bp.get("/clients")
def clients_index():
    from app.clients import listing

    user = _user()
    template = cached_template()
    params = _list_params(listing, template)
    page = listing.list_clients(user, params, template, with_values=True)
    total = listing.count_clients(user, params, template)  # capped: never costs more than the page
    people = People()
    # List items never carry sensitive values: fetch the card (which is logged) to see them.
    known = TemplateFields(template)
    items = [client_json(c, card_view(user, c, template, reveal=False, known=known).values(), people)
             for c in page.items]
    return jsonify({"items": items, "next_cursor": page.next_cursor, "total": total,
                    "total_exact": listing.total_exact(total)})


ARCHIVED = {"false": "active", "true": "archived", "all": "all"}


def _list_params(listing, template):
    """The API's list parameters in the list service's terms: archived=false|true|all, sort=-key, limit clamped."""
    args = {k: request.args.get(k) for k in ("q", "stage", "grade", "owner", "tag", "field", "option", "cursor")
            if request.args.get(k) not in (None, "")}
    errors = {}
    archived = request.args.get("archived")
    if archived not in (None, ""):
        if archived.lower() in ARCHIVED:
            args["archived"] = ARCHIVED[archived.lower()]
        else:
            errors["archived"] = _("Use false, true or all.")
    owner = (args.get("owner") or "").strip()
    if owner and owner != "none" and not (re.fullmatch(r"[0-9]{1,10}", owner) and 0 < int(owner) <= MAX_ID):
        errors["owner"] = _("Enter the owner as a user id.")
        args.pop("owner")
    sort = (request.args.get("sort") or "").strip()
    if sort:
        args["sort"], args["dir"] = (sort[1:], "desc") if sort.startswith("-") else (sort, "asc")
    limit = request.args.get("limit")
    if limit not in (None, ""):
        limit = limit.strip()
        if re.fullmatch(r"[0-9]{1,9}", limit) and int(limit) >= 1:
            args["limit"] = str(min(int(limit), MAX_LIMIT))
        else:
            errors["limit"] = _("Enter a whole number of at least 1.")
    try:
        params = listing.parse_list_params(args, template)
    except listing.ListParamsInvalid as e:
        errors = {**e.errors, **errors}
    if errors:
        api_abort(422, errors={k: str(v) for k, v in errors.items()})
    return params


@bp.post("/clients")
@editor_only
def clients_create():
    data = _client_body(create=True)
    user = _user()
    template = cached_template()
    try:
        client = cs.create_client(user, name=data["name"], stage=data.get("stage"), owner_id=data.get("owner"),
                                  tags=data.get("tags"), co_owner_ids=data.get("co_owners"),
                                  fields=data.get("fields") or {}, allow_duplicate=bool(data.get("allow_duplicate")),
                                  template=template)
    except cs.ValidationFailed as e:
        db.session.rollback()
        return _invalid(e.errors)
    except DuplicateFound as e:
        db.session.rollback()
        return problem(409, _("This client may already exist. Check the duplicates, or send "
                              "\"allow_duplicate\": true to create it anyway."),
                       duplicates=[duplicate_json(c) for c in e.candidates])
    payload = _client_payload(client, template)
    _commit_or_fail()
    response = jsonify(payload)
    response.status_code = 201
    response.headers["Location"] = f"{bp.url_prefix}/clients/{client.id}"
    return response


MAX_BATCH = 1000


@bp.post("/clients/batch")
@editor_only
def clients_batch():
    """Create up to MAX_BATCH (1,000) clients at once, all or nothing (the bulk write path import uses too)."""
    data = json_body()
    errors = _check_shape(data, {"items": ((list,), _("Enter the clients as a list of objects.")),
                                 "allow_duplicate": ((bool,), _("Enter true or false."))}, required=("items",))
    items = data.get("items") if not errors else []
    if not errors and not 1 <= len(items) <= MAX_BATCH:
        errors["items"] = _("Send from 1 to %(n)d clients at a time.", n=MAX_BATCH)
    for i, item in enumerate(items if not errors else []):
        if not isinstance(item, dict):
            errors[f"items.{i}"] = _("Enter the client as an object.")
            continue
        if "allow_duplicate" in item:
            errors[f"items.{i}.allow_duplicate"] = _("Set allow_duplicate once, for the whole batch.")
        errors.update({f"items.{i}.{k}": v for k, v in _client_errors(
            {k: v for k, v in item.items() if k != "allow_duplicate"}, create=True).items()})
    if errors:
        api_abort(422, errors=errors)
    user = _user()
    template = cached_template()
    kwargs = [{"name": item["name"], "stage": item.get("stage"), "owner_id": item.get("owner"),
               "tags": item.get("tags"), "co_owner_ids": item.get("co_owners"), "fields": item.get("fields") or {}}
              for item in items]
    try:
        created = cs.create_clients(user, kwargs, template=template, allow_duplicate=bool(data.get("allow_duplicate")))
    except cs.BatchInvalid as e:
        db.session.rollback()
        refused = [exc for exc in e.errors.values() if isinstance(exc, NotAllowed)]
        if refused:
            return problem(403, str(refused[0]))
        invalid = {f"items.{i}.{k}": str(v) for i, exc in e.errors.items() if isinstance(exc, cs.ValidationFailed)
                   for k, v in exc.errors.items()}
        if invalid:
            return _invalid(invalid)
        return problem(409, _("Some clients may already exist. Check the duplicates, or send "
                              "\"allow_duplicate\": true to create them anyway."),
                       duplicates={str(i): [duplicate_json(c) for c in exc.candidates]
                                   for i, exc in e.errors.items()})
    people = People()
    known = TemplateFields(template)
    payload = [client_json(c, card_view(user, c, template, reveal=False, known=known).values(), people)
               for c in created]
    _commit_or_fail()
    response = jsonify({"items": payload})
    response.status_code = 201
    return response


@bp.get("/clients/<int:client_id>")
def clients_show(client_id):
    user = _user()
    client = _client_or_404(client_id)
    template = cached_template()
    record_view(user, client, kind="open")
    payload = _client_payload(client, template, reason=(request.args.get("reason") or "API")[:500])
    _commit_or_fail()
    return jsonify(payload)


@bp.patch("/clients/<int:client_id>")
@editor_only
def clients_update(client_id):
    user = _user()
    client = _client_or_404(client_id)
    data = _client_body(create=False)
    template = cached_template()
    try:
        cs.update_client(user, client, version=data["version"], name=data.get("name"), stage=data.get("stage"),
                         owner_id=data.get("owner"), tags=[] if "tags" in data and data["tags"] is None
                         else data.get("tags"), co_owner_ids=data.get("co_owners"), fields=data.get("fields") or {},
                         template=template, churn_reason=data.get("churn_reason"))
        apply_grade_override(user, client, data)
    except cs.ValidationFailed as e:
        db.session.rollback()
        return _invalid(e.errors)
    except cs.VersionConflict:
        db.session.rollback()
        return _conflict(client_id, template, data["version"])
    payload = _client_payload(client, template)
    _commit_or_fail()
    return jsonify(payload)


def _conflict(client_id, template, version):
    """409 with the card as it is now and the changes made since the version the caller had."""
    db.session.expire_all()
    client = _client_or_404(client_id)
    people = People()
    hidden = card_view(_user(), client, template, reveal=True).hidden_keys()
    since = [c for c in history(client) if c.version > version]
    payload = _client_payload(client, template, people)
    _commit_or_fail()
    return problem(409, _("This card was changed by someone else since you loaded it. Apply your change to the "
                          "current version and send it again."),
                   client=payload, changes=[change_json(c, people, hidden) for c in since])


@bp.delete("/clients/<int:client_id>")
@editor_only
def clients_archive(client_id):
    client = _client_or_404(client_id)
    try:
        cs.set_archived(_user(), client, True)
    except cs.VersionConflict:
        db.session.rollback()
        api_abort(409)
    _commit_or_fail()
    return "", 204


@bp.post("/clients/<int:client_id>/restore")
@editor_only
def clients_restore(client_id):
    client = _client_or_404(client_id)
    template = cached_template()
    try:
        cs.set_archived(_user(), client, False)
    except cs.VersionConflict:
        db.session.rollback()
        api_abort(409)
    payload = _client_payload(client, template)
    _commit_or_fail()
    return jsonify(payload)


@bp.get("/clients/<int:client_id>/history")
def clients_history(client_id):
    client = _client_or_404(client_id)
    limit, position = _page_params()
    hidden = card_view(_user(), client, cached_template(), reveal=True).hidden_keys()
    people = People()
    rows = history(client)
    items, next_cursor = _id_page(rows, limit, position, lambda c: change_json(c, people, hidden))
    return jsonify({"items": items, "next_cursor": next_cursor, "total": len(rows)})


@bp.get("/clients/<int:client_id>/views")
@admin_only
def clients_views(client_id):
    client = _client_or_404(client_id)
    limit, position = _page_params()
    people = People()
    rows, total = _view_log_page(client, limit, position)
    items, next_cursor = _id_page(rows, limit, None, lambda v: view_json(v, people))
    return jsonify({"items": items, "next_cursor": next_cursor, "total": total})


def _view_log_page(client, limit: int, before_id: int | None):
    """One keyset page (limit + 1 rows, newest first) of a card's view log, and its size.

    app.clients.services.view_log() caps the log at its newest rows; the API pages through all of it.
    """
    base = select(ClientView).where(ClientView.client_id == client.id)
    total = db.session.execute(base.with_only_columns(func.count(ClientView.id))).scalar_one()
    if before_id is not None:
        base = base.where(ClientView.id < before_id)
    rows = db.session.scalars(base.order_by(ClientView.id.desc()).limit(limit + 1)).all()
    return rows, total
