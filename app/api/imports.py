"""REST API v1 for bulk work: list export, batch create, imports (start, status, undo). Documented by `paths()`
and `schemas()`, registered with app.api.openapi."""
from __future__ import annotations

import json

from flask import jsonify, request
from flask_babel import gettext as _

from app import jobs
from app.api import bp
from app.api.openapi import LIST_PARAMS, _errors, _json, _op, _problem, _ref, register_paths
from app.api.auth import api_abort, editor_only
from app.api.problems import problem
from app.api.routes import MAX_ID, _list_params, _user
from app.card_templates.services import load_template
from app.clients.access import check_limit
from app.extensions import db
from app.imports import followups as fimports, services as imports
from app.imports.routes import IMPORT_KINDS, auto_mapping, labels_for, upload_file
from app.imports.exports import export_list
from app.imports.models import ImportRun
from app.imports.reader import BadFile, TooLarge
from app.tenancy import current_tenant

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


def _import_json(imp: ImportRun) -> dict:
    job = db.session.get(jobs.Job, imp.job_id) if imp.job_id else None
    status = job.status if job is not None else ("queued" if imp.status in ("started", "running") else "draft")
    if status == "draft":
        status = "queued"
    return {"id": imp.id, "kind": imp.kind, "status": status, "dry_run": imp.dry_run,
            "on_duplicate": imp.on_duplicate,
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
    unknown = [k for k in form if k not in ("mapping", "on_duplicate", "dry_run", "sheet", "kind")]
    errors = {k: _("Unknown property.") for k in unknown}
    kind = form.get("kind", "clients")
    if kind not in IMPORT_KINDS:
        errors["kind"] = _("Choose clients or followups.")
    on_dup = form.get("on_duplicate", "skip")
    if on_dup not in imports.DUPLICATE_CHOICES or (kind == "followups" and on_dup == "update"):
        errors["on_duplicate"] = _("Choose skip or create.") if kind == "followups" \
            else _("Choose skip, update or create.")
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
        imp = _upload(user, kind)
    except BadFile as e:
        db.session.rollback()
        if isinstance(e, TooLarge):
            api_abort(413, e.message)
        api_abort(422, errors={"file": str(e.message)})
    template = load_template()
    try:
        sheet = imports.read_sheet(imp.filename, imp.data, form.get("sheet") or imp.sheet or None,
                                   labels_for(kind))
    except BadFile as e:
        db.session.rollback()
        api_abort(422, errors={"sheet" if form.get("sheet") else "file": str(e.message)})
    imp.sheet = sheet.name if form.get("sheet") or imp.sheet else ""
    mapping = auto_mapping(imp, sheet)
    for header, key in mapping_in.items():
        col = next((i for i, label in enumerate(sheet.columns) if label == imports.clean_label(header)), None)
        if col is None:
            errors[f"mapping.{header}"[:80]] = _("There is no column named %(name)s.", name=header)
            continue
        for c, t in list(mapping.items()):
            if t == key:
                mapping.pop(c)
        mapping[str(col)] = key
    problems = fimports.check_mapping(sheet, mapping) if kind == "followups" \
        else imports.check_mapping(template, sheet, mapping)
    errors.update({f"mapping.{k}": v for k, v in problems.items()})
    if errors:
        db.session.rollback()
        api_abort(422, errors=errors)
    imp.mapping, imp.on_duplicate, imp.dry_run = mapping, on_dup, dry_run == "true"
    if kind == "clients":
        check_limit(current_tenant(), "clients", adding=len(sheet.rows))
    imports.start_import(user, imp)
    imp = db.session.get(ImportRun, imp.id)
    response = jsonify({"id": imp.id, "status": _import_json(imp)["status"]})
    response.status_code = 202
    response.headers["Location"] = f"{bp.url_prefix}/imports/{imp.id}"
    return response


def _upload(user, kind: str) -> ImportRun:
    return upload_file(user, request.files.get("file"), kind)


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
        "/imports": {"post": {
            "summary": "Import a client list, or follow-up history (kind=followups), from .xlsx or .csv as a "
                       "background job.", "operationId": "createImport",
            "tags": ["imports"],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {
                    "file": binary,
                    "kind": {"enum": list(IMPORT_KINDS), "default": "clients", "description":
                             "clients: one row per client card. followups: one row per contact (维护记录) with "
                             "the client's name or number, date, method, content and optionally feedback, plan, "
                             "next_date, satisfaction and the author (@author, a colleague's name or email; unknown "
                             "authors become the importing user, noted in the report); a workbook's follow-up "
                             "sheet is found unless `sheet` names one. Rows whose client is missing, ambiguous or "
                             "not visible to the user are reported."},
                    "mapping": {"type": "string", "description": "JSON object: column name to field key (clients: "
                                "a field key or @name, @stage, @tags, @owner, @number; followups: @client, "
                                "@number, date, method, content, feedback, plan, next_date, satisfaction, "
                                "@author)."},
                    "on_duplicate": {"enum": list(imports.DUPLICATE_CHOICES), "default": "skip",
                                     "description": "followups: skip (a row equal to a follow-up the card has) "
                                                    "or create."},
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
    return {
        "BatchProblem": {"allOf": [_ref("Problem"), {"type": "object", "properties": {
            "errors": {"type": "object", "additionalProperties": {"type": "string"}},
            "items": {"type": "array", "items": {"type": "object", "required": ["index", "errors"], "properties": {
                "index": {"type": "integer"},
                "errors": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}]},
        "Import": {"type": "object", "required": ["id", "status", "created", "updated", "skipped", "errors"],
                   "properties": {
                       "id": {"type": "integer"}, "kind": {"enum": [*IMPORT_KINDS, "restore"]},
                       "status": {"enum": list(jobs.STATUSES)},
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


register_paths(lambda h: (paths(), schemas()))
