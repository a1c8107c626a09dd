"""Import pages: upload, map and preview, start (a job with a progress bar), report, undo."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import jobs
from app.card_templates.services import load_template
from app.clients.access import LimitReached, NotAllowed, check_limit, require
from app.extensions import db
from app.imports import bp, exports, restore  # noqa: F401  (registers the export and restore job handlers)
from app.imports.models import ImportRun
from app.imports.reader import BadFile, TooLarge, kind_of, read_sheet
from app.imports import followups as fimports, services as imports
from app.tenancy import current_tenant
from app.web import editor_required


def _too_large():
    limit_mb = current_app.config["IMPORT_MAX_BYTES"] / (1024 * 1024)
    return _("The file is larger than %(n)s MB. Split it into smaller files.", n=f"{limit_mb:g}")


def _import_or_404(import_id: int) -> ImportRun:
    imp = imports.visible_import(current_user, import_id)
    if imp is None:
        abort(404)
    return imp


@bp.route("/")
@login_required
@editor_required
def index():
    return render_template("imports/index.html", runs=imports.recent_imports(current_user), error=None,
                           can_restore=restore.restorable(current_user) is None)


IMPORT_KINDS = ("clients", "followups")


def labels_for(imp_kind: str) -> set[str]:
    return fimports.known_labels() if imp_kind == "followups" else imports.known_labels(load_template())


def upload_file(user, upload, kind: str = "clients") -> ImportRun:
    """Check an uploaded file and keep it as a draft import of client cards or follow-ups. Raises BadFile
    (nothing is kept then). A follow-up import of a workbook reads the sheet that looks like follow-ups."""
    if upload is None or not upload.filename:
        raise BadFile(_("Choose a file to upload."))
    data = upload.read(current_app.config["IMPORT_MAX_BYTES"] + 1)
    if len(data) > current_app.config["IMPORT_MAX_BYTES"]:
        raise TooLarge(_too_large())
    kind_of(upload.filename, data)
    sheet = ""
    if kind == "followups":
        sheet = fimports.pick_sheet(upload.filename, data) or ""
    read_sheet(upload.filename, data, sheet or None, labels_for(kind))  # every check, before keeping it
    imp = ImportRun(created_by_id=user.id, filename=upload.filename[:200], data=data, kind=kind, sheet=sheet)
    db.session.add(imp)
    db.session.flush()
    return imp


def auto_mapping(imp: ImportRun, sheet) -> dict:
    """The proposed mapping of a draft import (remembered choices first, per kind)."""
    if imp.kind == "followups":
        return fimports.auto_mapping(sheet, current_tenant().setting("import_mapping_followups") or {})
    return imports.auto_mapping(load_template(), sheet, current_tenant().setting("import_mapping") or {})


@bp.route("/", methods=["POST"])
@login_required
@editor_required
def upload():
    require(current_user, "clients.create", message=_("Your role cannot create client cards."))
    if (request.content_length or 0) > current_app.config["IMPORT_MAX_BYTES"] + 256 * 1024:
        return render_template("imports/index.html", runs=imports.recent_imports(current_user),
                               error=_too_large()), 413
    kind = request.form.get("kind", "clients")
    if kind not in IMPORT_KINDS:
        kind = "clients"
    try:
        imp = upload_file(current_user, request.files.get("file"), kind)
    except BadFile as e:
        db.session.rollback()
        status = 413 if isinstance(e, TooLarge) else 422
        return render_template("imports/index.html", runs=imports.recent_imports(current_user),
                               error=e.message), status
    imp.mapping = auto_mapping(imp, _sheet(imp))
    db.session.commit()
    return redirect(url_for("imports.show", import_id=imp.id))


def _sheet(imp: ImportRun):
    return read_sheet(imp.filename, imp.data, imp.sheet or None, labels_for(imp.kind))


@bp.route("/<int:import_id>")
@login_required
def show(import_id: int):
    imp = _import_or_404(import_id)
    job = db.session.get(jobs.Job, imp.job_id) if imp.job_id else None
    if imp.status == "draft" and imp.data is not None:
        return _mapping_page(imp)
    return render_template("imports/show.html", imp=imp, job=job, can_undo=imports.can_undo(imp))


def _mapping_page(imp: ImportRun, errors: dict | None = None, status: int = 200):
    template = load_template()
    try:
        sheet = _sheet(imp)
    except BadFile as e:
        return render_template("imports/index.html", runs=imports.recent_imports(current_user), error=e.message), 422
    if imp.kind == "followups":
        rows, choices = fimports.preview(sheet, imp.mapping, current_user), fimports.choices()
    else:
        rows, choices = imports.preview(template, sheet, imp.mapping), imports.target_choices(template)
    return render_template("imports/mapping.html", imp=imp, sheet=sheet, choices=choices,
                           rows=rows, errors=errors or {}, total=len(sheet.rows)), status


def _read_options(imp: ImportRun) -> None:
    form = request.form
    if form.get("sheet") is not None:
        imp.sheet = form.get("sheet", "")[:100]
    imp.mapping = {k[len("col-"):]: v for k, v in form.items() if k.startswith("col-") and k[4:].isdigit()}
    on_dup = form.get("on_duplicate", "skip")
    imp.on_duplicate = on_dup if on_dup in imports.DUPLICATE_CHOICES else "skip"
    imp.dry_run = form.get("dry_run") in ("1", "on", "true")


@bp.route("/<int:import_id>/mapping", methods=["POST"])
@login_required
@editor_required
def mapping(import_id: int):
    """Save the sheet, column choices and options; show the preview again (htmx: the page body)."""
    imp = _import_or_404(import_id)
    if imp.status != "draft" or imp.data is None:
        return redirect(url_for("imports.show", import_id=imp.id))
    sheet_before = imp.sheet
    _read_options(imp)
    if imp.sheet != sheet_before:
        try:
            imp.mapping = auto_mapping(imp, _sheet(imp))
        except BadFile as e:
            db.session.rollback()
            flash(str(e.message), "error")
            return redirect(url_for("imports.show", import_id=imp.id))
    db.session.commit()
    return redirect(url_for("imports.show", import_id=imp.id))


@bp.route("/<int:import_id>/start", methods=["POST"])
@login_required
@editor_required
def start(import_id: int):
    imp = _import_or_404(import_id)
    if imp.status != "draft" or imp.data is None:
        return redirect(url_for("imports.show", import_id=imp.id))
    _read_options(imp)
    template = load_template()
    try:
        sheet = _sheet(imp)
    except BadFile as e:
        db.session.rollback()
        flash(str(e.message), "error")
        return redirect(url_for("imports.index"))
    if imp.kind == "followups":
        errors = fimports.check_mapping(sheet, imp.mapping)
    else:
        errors = imports.check_mapping(template, sheet, imp.mapping)
    if errors:
        return _mapping_page(imp, errors, 422)
    if imp.kind == "clients":
        try:
            check_limit(current_tenant(), "clients", adding=len(sheet.rows))
        except LimitReached as e:
            db.session.rollback()
            flash(str(e.message), "error")
            return _mapping_page(imp, {"@limit": e.message}, 402)
    imports.remember_mapping(sheet, imp.mapping, imp.kind)
    imports.start_import(current_user, imp)
    return redirect(url_for("imports.show", import_id=imp.id))


@bp.route("/<int:import_id>/report.xlsx")
@login_required
def report(import_id: int):
    imp = _import_or_404(import_id)
    if imp.finished_at is None:
        abort(404)
    from app.imports.exports import download

    return download(imports.report_xlsx(imp), f"import-{imp.id}-report.xlsx")


@bp.route("/<int:import_id>/undo", methods=["POST"])
@login_required
@editor_required
def undo(import_id: int):
    imp = _import_or_404(import_id)
    try:
        result = imports.undo_import(current_user, imp)
    except imports.UndoRefused as e:
        db.session.rollback()
        flash(str(e.message), "error")
        return redirect(url_for("imports.show", import_id=imp.id))
    except NotAllowed:
        db.session.rollback()
        raise
    db.session.commit()
    if imp.kind == "followups":
        flash(_("Import undone: %(removed)d follow-ups removed, %(kept)d edited since kept.", **result), "success")
    else:
        flash(_("Import undone: %(removed)d cards removed, %(archived)d archived, %(restored)d restored.",
                **result), "success")
    return redirect(url_for("imports.show", import_id=imp.id))


@bp.route("/restore", methods=["POST"])
@login_required
@editor_required
def restore_upload():
    """Owners of a company with no clients: restore a full export (.zip) as a job."""
    why = restore.restorable(current_user)
    if why:
        return render_template("imports/index.html", runs=imports.recent_imports(current_user), error=None,
                               restore_error=why, can_restore=False), 403
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise BadFile(_("Choose a file to upload."))
        data = upload.read(current_app.config["IMPORT_MAX_BYTES"] + 1)
        if len(data) > current_app.config["IMPORT_MAX_BYTES"]:
            raise TooLarge(_too_large())
        restore.read_export(data)
    except BadFile as e:
        return render_template("imports/index.html", runs=imports.recent_imports(current_user), error=None,
                               restore_error=e.message, can_restore=True), 413 if isinstance(e, TooLarge) else 422
    imp = ImportRun(created_by_id=current_user.id, filename=upload.filename[:200], data=data, kind="restore")
    db.session.add(imp)
    db.session.flush()
    imports.start_import(current_user, imp)
    return redirect(url_for("imports.show", import_id=imp.id))


# ---------------------------------------------------------------- exports

def _export_keys() -> list[str] | None:
    raw = request.args.get("fields", "").strip()
    return [k for k in raw.replace("，", ",").split(",") if k] or None


@bp.route("/export")
@login_required
def export_list():
    """The client list (with the list page's filters) as .xlsx or .csv; large lists are built as a job."""
    from werkzeug.datastructures import MultiDict

    from app.clients.listing import count_clients, list_fields, parse_list_params
    from app.imports.exports import SYNC_MAX, download, export_list as build

    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        abort(404)
    fields = list_fields()
    params = parse_list_params(request.args, fields, strict=False)
    sensitive = request.args.get("sensitive") == "1"
    reason = request.args.get("reason", "")[:200]
    if count_clients(current_user, params, fields) > SYNC_MAX:
        query = [(k, v) for k, v in MultiDict(request.args).items(multi=True)
                 if k not in ("format", "fields", "sensitive", "reason")]
        job = jobs.enqueue("export.clients", current_user, {"query": query, "format": fmt, "fields": _export_keys(),
                                                            "sensitive": sensitive, "reason": reason})
        return render_template("imports/export_job.html", job=job)
    data, filename, mimetype = build(current_user, params, fmt, _export_keys(), sensitive=sensitive, reason=reason)
    db.session.commit()  # the view log of the exported cards
    return download(data, filename, mimetype)


@bp.route("/export/all", methods=["POST"])
@login_required
def export_all():
    """Owners: build the full export ("take all your data away") as a job."""
    if current_user.role != "owner":
        abort(403)
    job = jobs.enqueue("export.tenant", current_user, {"sensitive": request.form.get("sensitive") == "1"})
    return render_template("imports/export_job.html", job=job)
