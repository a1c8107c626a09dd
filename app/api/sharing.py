"""REST API v1: card PDFs, client briefs and share links (documented in the OpenAPI document via openapi_paths)."""
from __future__ import annotations

from datetime import date

from flask import jsonify, make_response, request, url_for
from flask_babel import gettext as _

from app.api import bp
from app.api.auth import api_abort, editor_only, json_body
from app.api.openapi import register_paths
from app.api.problems import problem
from app.api.routes import _check_shape, _client_or_404, _commit_or_fail, _int_list, _invalid, _list_params, _user
from app.api.serializers import People, timestamp
from app.card_templates.cache import cached_template
from app.clients.access import LimitReached
from app.db_types import MAX_DB_INT
from app.extensions import db
from app.pdf import RenderFailed, RenderTimeout
from app.sharing import services as ss
from app.sharing.models import ShareLink
from app.values import display_value


def _flag(name: str) -> bool:
    return request.args.get(name, "") in ("1", "true", "on")


@bp.get("/clients/<int:client_id>/pdf")
def clients_pdf(client_id):
    user = _user()
    client = _client_or_404(client_id)
    opts = ss.PdfOptions(include_sensitive=_flag("include_sensitive"), reason=(request.args.get("reason") or "").strip(),
                         watermark=request.args.get("watermark") or "", brief=_flag("brief"))
    errors = ss.check_pdf_options(user, client, opts)  # NotAllowed → 403 problem
    if errors:
        return _invalid(errors)
    try:
        data = ss.card_pdf(user, client, opts)
    except (RenderTimeout, RenderFailed):
        db.session.rollback()
        return problem(503, _("The PDF could not be made in time. Try again in a moment."))
    _commit_or_fail()
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{ss.pdf_filename(client, opts.brief)}"'
    return response


def brief_json(client, view, sections, people: People) -> dict:
    """The brief: header facts and the filled in-brief fields (never a sensitive one), with display texts."""
    values = view.values()
    names = {uid: u.display_name for uid in [client.owner_id, *client.co_owner_ids] if (u := people.get(uid))}
    out_sections = []
    for section, fields in sections:
        items = []
        for fd in fields:
            value = values.get(fd.key)
            try:
                shown = display_value(fd.type, value, fd.spec(person_names=names))
            except Exception:  # an odd stored value still shows
                shown = str(value)
            items.append({"key": fd.key, "label": fd.t(), "type": fd.type, "value": value, "display": shown})
        out_sections.append({"key": section.key, "label": section.t(), "fields": items})
    return {"id": client.id, "number": client.number, "name": client.name, "stage": client.stage,
            "grade": client.grade, "owner": people.ref(client.owner_id),
            "co_owners": [r for r in (people.ref(uid) for uid in client.co_owner_ids) if r],
            "tags": list(client.tags or []), "sections": out_sections}


@bp.get("/clients/<int:client_id>/brief")
def clients_brief(client_id):
    user = _user()
    client = _client_or_404(client_id)
    view = ss.brief_view(user, client)
    ss.ch.record_view(user, client, "brief")
    payload = brief_json(client, view, ss.brief_sections(view), People())
    _commit_or_fail()
    return jsonify(payload)


def link_json(link: ShareLink, url: str | None = None) -> dict:
    out = {"id": link.id, "client_id": link.client_id, "label": link.label or "",
           "created_by": link.created_by_id, "created_at": timestamp(link.created_at),
           "expires_at": timestamp(link.expires_at), "revoked_at": timestamp(link.revoked_at),
           "access_code": bool(link.access_code_hash), "view_count": link.view_count or 0,
           "last_viewed_at": timestamp(link.last_viewed_at)}
    if url:
        out["url"] = url  # only when made: the token is never stored, so it cannot be shown again
    return out


SHARE_SPEC = {"expires_in_days": ((int,), "Enter a whole number of days."),
              "expires_on": ((str,), "Enter a date as YYYY-MM-DD."),
              "access_code": ((str,), "Enter text."), "label": ((str,), "Enter text.")}


@bp.post("/clients/<int:client_id>/share-links")
@editor_only
def share_links_create(client_id):
    user = _user()
    client = _client_or_404(client_id)
    data = json_body()
    errors = _check_shape(data, {k: (t, _(m)) for k, (t, m) in SHARE_SPEC.items()})
    until = None
    if not errors and data.get("expires_on") is not None:
        if data.get("expires_in_days") is not None:
            errors["expires_on"] = _("Send expires_in_days or expires_on, not both.")
        else:
            try:
                until = date.fromisoformat(data["expires_on"])
            except ValueError:
                errors["expires_on"] = _("Enter a date as YYYY-MM-DD.")
    if errors:
        return _invalid(errors)
    try:
        link, token = ss.create_share_link(user, client, days=data.get("expires_in_days"), until=until,
                                           access_code=data.get("access_code"), label=data.get("label") or "")
    except ss.ShareInputError as e:
        db.session.rollback()
        return _invalid(e.errors)
    except LimitReached as e:
        db.session.rollback()
        return problem(403, e.message or None, resource=e.resource)
    _commit_or_fail()
    response = jsonify(link_json(link, url_for("sharing.shared", token=token, _external=True)))
    response.status_code = 201
    return response


@bp.get("/share-links")
def share_links_index():
    """The live links the token's user may manage (every one of the tenant's for admins), newest first."""
    user = _user()
    return jsonify({"items": [link_json(link) for link in ss.links_for(user)]})


@bp.delete("/share-links/<int:link_id>")
def share_links_revoke(link_id):
    user = _user()
    link = db.session.get(ShareLink, link_id) if link_id <= MAX_DB_INT else None
    if link is None or not ss.may_manage(user, link):
        api_abort(404)
    ss.revoke_link(user, link)
    _commit_or_fail()
    return "", 204


# ---------------------------------------------------------------- OpenAPI

def openapi_paths(h) -> tuple[dict, dict]:
    """Paths and schemas of this module; `h` is app.api.openapi (its helpers)."""
    client_id = h.CLIENT_ID
    link_id = {"name": "link_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    flag = {"type": "string", "enum": ["0", "1"]}
    schemas = {
        "ShareLink": {
            "type": "object",
            "required": ["id", "client_id", "label", "created_at", "expires_at", "access_code", "view_count"],
            "properties": {
                "id": {"type": "integer"}, "client_id": {"type": "integer"}, "label": {"type": "string"},
                "created_by": {"type": ["integer", "null"]}, "created_at": {"type": "string", "format": "date-time"},
                "expires_at": {"type": "string", "format": "date-time"},
                "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                "access_code": {"type": "boolean", "description": "Whether readers must enter an access code."},
                "view_count": {"type": "integer"},
                "last_viewed_at": {"type": ["string", "null"], "format": "date-time"},
                "url": {"type": "string", "description": "Only in the answer that made the link: the token is "
                                                         "not stored and cannot be shown again."},
            },
        },
        "ShareLinkList": {"type": "object", "required": ["items"],
                          "properties": {"items": {"type": "array", "items": h._ref("ShareLink")}}},
        "ShareLinkCreate": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "expires_in_days": {"type": "integer", "minimum": 1, "maximum": ss.MAX_EXPIRY_DAYS,
                                    "description": f"Default {ss.DEFAULT_EXPIRY_DAYS}."},
                "expires_on": {"type": "string", "format": "date", "description": "Instead of expires_in_days."},
                "access_code": {"type": "string", "minLength": 4, "maxLength": 32},
                "label": {"type": "string", "maxLength": 100, "description": "For whom; shown on the page."},
            },
        },
        "Brief": {
            "type": "object", "required": ["id", "number", "name", "stage", "sections"],
            "properties": {
                "id": {"type": "integer"}, "number": {"type": "string"}, "name": {"type": "string"},
                "stage": {"type": "string"}, "grade": {"type": ["string", "null"]},
                "owner": {"type": ["object", "null"]}, "co_owners": {"type": "array"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "sections": {"type": "array", "items": {
                    "type": "object", "required": ["key", "label", "fields"],
                    "properties": {"key": {"type": "string"}, "label": {"type": "string"},
                                   "fields": {"type": "array", "items": {
                                       "type": "object", "required": ["key", "label", "type", "value", "display"],
                                       "properties": {"key": {"type": "string"}, "label": {"type": "string"},
                                                      "type": {"type": "string"}, "value": {},
                                                      "display": {"type": "string"}}}}}}},
            },
        },
    }
    pdf_answer = {"description": "The PDF.", "content": {"application/pdf": {"schema": {"type": "string",
                                                                                         "format": "binary"}}}}
    paths = {
        "/clients/{client_id}/pdf": {
            "parameters": [client_id],
            "get": h._op(
                "The card as an A4 PDF (logged in the view log). Confidential fields only with include_sensitive=1 "
                "and a reason, for users who may read them.",
                {"200": pdf_answer, "503": h._problem("The render took too long."), **h._errors("403", "404", "422")},
                params=[{"name": "include_sensitive", "in": "query", "required": False, "schema": flag},
                        {"name": "reason", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "Why the confidential fields are needed; kept in the view log."},
                        {"name": "brief", "in": "query", "required": False, "schema": flag,
                         "description": "1: the client brief instead of the whole card."},
                        {"name": "watermark", "in": "query", "required": False,
                         "schema": {"enum": [k for k in ss.WATERMARKS if k]}}],
                tag="sharing", op_id="clientPdf")},
        "/clients/{client_id}/brief": {
            "parameters": [client_id],
            "get": h._op("The client brief: filled in-brief fields, never a confidential one.",
                         {"200": h._json(h._ref("Brief"), "The brief."), **h._errors("404")},
                         tag="sharing", op_id="clientBrief")},
        "/clients/{client_id}/share-links": {
            "parameters": [client_id],
            "post": h._op("Share the client's brief by a read-only link (owners, admins, members).",
                          {"201": h._json(h._ref("ShareLink"), "The link, with its url (shown only now)."),
                           **h._errors("400", "403", "404", "415", "422")},
                          body="ShareLinkCreate", tag="sharing", op_id="createShareLink")},
        "/share-links": {
            "get": h._op("Live share links: the user's own, or all of the company's for admins.",
                         {"200": h._json(h._ref("ShareLinkList"), "The links."), **h._errors()},
                         tag="sharing", op_id="listShareLinks")},
        "/share-links/{link_id}": {
            "parameters": [link_id],
            "delete": h._op("Revoke a link (its maker or an admin); its URL then answers 410.",
                            {"204": {"description": "Revoked."}, **h._errors("404")},
                            tag="sharing", op_id="revokeShareLink")},
    }
    return paths, schemas


register_paths(openapi_paths)


# ---------------------------------------------------------------- batch export of card PDFs (a job)

BATCH_SPEC = {"ids": ((list,), "Enter the client ids as a list of whole numbers."),
              "format": ((str,), "Choose pdf or zip."), "brief": ((bool,), "Enter true or false."),
              "watermark": ((str,), "Enter text.")}


def _batch_json(job, user) -> dict:
    from app import jobs

    done, total = jobs.live_progress(job)
    result = job.result or {}
    out = {"id": job.id, "status": job.status, "progress": done, "total": total,
           "format": (job.params or {}).get("format", "pdf"), "brief": bool((job.params or {}).get("brief")),
           "cards": result.get("cards"), "skipped": result.get("skipped"), "failed": result.get("failed") or [],
           "error": job.error if job.status == "failed" else None, "created_at": timestamp(job.created_at),
           "download_url": None, "filename": None, "size": None, "expires_at": None}
    if job.status == "done" and jobs.downloadable_file(user, job.id) is not None:
        from datetime import timedelta

        out.update(download_url=url_for("api.clients_pdf_batch_file", job_id=job.id),
                   filename=result.get("filename"), size=result.get("size"),
                   expires_at=timestamp(job.finished_at + timedelta(days=jobs.FILE_DAYS)))
    return out


@bp.post("/clients/pdf-batch")
def clients_pdf_batch():
    """Start a batch export of card PDFs (the given ids, or the list's filters from the query) as a job: 202."""
    from app.clients import listing
    from app.sharing import batch as sb

    user = _user()
    data = json_body()
    errors = _check_shape(data, {k: (t, _(m)) for k, (t, m) in BATCH_SPEC.items()})
    ids_in = data.get("ids")
    if "ids" not in errors and ids_in is not None:
        if not _int_list(ids_in) or not all(0 < i <= MAX_DB_INT for i in ids_in):
            errors["ids"] = _("Enter the client ids as a list of whole numbers.")
        elif not ids_in:
            errors["ids"] = _("Send at least one client id, or leave ids out to export the filtered list.")
        elif len(ids_in) > sb.batch_max():
            errors["ids"] = sb.too_many_message()
    if errors:
        return _invalid(errors)
    if ids_in is not None:
        ids = sb.selected_ids(user, [str(i) for i in ids_in])
        if not ids:
            return _invalid({"ids": _("None of these clients exist or are visible to you.")})
    else:
        ids = sb.listed_ids(user, _list_params(listing, cached_template()))
    try:
        job = sb.start_batch(user, ids, fmt=data.get("format") or "pdf", brief=bool(data.get("brief")),
                             watermark=data.get("watermark") or "")
    except sb.BatchInputError as e:
        db.session.rollback()
        return _invalid(e.errors)
    response = jsonify(_batch_json(job, user))
    response.status_code = 202
    response.headers["Location"] = url_for("api.clients_pdf_batch_show", job_id=job.id)
    return response


def _batch_or_404(job_id: int):
    from app import jobs
    from app.sharing import batch as sb

    job = jobs.visible_job(_user(), job_id) if job_id <= MAX_DB_INT else None
    if job is None or job.kind != sb.KIND:
        api_abort(404)
    return job


@bp.get("/clients/pdf-batch/<int:job_id>")
def clients_pdf_batch_show(job_id):
    """A batch export's status; once done, its download_url (for the user who started it)."""
    return jsonify(_batch_json(_batch_or_404(job_id), _user()))


@bp.get("/clients/pdf-batch/<int:job_id>/file")
def clients_pdf_batch_file(job_id):
    """The merged PDF or the ZIP: only for the user who started the batch, while it is kept."""
    from app import jobs
    from app.imports.exports import download

    job = _batch_or_404(job_id)
    f = jobs.downloadable_file(_user(), job.id)
    if f is None:
        api_abort(404)
    return download(f.data, f.filename, f.content_type)


def batch_openapi_paths(h) -> tuple[dict, dict]:
    """Paths and schemas of the batch export."""
    from app import jobs

    job_id = {"name": "job_id", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DB_INT}}
    filters = [p for p in h.LIST_PARAMS if p["name"] not in ("limit", "cursor")]
    nullable_int = {"type": ["integer", "null"]}
    schemas = {
        "PdfBatchCreate": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "ids": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_DB_INT},
                        "minItems": 1, "description": "The clients to export, in this order. Without ids, the "
                        "list's filters in the query string choose them (in the list's order)."},
                "format": {"enum": ["pdf", "zip"], "default": "pdf",
                           "description": "pdf: one merged PDF; zip: one PDF per card."},
                "brief": {"type": "boolean", "default": False, "description": "Client briefs instead of cards."},
                "watermark": {"enum": list(ss.WATERMARKS), "default": ""},
            },
        },
        "PdfBatch": {
            "type": "object",
            "required": ["id", "status", "progress", "total", "format", "brief", "failed", "download_url"],
            "properties": {
                "id": {"type": "integer"}, "status": {"enum": list(jobs.STATUSES)},
                "progress": {"type": "integer"}, "total": {"type": "integer"},
                "format": {"enum": ["pdf", "zip"]}, "brief": {"type": "boolean"},
                "cards": nullable_int, "skipped": {**nullable_int, "description": "Cards left out: removed, or no "
                                                   "longer visible to the user."},
                "failed": {"type": "array", "items": {"type": "string"},
                           "description": "Client numbers whose PDF could not be made."},
                "error": {"type": ["string", "null"]},
                "created_at": {"type": ["string", "null"], "format": "date-time"},
                "download_url": {"type": ["string", "null"], "description": "Once done, for the user who started "
                                 "the batch, while the file is kept."},
                "filename": {"type": ["string", "null"]}, "size": nullable_int,
                "expires_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
    }
    batch = h._ref("PdfBatch")
    paths = {
        "/clients/pdf-batch": {
            "post": h._op(
                "Export many cards as one merged PDF or a ZIP of PDFs, as a background job: the given ids, or the "
                "filtered list (query parameters as for GET /clients). At most PDF_BATCH_MAX cards (1,000 by "
                "default); never confidential fields; cards the user may not see are left out. Poll the Location.",
                {"202": {**h._json(batch, "The batch was queued."),
                         "headers": {"Location": {"schema": {"type": "string"}}}},
                 **h._errors("415", "422")},
                params=filters, body="PdfBatchCreate", tag="sharing", op_id="createPdfBatch")},
        "/clients/pdf-batch/{job_id}": {
            "parameters": [job_id],
            "get": h._op("A batch export's status; once done, its download_url.",
                         {"200": h._json(batch, "The batch."), **h._errors("404")},
                         tag="sharing", op_id="getPdfBatch")},
        "/clients/pdf-batch/{job_id}/file": {
            "parameters": [job_id],
            "get": h._op("The batch's file (only for the user who started it, kept %d days)." % jobs.FILE_DAYS,
                         {"200": {"description": "The merged PDF or the ZIP.", "content": {
                             "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                             "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                          **h._errors("404")},
                         tag="sharing", op_id="getPdfBatchFile")},
    }
    return paths, schemas


register_paths(batch_openapi_paths)
