"""REST API v1: card PDFs, client briefs and share links (documented in the OpenAPI document via openapi_paths)."""
from __future__ import annotations

from datetime import date

from flask import jsonify, make_response, request, url_for
from flask_babel import gettext as _

from app.api import bp
from app.api.auth import api_abort, editor_only, json_body
from app.api.openapi import register_paths
from app.api.problems import problem
from app.api.routes import _check_shape, _client_or_404, _commit_or_fail, _invalid, _user
from app.api.serializers import People, timestamp
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
