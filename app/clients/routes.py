"""Client list (search, filters, sort, keyset pages, saved views, bulk actions) and creating a client.

The card page, edits and history live in card_routes.py.
"""
from flask import abort, flash, get_template_attribute, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.accounts.models import User
from app.card_templates.formdata import raw_from_form
from app.card_templates.cache import cached_template
from app.clients import bp
from app.clients.listing import (BUILTIN_SORTS, MAX_LIMIT, STATE_KEYS, count_clients, count_label, filterable_fields, list_clients,
                                 list_fields, parse_list_params, sortable_fields)
from app.clients.models import Client, SavedView
from app.clients.access import LimitReached, NotAllowed, assignable_user_ids, can, visible_clients
from app.clients.duplicates import DuplicateFound
from app.clients.services import ValidationFailed, create_client, set_archived, update_client
from app.extensions import db
from app.followups.contacts import CHURN_STAGE, churn_reasons
from app.htmx import is_partial
from app.tenancy import current_tenant
from app.web import editor_required

MAX_SAVED_VIEWS = 50
BULK_ACTIONS = ("owner", "add_tag", "remove_tag", "stage", "archive", "restore")


def _people(owners_only: bool = False) -> dict[int, str]:
    """Colleagues of the current tenant by id (a small table: one query per page, no per-row lookups);
    `owners_only`: those who may own a card."""
    stmt = select(User.id, User.name, User.email).order_by(User.name, User.id)
    if owners_only:
        stmt = stmt.where(User.id.in_(assignable_user_ids()))
    return {uid: (name or email) for uid, name, email in db.session.execute(stmt)}


def _saved_views() -> list[SavedView]:
    return db.session.scalars(select(SavedView).where(SavedView.user_id == current_user.id)
                              .order_by(SavedView.name, SavedView.id)).all()


def _list_context(fields, params):
    sort_field = fields.get(params.sort) if params.sort not in BUILTIN_SORTS else None
    page = list_clients(current_user, params, fields, with_values=sort_field is not None)
    return {"params": params, "page": page, "people": _people(), "can_edit": can(current_user, "clients.edit"),
            "sort_field": sort_field}


def _rows(fields, params, *, status=200, message=None, message_kind="success", refresh_count=True):
    ctx = _list_context(fields, params)
    return render_template("clients/_rows.html", oob=True, refresh_count=refresh_count, message=message,
                           message_kind=message_kind, **ctx), status


@bp.route("/")
@login_required
def index():
    fields = list_fields()
    params = parse_list_params(request.args, fields, strict=False)
    if is_partial():
        # Active search and filters replace the rows; "next page" appends them (no new count needed).
        return _rows(fields, params, refresh_count=not params.cursor)
    ctx = _list_context(fields, params)
    tenant = current_tenant()
    return render_template("clients/index.html", stages=tenant.stages, churn_stage=CHURN_STAGE,
                           churn_reasons=churn_reasons(tenant), active_people=_people(owners_only=True),
                           sort_fields=sortable_fields(fields), filter_fields=filterable_fields(fields),
                           views=_saved_views(), max_limit=MAX_LIMIT, **ctx)


@bp.route("/count")
@login_required
def count():
    """The total of the current list, loaded after the rows so a slow count never delays them."""
    fields = list_fields()
    params = parse_list_params(request.args, fields, strict=False)
    total = count_clients(current_user, params, fields)
    return render_template("clients/_rows.html", count_only=True, params=params, total=total,
                           total_label=count_label(total))


# ---------------------------------------------------------------- bulk actions

@bp.route("/bulk", methods=["POST"])
@editor_required
def bulk():
    """Apply one action to the selected clients, each through the card services so history is recorded."""
    template = cached_template()
    fields = list_fields()
    params = parse_list_params(request.form, fields, strict=False)
    action = request.form.get("action", "")
    ids = [int(x) for x in request.form.getlist("ids") if x.isdecimal() and len(x) < 10][:MAX_LIMIT]
    error = None
    clients = db.session.scalars(visible_clients(current_user).where(Client.id.in_(ids))
                                 .order_by(Client.id)).all() if ids else []
    if action not in BULK_ACTIONS:
        error = _("Choose an action.")
    elif not clients:
        error = _("Select at least one client.")
    else:
        try:
            _apply_bulk(action, clients, template)
        except ValidationFailed as e:
            error = str(next(iter(e.errors.values())))
        except NotAllowed as e:
            error = str(e.message)
    if error:
        db.session.rollback()
    else:
        db.session.commit()
    message = error or _bulk_message(action, len(clients))
    if is_partial():
        return _rows(fields, params, message=message, message_kind="error" if error else "success")
    flash(message, "error" if error else "success")
    query = request.form.get("list_query", "")
    return redirect(url_for("clients.index") + (f"?{query}" if query else ""))


def _apply_bulk(action: str, clients: list[Client], template) -> None:
    owner_id = request.form.get("to_owner", "")
    stage = request.form.get("to_stage", "")
    tag = " ".join((request.form.get("bulk_tag") or "").split())
    if action == "owner" and not (owner_id.isdecimal() and len(owner_id) < 10):
        raise ValidationFailed({"owner": _("Choose the new owner.")})
    if action == "stage" and not stage:
        raise ValidationFailed({"stage": _("Choose the new stage.")})
    if action in ("add_tag", "remove_tag") and not tag:
        raise ValidationFailed({"tags": _("Enter the tag.")})
    for c in clients:
        if action == "owner":
            update_client(current_user, c, version=None, owner_id=int(owner_id), template=template)
        elif action == "stage":
            update_client(current_user, c, version=None, stage=stage, template=template,
                          churn_reason=request.form.get("churn_reason"))
        elif action == "add_tag" and tag not in (c.tags or []):
            update_client(current_user, c, version=None, tags=[*(c.tags or []), tag], template=template)
        elif action == "remove_tag" and tag in (c.tags or []):
            update_client(current_user, c, version=None, tags=[t for t in c.tags if t != tag], template=template)
        elif action in ("archive", "restore"):
            set_archived(current_user, c, action == "archive")


def _bulk_message(action: str, n: int) -> str:
    return {
        "owner": _("Assigned %(n)d clients to the new owner.", n=n),
        "add_tag": _("Tag added to %(n)d clients.", n=n),
        "remove_tag": _("Tag removed from %(n)d clients.", n=n),
        "stage": _("Changed the stage of %(n)d clients.", n=n),
        "archive": _("Archived %(n)d clients.", n=n),
        "restore": _("Restored %(n)d clients.", n=n),
    }[action]


# ---------------------------------------------------------------- saved views

def _views_widget(error=None, status=200):
    widget = get_template_attribute("clients/_filters.html", "saved_views")
    return widget(_saved_views(), error=error), status


@bp.route("/views", methods=["POST"])
@login_required
def save_view():
    """Save the current list state (the filter form, or its query string) under a name for this user."""
    source = request.form if any(k in request.form for k in STATE_KEYS) else _query_args(request.form.get("query", ""))
    params = parse_list_params(source, strict=False)
    name = " ".join((request.form.get("name") or "").split())
    error = None
    if not name:
        error = _("Enter a name for this view.")
    elif len(name) > 80:
        error = _("Use at most %(n)d characters.", n=80)
    elif db.session.execute(select(func.count(SavedView.id)).where(SavedView.user_id == current_user.id)
                            ).scalar_one() >= MAX_SAVED_VIEWS:
        error = _("You can keep at most %(n)d saved views; delete one first.", n=MAX_SAVED_VIEWS)
    if error is None:
        existing = db.session.scalars(select(SavedView).where(SavedView.user_id == current_user.id,
                                                              SavedView.name == name)).first()
        if existing is not None:
            existing.query = params.to_query()
        else:
            db.session.add(SavedView(user_id=current_user.id, name=name, query=params.to_query()))
        db.session.commit()
    if is_partial():
        return _views_widget(error, 422 if error else 200)
    flash(error or _("View saved: %(name)s", name=name), "error" if error else "success")
    return redirect(url_for("clients.index") + (f"?{params.to_query()}" if params.to_query() else ""))


@bp.route("/views/<int:view_id>/delete", methods=["POST"])
@login_required
def delete_view(view_id):
    view = db.session.scalars(select(SavedView).where(SavedView.id == view_id,
                                                      SavedView.user_id == current_user.id)).first()
    if view is None:
        abort(404)
    db.session.delete(view)
    db.session.commit()
    if is_partial():
        return _views_widget()
    flash(_("View deleted: %(name)s", name=view.name), "success")
    return redirect(url_for("clients.index"))


def _query_args(query: str):
    from werkzeug.datastructures import MultiDict
    from urllib.parse import parse_qsl

    return MultiDict(parse_qsl(query[:2000]))


# ---------------------------------------------------------------- new client

def new_client_fields(template):
    """The fields of the new-client form: the first section's, plus every required field elsewhere."""
    sections = [s for s in template.sections if not s.archived]
    first = sections[0].active_fields if sections else []
    keys = {f.key for f in first}
    extra = [f for s in sections[1:] for f in s.active_fields if f.required and f.key not in keys]
    return list(first) + extra


def _new_page(template, *, form=None, errors=None, candidates=None, status=200, limit_error=None):
    tenant = current_tenant()
    form = form or {}
    fields = new_client_fields(template)
    values = dict(form.get("values", {}))
    for fd in fields:  # a re-shown person choice must compare equal to the option's user id
        if fd.type == "person" and str(values.get(fd.key, "")).isdecimal():
            values[fd.key] = int(values[fd.key])
    match_labels = {"name": _("name"), "phone": _("phone"), "email": _("email")}
    match_labels.update({f.key: f.t() for f in template.fields if f.identifier})
    return render_template("clients/new.html", fields=fields, form=form, values=values, errors=errors or {},
                           candidates=candidates, match_labels=match_labels, stages=tenant.stages,
                           people=_people(owners_only=True), limit_error=limit_error), status


@bp.route("/new")
@editor_required
def new():
    return _new_page(cached_template(), form={"owner_id": current_user.id})


@bp.route("/", methods=["POST"])
@editor_required
def create():
    """Create a client; invalid input re-renders the form (422), a likely duplicate shows the candidates (409)."""
    template = cached_template()
    fields = new_client_fields(template)
    raw = raw_from_form(fields, request.form)
    owner = request.form.get("owner_id", "")
    form = {"name": request.form.get("name", ""), "stage": request.form.get("stage", ""),
            "owner_id": int(owner) if owner.isdecimal() and len(owner) < 10 else None, "tags": request.form.get("tags", ""),
            "values": raw}
    errors = {}
    if owner and not (owner.isdecimal() and len(owner) < 10):
        errors["owner"] = _("Choose an active colleague as owner.")
    try:
        if errors:
            raise ValidationFailed(errors)
        client = create_client(current_user, name=form["name"], stage=form["stage"] or None,
                               owner_id=form["owner_id"], tags=form["tags"],
                               fields={k: v for k, v in raw.items() if v not in ("", [], None)},
                               allow_duplicate=request.form.get("allow_duplicate") == "1", template=template)
    except ValidationFailed as e:
        db.session.rollback()
        return _new_page(template, form=form, errors={k: str(v) for k, v in e.errors.items()}, status=422)
    except DuplicateFound as e:
        db.session.rollback()
        return _new_page(template, form=form, candidates=e.candidates, status=409)
    except LimitReached as e:
        db.session.rollback()
        return _new_page(template, form=form, limit_error=str(e.message), status=403)
    except NotAllowed as e:
        db.session.rollback()
        return _new_page(template, form=form, errors={"owner": str(e.message)}, status=403)
    db.session.commit()
    flash(_("Client %(name)s created with number %(number)s.", name=client.name, number=client.number), "success")
    return redirect(url_for("clients.show", client_id=client.id))

