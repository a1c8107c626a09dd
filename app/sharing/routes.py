"""Card PDFs, client briefs and share links: the signed-in pages and the public share page (/s/<token>)."""
from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from app.accounts.models import hash_token
from app.clients import access
from app.clients.access import LimitReached
from app.clients.models import Client
from app.db_types import utcnow
from app.extensions import db, limiter
from app.htmx import is_partial
from app.pdf import RenderFailed, RenderTimeout
from app import jobs
from app.clients.listing import list_fields, parse_list_params
from app.db_types import MAX_DB_INT
from app.sharing import batch as sb, bp, services as ss
from app.sharing.models import ShareLink
from app.tenancy import set_current_tenant
from app.web import admin_required, local_path

PUBLIC_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def _client_or_404(client_id: int) -> Client:
    client = access.get_visible_client(current_user, client_id)
    if client is None:
        abort(404)
    return client


def _pdf_response(data: bytes, filename: str, extra_headers: dict | None = None):
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    for k, v in (extra_headers or {}).items():
        response.headers[k] = v
    return response


def _render_or_503(render):
    """Run a PDF render; a render over its time limit (or failing) answers 503 with a friendly page."""
    try:
        return render(), None
    except RenderTimeout:
        return None, _("The PDF took too long to make. Try again, or leave out long tables.")
    except RenderFailed:
        return None, _("The PDF could not be made. Try again in a moment.")


# ---------------------------------------------------------------- brief and PDF (signed in)

@bp.route("/clients/<int:client_id>/brief")
@login_required
def brief(client_id):
    client = _client_or_404(client_id)
    view = ss.brief_view(current_user, client)
    ss.ch.record_view(current_user, client, "brief")
    db.session.commit()
    return render_template("sharing/brief.html", client=client, view=view, sections=ss.brief_sections(view),
                           people=ss.people_names())


def _pdf_options() -> ss.PdfOptions:
    return ss.PdfOptions(include_sensitive=request.args.get("include_sensitive") in ("1", "on", "true"),
                         reason=(request.args.get("reason") or "").strip(),
                         watermark=request.args.get("watermark") or "",
                         brief=request.args.get("brief") in ("1", "on", "true"))


@bp.route("/clients/<int:client_id>/export")
@login_required
def export(client_id):
    """The PDF options: whole card or brief, watermark, and (for permitted users) the confidential fields."""
    client = _client_or_404(client_id)
    return render_template("sharing/export.html", client=client, opts=ss.PdfOptions(), errors={},
                           watermarks=ss.WATERMARKS,
                           sensitive_ok=access.can(current_user, "clients.read_sensitive", client))


@bp.route("/clients/<int:client_id>/pdf")
@login_required
def pdf(client_id):
    client = _client_or_404(client_id)
    opts = _pdf_options()
    errors = ss.check_pdf_options(current_user, client, opts)  # NotAllowed → 403
    if not errors:
        data, failure = _render_or_503(lambda: ss.card_pdf(current_user, client, opts))
        if data is not None:
            db.session.commit()
            return _pdf_response(data, ss.pdf_filename(client, opts.brief))
        errors = {"pdf": failure}
    status = 503 if "pdf" in errors else 422
    return render_template("sharing/export.html", client=client, opts=opts, errors=errors, watermarks=ss.WATERMARKS,
                           sensitive_ok=access.can(current_user, "clients.read_sensitive", client)), status


# ---------------------------------------------------------------- share links (signed in)

def _share_panel(client, *, status=200, errors=None, form=None, new=None, token=None):
    links = ss.links_for(current_user, client)
    url = url_for("sharing.shared", token=token, _external=True) if token else None
    template = "sharing/_share_panel.html" if is_partial() else "sharing/share.html"
    return render_template(template, client=client, links=links, errors=errors or {}, form=form or {},
                           new=new, new_url=url, qr=ss.qr_svg(url) if url else None,
                           choices=ss.EXPIRY_CHOICES, default_days=ss.DEFAULT_EXPIRY_DAYS,
                           views={link.id: ss.link_views(link, 20) for link in links}), status


@bp.route("/clients/<int:client_id>/share")
@login_required
def share(client_id):
    client = _client_or_404(client_id)
    access.require(current_user, "clients.share", client, _("You may not share this client."))
    return _share_panel(client)


@bp.route("/clients/<int:client_id>/share", methods=["POST"])
@login_required
def create_link(client_id):
    client = _client_or_404(client_id)
    form = {k: (request.form.get(k) or "").strip() for k in ("expires", "expires_on", "access_code", "label")}
    days, until, errors = None, None, {}
    if form["expires"] == "date":
        try:
            until = date.fromisoformat(form["expires_on"])
        except ValueError:
            errors["expires_on"] = _("Enter a date, e.g. 2026-06-30.")
    elif form["expires"]:
        days = int(form["expires"]) if form["expires"].isdigit() and len(form["expires"]) < 5 else -1
    if not errors:
        try:
            link, token = ss.create_share_link(current_user, client, days=days, until=until,
                                               access_code=form["access_code"], label=form["label"])
        except ss.ShareInputError as e:
            errors = e.errors
        except LimitReached as e:
            errors = {"expires": e.message or _("Your plan does not allow links for this long.")}
        else:
            db.session.commit()
            return _share_panel(client, new=link, token=token, status=201)
    db.session.rollback()
    return _share_panel(client, errors=errors, form=form, status=422)


def _link_or_404(link_id: int) -> ShareLink:
    link = db.session.get(ShareLink, link_id)
    if link is None or not ss.may_manage(current_user, link):
        abort(404)
    return link


@bp.route("/share-links/<int:link_id>/revoke", methods=["POST"])
@login_required
def revoke(link_id):
    link = _link_or_404(link_id)
    ss.revoke_link(current_user, link)
    db.session.commit()
    target = local_path(request.form.get("next")) or url_for("sharing.share", client_id=link.client_id)
    return redirect(target)


@bp.route("/share-links")
@admin_required
def links(errors=None, status=200):
    """The tenant's live share links (admins): who made them, for which client, views, revoke."""
    rows = ss.links_for(current_user)
    clients = {c.id: c for c in db.session.scalars(
        access.visible_clients(current_user).where(Client.id.in_({r.client_id for r in rows})))} if rows else {}
    return render_template("sharing/links.html", links=rows, clients=clients, people=ss.people_names(),
                           views={link.id: ss.link_views(link, 20) for link in rows},
                           has_logo=ss.tenant_logo(current_user.tenant_id) is not None, errors=errors or {}), status


@bp.route("/share-links/logo", methods=["POST"])
@admin_required
def logo():
    """Upload (or remove) the company logo printed on PDFs."""
    if request.form.get("remove"):
        ss.remove_logo(current_user.tenant_id)
        db.session.commit()
        flash(_("The logo was removed from PDFs."), "success")
        return redirect(url_for("sharing.links"))
    upload = request.files.get("logo")
    try:
        ss.save_logo(current_user.tenant_id, upload.read(ss.MAX_LOGO_BYTES + 1) if upload else b"")
    except ss.ShareInputError as e:
        return links(errors=e.errors, status=422)
    db.session.commit()
    flash(_("The logo is printed on PDFs from now on."), "success")
    return redirect(url_for("sharing.links"))


# ---------------------------------------------------------------- the public share page

def _guess_key() -> str:
    # Per link, whatever the address: spreading guesses over many addresses does not help.
    return "share-code:" + hash_token(request.view_args.get("token", ""))


def _public(body, status=200):
    response = make_response(body, status)
    response.headers.update(PUBLIC_HEADERS)
    return response


def _open(token: str):
    """The live link and its card, with the tenant set from the link; or a 404 / 410 response."""
    link = ss.find_link(token)
    if link is None:
        return None, None, _public(render_template("sharing/gone.html", code=404), 404)
    set_current_tenant(link.tenant_id)  # the request's scope is now the link's tenant (reset at teardown)
    client = db.session.get(Client, link.client_id)
    if not link.live() or client is None or client.archived_at is not None:
        return None, None, _public(render_template("sharing/gone.html", code=410), 410)
    return link, client, None


def _unlocked(link: ShareLink) -> bool:
    return not link.access_code_hash or link.id in (session.get("share_unlocked") or [])


# Unknown tokens count against the address: walking the token space is throttled on top of being hopeless.
_lookup_limit = limiter.limit(lambda: current_app.config.get("SHARE_LOOKUP_LIMIT", "30 per minute"),
                              key_func=lambda: "share-lookup:" + (get_remote_address() or ""),
                              deduct_when=lambda response: response.status_code == 404)


@bp.route("/s/<token>")
@_lookup_limit
def shared(token):
    link, client, failure = _open(token)
    if failure:
        return failure
    if not _unlocked(link):
        return _public(render_template("sharing/code.html", link=link, token=token, error=None))
    view = ss.brief_view(None, client)
    ss.record_link_view(link, client, ip=request.remote_addr or "", user_agent=request.user_agent.string)
    db.session.commit()
    return _public(render_template("sharing/shared.html", link=link, token=token, client=client, view=view,
                                   sections=ss.brief_sections(view), people=ss.people_names(), now=utcnow()))


@bp.route("/s/<token>", methods=["POST"])
@_lookup_limit
@limiter.limit(lambda: current_app.config.get("SHARE_CODE_LIMIT", "5 per 10 minutes"), key_func=_guess_key)
def unlock(token):
    link, client, failure = _open(token)
    if failure:
        return failure
    if not ss.check_access_code(link, request.form.get("access_code", "")):
        return _public(render_template("sharing/code.html", link=link, token=token,
                                       error=_("That access code is not right.")), 422)
    session["share_unlocked"] = [*(session.get("share_unlocked") or [])[-19:], link.id]
    return _public(redirect(url_for("sharing.shared", token=token)), 303)


@bp.route("/s/<token>/pdf")
@_lookup_limit
def shared_pdf(token):
    link, client, failure = _open(token)
    if failure:
        return failure
    if not _unlocked(link):
        return _public(redirect(url_for("sharing.shared", token=token)), 303)
    data, message = _render_or_503(lambda: ss.card_pdf(None, client, ss.PdfOptions(brief=True), link=link))
    if data is None:
        return _public(render_template("sharing/gone.html", code=503, message=message), 503)
    ss.record_link_view(link, client, ip=request.remote_addr or "", user_agent=request.user_agent.string,
                        kind="pdf")
    db.session.commit()
    return _pdf_response(data, ss.pdf_filename(client, brief=True), PUBLIC_HEADERS)


# ---------------------------------------------------------------- batch export (the list as one PDF or a ZIP)

def _batch_page(params, *, errors=None, form=None, status=200):
    n = len(sb.listed_ids(current_user, params))
    return render_template("sharing/batch.html", params=params, n=n, too_many=n > sb.batch_max(),
                           max_cards=sb.batch_max(), watermarks=ss.WATERMARKS, errors=errors or {},
                           form=form or {}, file_days=jobs.FILE_DAYS), status


@bp.route("/clients/pdf-batch")
@login_required
def batch():
    """The options of a batch export of the filtered list: one merged PDF or a ZIP, card or brief, watermark."""
    return _batch_page(parse_list_params(request.args, list_fields(), strict=False))


@bp.route("/clients/pdf-batch", methods=["POST"])
@login_required
def batch_start():
    """Start a batch export of the ticked rows (scope=selected) or of the filtered list, as a job."""
    from urllib.parse import parse_qsl

    form = {k: (request.form.get(k) or "").strip() for k in ("scope", "format", "kind", "watermark")}
    fields = list_fields()
    params = parse_list_params(dict(parse_qsl(request.form.get("list_query", ""))), fields, strict=False)
    if form["scope"] == "selected":
        ids = sb.selected_ids(current_user, request.form.getlist("ids"))
        empty = _("Select clients first with the boxes in the first column.")
    else:
        ids = sb.listed_ids(current_user, params, fields)
        empty = None
    try:
        if not ids and empty:
            raise sb.BatchInputError({"ids": empty})
        job = sb.start_batch(current_user, ids, fmt=form["format"] or "pdf", brief=form["kind"] == "brief",
                                watermark=form["watermark"])
    except sb.BatchInputError as e:
        db.session.rollback()
        if is_partial():
            return render_template("sharing/_batch_job.html", job=None, errors=e.errors)
        return _batch_page(params, errors=e.errors, form=form, status=422)
    if is_partial():
        return render_template("sharing/_batch_job.html", job=job, errors={})
    return redirect(url_for("sharing.batch_job", job_id=job.id), 303)


@bp.route("/clients/pdf-batch/<int:job_id>")
@login_required
def batch_job(job_id):
    """A batch export's progress bar, then its download (only the user who asked can download it)."""
    job = jobs.visible_job(current_user, job_id) if job_id <= MAX_DB_INT else None
    # Only its maker: the page offers the download, which nobody else may take (admins included).
    if job is None or job.kind != sb.KIND or job.created_by_id != current_user.id:
        abort(404)
    return render_template("sharing/batch_job.html", job=job, errors={})
