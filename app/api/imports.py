"""REST API v1 for bulk work: list export, batch create, imports (start, status, undo). Documented by `paths()`
and `SCHEMAS`, which app.api.openapi merges into the document."""
from __future__ import annotations

import json

from flask import jsonify, request
from flask_babel import gettext as _

from app import jobs
from app.api import bp
from app.api.auth import api_abort, editor_only, json_body
from app.api.problems import problem
from app.api.routes import CLIENT_SPEC, MAX_ID, _check_shape, _int_list, _list_params, _string_list, _user
from app.api.serializers import People, client_json
from app.card_templates.services import load_template
from app.clients import services as cs
from app.clients.access import card_view, check_limit
from app.clients.duplicates import DuplicateFound
from app.extensions import db
from app.imports import services as imports
from app.imports.exports import export_list
from app.imports.models import ImportRun
from app.imports.reader import BadFile, TooLarge
from app.tenancy import current_tenant

BATCH_MAX = 1000


@bp.get("/clients/export")
def clients_export():
    """The list (with the list's filters) as xlsx or csv; sensitive values only when asked for and permitted."""
    from app.clients import listing
    from app.imports.exports import download

    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        api_abort(422, errors={"format": _("Choose xlsx or csv.")})
    sensitive = request.args.get("sensitive", "false")
    if sensitive not in ("true", "false"):
        api_abort(422, errors={"sensitive": _("Enter true or false.")})
    template = load_template()
    params = _list_params(listing, template)
    data, filename, mimetype = export_list(_user(), params, fmt, None, sensitive=sensitive == "true",
                                           reason=(request.args.get("reason") or "API")[:200])
    db.session.commit()
    return download(data, filename, mimetype)


def _item_errors(item) -> dict:
    if not isinstance(item, dict):
        return {"item": _("Enter each client as an object.")}
    spec = {k: (types, _(msg)) for k, (types, msg) in CLIENT_SPEC.items() if k not in ("version",)}
    errors = _check_shape(item, spec, required=("name",))
    if item.get("tags") is not None and "tags" not in errors and not _string_list(item["tags"]):
        errors["tags"] = _("Enter tags as a list of strings.")
    if item.get("co_owners") is not None and "co_owners" not in errors and not _int_list(item["co_owners"]):
        errors["co_owners"] = _("Enter co-owners as a list of user ids.")
    if "owner" not in errors and isinstance(item.get("owner"), int) and not 0 < item["owner"] <= MAX_ID:
        errors["owner"] = _("Choose an active colleague as owner.")
    if "co_owners" not in errors and any(not 0 < i <= MAX_ID for i in item.get("co_owners") or []):
        errors["co_owners"] = _("Co-owners must be active colleagues.")
    return errors


@bp.post("/clients/batch")
@editor_only
def clients_batch():
    """Up to 1,000 cards in one request, validated together: all created, or none with per-item errors."""
    data = json_body()
    errors = _check_shape(data, {"clients": ((list,), _("Enter clients as a list of client objects."))},
                          required=("clients",))
    if errors:
        api_abort(422, errors=errors)
    items = data["clients"]
    if not items or len(items) > BATCH_MAX:
        api_abort(422, errors={"clients": _("Send between 1 and %(n)d clients.", n=BATCH_MAX)})
    shape = [(i, _item_errors(item)) for i, item in enumerate(items)]
    bad = [{"index": i, "errors": e} for i, e in shape if e]
    if bad:
        return problem(422, _("Some clients are not valid; nothing was created."), items=bad)
    check_limit(current_tenant(), "clients", adding=len(items))
    user = _user()
    template = load_template()
    kwargs = [{"name": it["name"], "stage": it.get("stage"), "owner_id": it.get("owner"), "tags": it.get("tags"),
               "co_owner_ids": it.get("co_owners"), "fields": it.get("fields") or {}} for it in items]
    allow_duplicate = all(bool(it.get("allow_duplicate")) for it in items)
    try:
        created = cs.create_clients(user, kwargs, template=template, allow_duplicate=allow_duplicate)
    except cs.BatchInvalid as exc:
        db.session.rollback()
        out = []
        for index, err in sorted(exc.errors.items()):
            if isinstance(err, cs.ValidationFailed):
                out.append({"index": index, "errors": {k: str(v) for k, v in err.errors.items()}})
            elif isinstance(err, DuplicateFound):
                out.append({"index": index, "errors": {"name": _(
                    "This client may already exist; send \"allow_duplicate\": true to create it anyway.")}})
            else:
                out.append({"index": index, "errors": {"item": str(getattr(err, "message", "") or err)}})
        return problem(422, _("Some clients are not valid; nothing was created."), items=out)
    people = People()
    payload = [client_json(c, card_view(user, c, template, reveal=False).values(), people) for c in created]
    db.session.commit()
    response = jsonify({"items": payload})
    response.status_code = 201
    return response


def _import_json(imp: ImportRun) -> dict:
    job = db.session.get(jobs.Job, imp.job_id) if imp.job_id else None
    status = job.status if job is not None else ("queued" if imp.status in ("started", "running") else "draft")
    if status == "draft":
        status = "queued"
    return {"id": imp.id, "status": status, "dry_run": imp.dry_run, "on_duplicate": imp.on_duplicate,
            "created": imp.created, "updated": imp.updated, "skipped": imp.skipped,
            "errors": [{"row": p["row"], "field": p.get("field") or "", "message": p["message"]}
                       for p in imp.problems or []],
            "error": job.error if job is not None and job.status == "failed" else None,
            "undone": imp.undone_at is not None, "can_undo": imports.can_undo(imp)}


@bp.post("/imports")
@editor_only
def imports_create():
    """Upload a list and import it as a job: 202 with the import's id; poll GET /imports/{id}."""
    user = _user()
    form = request.form
    unknown = [k for k in form if k not in ("mapping", "on_duplicate", "dry_run", "sheet")]
    errors = {k: _("Unknown property.") for k in unknown}
    on_dup = form.get("on_duplicate", "skip")
    if on_dup not in imports.DUPLICATE_CHOICES:
        errors["on_duplicate"] = _("Choose skip, update or create.")
    dry_run = form.get("dry_run", "false")
    if dry_run not in ("true", "false"):
        errors["dry_run"] = _("Enter true or false.")
    mapping_in = {}
    if form.get("mapping"):
        try:
            mapping_in = json.loads(form["mapping"])
            if not isinstance(mapping_in, dict) or not all(isinstance(v, str) for v in mapping_in.values()):
                raise ValueError
        except ValueError:
            errors["mapping"] = _("Enter the mapping as a JSON object of column name to field key.")
    if errors:
        api_abort(422, errors=errors)
    try:
        imp = _upload(user)
    except BadFile as e:
        db.session.rollback()
        if isinstance(e, TooLarge):
            api_abort(413, e.message)
        api_abort(422, errors={"file": str(e.message)})
    template = load_template()
    sheet = imports.read_sheet(imp.filename, imp.data, form.get("sheet") or None, imports.known_labels(template))
    imp.sheet = sheet.name if form.get("sheet") else ""
    mapping = imports.auto_mapping(template, sheet, current_tenant().setting("import_mapping") or {})
    for header, key in mapping_in.items():
        col = next((i for i, label in enumerate(sheet.columns) if label == imports.clean_label(header)), None)
        if col is None:
            errors[f"mapping.{header}"[:80]] = _("There is no column named %(name)s.", name=header)
            continue
        for c, t in list(mapping.items()):
            if t == key:
                mapping.pop(c)
        mapping[str(col)] = key
    errors.update({f"mapping.{k}": v for k, v in imports.check_mapping(template, sheet, mapping).items()})
    if errors:
        db.session.rollback()
        api_abort(422, errors=errors)
    imp.mapping, imp.on_duplicate, imp.dry_run = mapping, on_dup, dry_run == "true"
    check_limit(current_tenant(), "clients", adding=len(sheet.rows))
    imports.start_import(user, imp)
    imp = db.session.get(ImportRun, imp.id)
    response = jsonify({"id": imp.id, "status": _import_json(imp)["status"]})
    response.status_code = 202
    response.headers["Location"] = f"{bp.url_prefix}/imports/{imp.id}"
    return response


def _upload(user) -> ImportRun:
    from app.imports.routes import upload_file

    return upload_file(user, request.files.get("file"))


def _import_or_404(import_id: int) -> ImportRun:
    if import_id > MAX_ID:
        api_abort(404)
    imp = imports.visible_import(_user(), import_id)
    if imp is None:
        api_abort(404)
    return imp


@bp.get("/imports/<int:import_id>")
def imports_show(import_id):
    return jsonify(_import_json(_import_or_404(import_id)))


@bp.post("/imports/<int:import_id>/undo")
@editor_only
def imports_undo(import_id):
    imp = _import_or_404(import_id)
    try:
        result = imports.undo_import(_user(), imp)
    except imports.UndoRefused as e:
        db.session.rollback()
        return problem(409, e.message)
    db.session.commit()
    return jsonify({**_import_json(imp), **result})


# ---------------------------------------------------------------- OpenAPI

def paths() -> dict:
    from app.api.openapi import LIST_PARAMS, _errors, _json, _op, _problem, _ref

    binary = {"type": "string", "format": "binary"}
    list_filters = [p for p in LIST_PARAMS if p["name"] not in ("limit", "cursor", "sort")]
    import_id = {"name": "import_id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 2147483647}, "example": 1}
    return {
        "/clients/export": {"get": _op(
            "The filtered client list as .xlsx or .csv (UTF-8 with BOM); formulas are written as text. Sensitive "
            "fields only with sensitive=true, for users who may read them (logged in the view log).",
            {"200": {"description": "The file.", "content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": binary},
                "text/csv": {"schema": binary}}}, **_errors("422")},
            params=[{"name": "format", "in": "query", "required": False,
                     "schema": {"enum": ["xlsx", "csv"], "default": "xlsx"}},
                    {"name": "sensitive", "in": "query", "required": False,
                     "schema": {"enum": ["true", "false"], "default": "false"}},
                    {"name": "reason", "in": "query", "required": False, "schema": {"type": "string"}}]
            + list_filters, op_id="exportClients")},
        "/clients/batch": {"post": _op(
            f"Create up to {BATCH_MAX} cards at once: all created, or none with per-item errors.",
            {"201": _json({"type": "object", "required": ["items"],
                           "properties": {"items": {"type": "array", "items": _ref("Client")}}}, "The new cards."),
             "422": _problem("Invalid input: `errors` for the body, or `items` with each invalid client's index "
                             "and errors.", "BatchProblem"),
             **_errors("400", "403", "415")},
            body="ClientBatch", op_id="createClients")},
        "/imports": {"post": {
            "summary": "Import a client list (.xlsx or .csv) as a background job.", "operationId": "createImport",
            "tags": ["imports"],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {
                    "file": binary,
                    "mapping": {"type": "string", "description": "JSON object: column name to field key (or "
                                "@name, @stage, @tags, @owner, @number)."},
                    "on_duplicate": {"enum": list(imports.DUPLICATE_CHOICES), "default": "skip"},
                    "dry_run": {"enum": ["true", "false"], "default": "false"},
                    "sheet": {"type": "string"}}}}}},
            "responses": {"202": _json({"type": "object", "required": ["id", "status"], "properties": {
                "id": {"type": "integer"}, "status": {"enum": list(jobs.STATUSES)}}}, "The import was queued."),
                **_errors("403", "415", "422")}}},
        "/imports/{import_id}": {
            "parameters": [import_id],
            "get": _op("An import's status and report.", {"200": _json(_ref("Import"), "The import."),
                                                           **_errors("404")}, tag="imports", op_id="getImport")},
        "/imports/{import_id}/undo": {
            "parameters": [import_id],
            "post": _op("Undo a finished import (within 24 hours): created cards removed, updated cards restored.",
                        {"200": _json(_ref("Import"), "The import, undone."),
                         "409": _problem("The import cannot be undone (any more)."), **_errors("403", "404")},
                        tag="imports", op_id="undoImport")},
    }


def schemas() -> dict:
    from app.api.openapi import _ref

    return {
        "ClientBatch": {"type": "object", "required": ["clients"], "additionalProperties": False, "properties": {
            "clients": {"type": "array", "minItems": 1, "maxItems": BATCH_MAX, "items": _ref("ClientCreate")}}},
        "BatchProblem": {"allOf": [_ref("Problem"), {"type": "object", "properties": {
            "errors": {"type": "object", "additionalProperties": {"type": "string"}},
            "items": {"type": "array", "items": {"type": "object", "required": ["index", "errors"], "properties": {
                "index": {"type": "integer"},
                "errors": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}]},
        "Import": {"type": "object", "required": ["id", "status", "created", "updated", "skipped", "errors"],
                   "properties": {
                       "id": {"type": "integer"}, "status": {"enum": list(jobs.STATUSES)},
                       "dry_run": {"type": "boolean"}, "on_duplicate": {"enum": list(imports.DUPLICATE_CHOICES)},
                       "created": {"type": "integer"}, "updated": {"type": "integer"}, "skipped": {"type": "integer"},
                       "errors": {"type": "array", "items": {"type": "object", "required": ["row", "field", "message"],
                                                             "properties": {"row": {"type": "integer"},
                                                                            "field": {"type": "string"},
                                                                            "message": {"type": "string"}}}},
                       "error": {"type": ["string", "null"]}, "undone": {"type": "boolean"},
                       "can_undo": {"type": "boolean"}, "removed": {"type": "integer"},
                       "archived": {"type": "integer"}, "restored": {"type": "integer"}}},
    }
