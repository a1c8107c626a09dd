"""Follow-up pages: the card's timeline widget, grade override, grading rules with preview, the calendar feed."""
from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.accounts.models import User
from app.card_templates.services import fields_by_key, load_template
from app.clients import services as cs
from app.clients.access import can, get_visible_client
from app.extensions import db
from app.followups import bp, feeds
from app.followups import review as review_mod
from app.followups import services as fs
from app.followups.grading import MAX_GRADES, POINT_TYPES, rules_of

FACTOR_ROWS = 4  # points mode: scored fields offered on the settings page
_POINT_SPLIT = re.compile(r"[,，、;；\n]+")
_POINT_PAIR = re.compile(r"^(.+?)\s*[=＝:：]\s*(-?[0-9０-９.]+)$")
from app.followups.models import FollowUp
from app.htmx import is_partial
from app.tenancy import current_tenant
from app.values import InvalidValue, parse_value
from app.web import admin_required


def _client_or_404(client_id: int):
    client = get_visible_client(current_user, client_id)
    if client is None:
        abort(404)
    return client


def _timeline(client, *, errors=None, form=None, status=200, editing=None):
    """The follow-up widget of a card (also a page of its own without htmx)."""
    # On the card (htmx) the latest few, quick to scroll past on a phone; the page of its own shows them all.
    full = not is_partial() or bool(request.values.get("all"))
    limit = 500 if full else 5
    items = fs.followups_of(client, limit=limit + 1)
    context = dict(client=client, items=items[:limit], more=len(items) > limit, full=full, methods=fs.methods(), errors=errors or {},
                   form=form or {}, today=fs.local_today(), can_edit=can(current_user, "clients.edit", client),
                   rules=rules_of(current_tenant()), reason=fs.override_reason(client), editing=editing,
                   can_edit_item=lambda f: fs.can_edit_followup(current_user, f, client),
                   churn_reasons=fs.churn_reasons(), churn_stage=fs.CHURN_STAGE,
                   churn_possible=fs.CHURN_STAGE in current_tenant().stages and client.stage != fs.CHURN_STAGE)
    template = "followups/_timeline.html" if is_partial() else "followups/timeline.html"
    return render_template(template, **context), status


@bp.route("/clients/<int:client_id>/followups")
@login_required
def timeline(client_id):
    return _timeline(_client_or_404(client_id))


@bp.route("/clients/<int:client_id>/followups", methods=["POST"])
@login_required
def add(client_id):
    client = _client_or_404(client_id)
    try:
        fs.add_followup(current_user, client, request.form.to_dict())
    except fs.ValidationFailed as e:
        db.session.rollback()
        return _timeline(_client_or_404(client_id), errors=e.errors, form=request.form.to_dict(), status=422)
    db.session.commit()
    if not is_partial():
        flash(_("Follow-up saved."), "success")
        return redirect(url_for("followups.timeline", client_id=client_id))
    response, status = _timeline(client)
    return response, status, {"HX-Trigger": "followupsChanged"}


def _followup_or_404(followup_id: int):
    followup = db.session.get(FollowUp, followup_id)
    client = _client_or_404(followup.client_id) if followup is not None else None
    if followup is None or client is None:
        abort(404)
    return followup, client


@bp.route("/followups/<int:followup_id>/edit")
@login_required
def edit(followup_id):
    followup, client = _followup_or_404(followup_id)
    if not fs.can_edit_followup(current_user, followup, client):
        abort(403)
    return _timeline(client, editing=followup.id)


@bp.route("/followups/<int:followup_id>", methods=["POST"])
@login_required
def update(followup_id):
    followup, client = _followup_or_404(followup_id)
    try:
        fs.update_followup(current_user, followup, client, request.form.to_dict())
    except fs.ValidationFailed as e:
        db.session.rollback()
        followup, client = _followup_or_404(followup_id)
        return _timeline(client, errors=e.errors, form=request.form.to_dict(), status=422, editing=followup.id)
    db.session.commit()
    if not is_partial():
        return redirect(url_for("followups.timeline", client_id=client.id))
    return _timeline(client)


@bp.route("/clients/<int:client_id>/grade", methods=["POST"])
@login_required
def grade(client_id):
    client = _client_or_404(client_id)
    wanted = None if request.form.get("clear") else (request.form.get("grade") or "").strip()
    try:
        fs.set_grade_override(current_user, client, wanted, request.form.get("reason", ""))
    except fs.ValidationFailed as e:
        db.session.rollback()
        return _timeline(_client_or_404(client_id), errors=e.errors, form=request.form.to_dict(), status=422)
    db.session.commit()
    if not is_partial():
        return redirect(url_for("clients.show", client_id=client_id))
    response, status = _timeline(client)
    return response, status, {"HX-Trigger": "cardChanged"}


@bp.route("/clients/<int:client_id>/churn", methods=["POST"])
@login_required
def churn(client_id):
    client = _client_or_404(client_id)
    try:
        fs.mark_churned(current_user, client, (request.form.get("churn_reason") or "").strip(),
                        version=request.form.get("version", type=int))
    except fs.ValidationFailed as e:
        db.session.rollback()
        return _timeline(_client_or_404(client_id), errors=e.errors, form=request.form.to_dict(), status=422)
    except cs.VersionConflict:
        db.session.rollback()
        return _timeline(_client_or_404(client_id), status=409,
                         errors={"churn_reason": _("This card was changed by someone else; try again.")})
    db.session.commit()
    if not is_partial():
        return redirect(url_for("clients.show", client_id=client_id))
    response, status = _timeline(client)
    return response, status, {"HX-Trigger": "cardChanged"}


# ---------------------------------------------------------------- grading rules

def _rules_from_form(form) -> tuple[dict, dict]:
    """Form fields to the rules' JSON shape; amounts accept 50万 and ￥500,000."""
    errors = {}
    grades, cadence = [], {}
    for i in range(MAX_GRADES):
        name = (form.get(f"name_{i}") or "").strip()
        if not name:
            continue
        raw = (form.get(f"min_{i}") or "").strip()
        low = None
        if raw:
            try:
                low = parse_value("money", raw, {})
            except InvalidValue:
                errors["grades"] = _("Enter each lower bound as an amount such as 500000 or 50万.")
        grades.append({"name": name, "min": low})
        days = (form.get(f"days_{i}") or "").strip()
        cadence[name] = int(days) if days.isdigit() else -1
    first = (form.get("first_visit_days") or "").strip()
    factors = []
    for i in range(FACTOR_ROWS):
        key = (form.get(f"factor_{i}") or "").strip()
        if not key:
            continue
        factor = {"field": key, "weight": 1, "points_text": (form.get(f"points_{i}") or "").strip()}
        raw_weight = (form.get(f"weight_{i}") or "").strip()
        if raw_weight:
            try:
                factor["weight"] = parse_value("number", raw_weight, {})
            except InvalidValue:
                errors["factors"] = _("Enter each weight as a number.")
        if factor["points_text"]:
            points = _points_from_text(factor["points_text"])
            if points is None:
                errors["factors"] = _("Write the points as 爽快=30, 一般=20.")
            else:
                factor["points"] = points
        factors.append(factor)
    data = {"mode": form.get("mode") or "amount", "field": form.get("field"), "factors": factors, "grades": grades,
            "cadence_days": cadence, "first_visit_days": int(first) if first.isdigit() else -1}
    return data, errors


def _points_from_text(text: str) -> dict | None:
    """"爽快=30，一般=20" -> {"爽快": 30, "一般": 20}; None when a part is not option=points."""
    out = {}
    for part in _POINT_SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        m = _POINT_PAIR.match(part)
        if not m:
            return None
        try:
            out[m.group(1).strip()] = parse_value("number", m.group(2), {})
        except InvalidValue:
            return None
    return out or None


def _factor_rows(data, fields: dict) -> list[dict]:
    """The points-mode rows of the form: saved or submitted factors (option points in the field's option order:
    PostgreSQL's JSONB keeps no key order), then empty rows."""
    rows = []
    for f in data.get("factors") or []:
        text = f.get("points_text")
        if text is None and f.get("points"):
            fd = fields.get(f.get("field"))
            order = {o: i for i, o in enumerate((fd.options or []) if fd is not None else [])}
            points = sorted(f["points"].items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
            text = "，".join(f"{k}={v:g}" for k, v in points)
        rows.append({"field": f.get("field"), "weight": f.get("weight", 1), "points_text": text or ""})
    return rows + [{"field": "", "weight": "", "points_text": ""}] * max(0, FACTOR_ROWS - len(rows))


def _grading_page(data, *, errors=None, moves=None, status=200):
    shown = [fd for fd in fields_by_key(load_template(), include_archived=False).values() if not fd.sensitive]
    fields = [fd for fd in shown if fd.type in ("number", "money")]
    rows = list(data.get("grades") or [])
    rows += [{"name": "", "min": None}] * (MAX_GRADES - len(rows))
    context = dict(data=data, rows=rows, fields=fields, errors=errors or {}, moves=moves,
                   point_fields=[fd for fd in shown if fd.type in POINT_TYPES], factor_rows=_factor_rows(data, {fd.key: fd for fd in shown}),
                   summary=fs.summarize_moves(moves) if moves is not None else None)
    if is_partial() and request.endpoint == "followups.grading_preview":
        return render_template("followups/_grading_preview.html", **context), status
    return render_template("followups/grading.html", **context), status


@bp.route("/settings/grading", methods=["GET", "POST"])
@admin_required
def grading():
    if request.method == "GET":
        return _grading_page(rules_of(current_tenant()))
    data, errors = _rules_from_form(request.form)
    if errors:
        return _grading_page(data, errors=errors, status=422)
    try:
        _rules, count = fs.save_rules_and_regrade(current_user, data)
    except fs.ValidationFailed as e:
        db.session.rollback()
        return _grading_page(data, errors=e.errors, status=422)
    db.session.commit()
    flash(_("Grading rules saved; %(n)d clients re-graded.", n=count), "success")
    return redirect(url_for("followups.grading"))


@bp.route("/settings/grading/preview")
@admin_required
def grading_preview():
    data, errors = _rules_from_form(request.args)
    if not errors:
        try:
            rules = fs.validate_rules(data)
        except fs.ValidationFailed as e:
            errors = e.errors
    if errors:
        return _grading_page(data, errors=errors, status=422)
    return _grading_page(data, moves=fs.grade_moves(rules))


# ---------------------------------------------------------------- the calendar feed

@bp.route("/calendar")
@login_required
def calendar():
    return render_template("followups/calendar.html", feed=feeds.active_feed(current_user), url=None)


@bp.route("/calendar", methods=["POST"])
@login_required
def calendar_create():
    token = feeds.new_feed(current_user)
    db.session.commit()
    url = url_for("followups.calendar_feed", token=token, _external=True)
    return render_template("followups/calendar.html", feed=feeds.active_feed(current_user), url=url)


@bp.route("/calendar/revoke", methods=["POST"])
@login_required
def calendar_revoke():
    feeds.revoke_feeds(current_user)
    db.session.commit()
    flash(_("The calendar link no longer works."), "success")
    return redirect(url_for("followups.calendar"))


@bp.route("/calendar/<token>.ics")
def calendar_feed(token):
    body = feeds.feed_for_token(token)
    if body is None:
        abort(404)
    return body, 200, {"Content-Type": "text/calendar; charset=utf-8", "Cache-Control": "private, max-age=900"}


# ---------------------------------------------------------------- the quarterly review

def _review_args():
    """The review for ?period=2026Q3&owner=<id> (422 page on a bad period)."""
    owner = request.args.get("owner", type=int)
    if owner is not None and owner not in {u.id for u in _colleagues()}:
        owner = None
    try:
        return review_mod.build_review(current_user, request.args.get("period"), owner), None
    except review_mod.PeriodInvalid as e:
        return None, e.message


def _colleagues():
    return db.session.scalars(select(User).order_by(User.name)).all()


@bp.route("/review")
@login_required
def review():
    data, error = _review_args()
    today = fs.local_today()
    return render_template("followups/review.html", review=data, error=error, quarters=review_mod.quarters(today),
                           colleagues=_colleagues(), charts=review_mod.chart_data(data) if data else None,
                           query=request.query_string.decode()), 422 if error else 200


@bp.route("/review.xlsx")
@login_required
def review_xlsx():
    data, error = _review_args()
    if error:
        abort(422, description=error)
    body = review_mod.review_xlsx(data)
    return body, 200, {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       "Content-Disposition": f'attachment; filename="review-{data.label}.xlsx"'}


@bp.route("/review.pdf")
@login_required
def review_pdf():
    data, error = _review_args()
    if error:
        abort(422, description=error)
    body = review_mod.review_pdf(data, render_template("followups/review_pdf.html", review=data,
                                                       svgs=review_mod.pdf_charts(data)))
    return body, 200, {"Content-Type": "application/pdf",
                       "Content-Disposition": f'inline; filename="review-{data.label}.pdf"'}
