"""The card page: show, edit a section or the header in place, sensitive reveals, history, view log,
print, visit prep, archive/restore/delete, merge. Lists and creation live in routes.py."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from htmx_flask import make_response
from sqlalchemy import select

from app.followups.contacts import CHURN_STAGE, churn_reasons
from app.accounts.models import User
from app.card_templates.formdata import raw_from_form
from app.card_templates.services import fields_by_key
from app.card_templates.cache import cached_template
from app.clients import access, bp
from app.clients import history as ch
from app.clients import services as cs
from app.clients.duplicates import find_duplicates
from app.clients.merge import merge_clients, merge_plan, merged_into
from app.clients.models import Client, ClientChange
from app.db_types import MAX_DB_INT
from app.web import int_arg
from app.extensions import db
from app.htmx import is_partial
from app.values import InvalidValue, display_value, is_empty, parse_value

META_LABELS = {
    "@name": _l("Name"), "@stage": _l("Stage"), "@owner": _l("Owner"), "@co_owners": _l("Co-owners"),
    "@tags": _l("Tags"), "@grade": _l("Grade"), "@archived": _l("Archived"), "@merged_from": _l("Merged from"),
    "@merged_into": _l("Merged into"),
}
ACTION_LABELS = {
    "create": _l("Created the card"), "edit": _l("Edited"), "revert": _l("Reverted a field"), "archive": _l("Archived"),
    "restore": _l("Restored"), "merge": _l("Merged another card in"), "merged_into": _l("Merged into another card"),
    "handover": _l("Handed over"), "grade": _l("Grade changed"), "import": _l("Imported"),
}
VIEW_KIND_LABELS = {
    "open": _l("Opened"), "print": _l("Printed"), "pdf": _l("PDF"), "export": _l("Exported"), "share": _l("Shared"),
    "sensitive": _l("Opened sensitive fields"), "prep": _l("Visit prep"), "brief": _l("Client brief"),
    "share_open": _l("Opened by share link"), "share_pdf": _l("PDF by share link"),
}
REVERTABLE_META = ("@name", "@stage", "@tags")


# ---------------------------------------------------------------- helpers

def _client_or_404(client_id: int) -> Client:
    client = access.get_visible_client(current_user, client_id)
    if client is None:
        abort(404)
    return client


def _require_edit(client: Client) -> None:
    if not access.can(current_user, "clients.edit", client):
        abort(403)


def _people() -> dict[int, str]:
    """Every colleague by id (inactive ones marked), for showing owners and person values."""
    out = {}
    for u in db.session.scalars(select(User).order_by(User.name, User.id)):
        out[u.id] = u.display_name if u.active else _("%(name)s (inactive)", name=u.display_name)
    return out


def _assignable(extra_ids=()) -> dict[int, str]:
    """Colleagues who can be picked as owner, co-owner or person value (plus the ones already there)."""
    out = {}
    for u in db.session.scalars(select(User).order_by(User.name, User.id)):
        if access.can_own(u) or u.id in extra_ids:
            out[u.id] = u.display_name if u.active else _("%(name)s (inactive)", name=u.display_name)
    return out


def _revealed(client_id: int) -> set[str]:
    return set((session.get("revealed") or {}).get(str(client_id), []))


def _set_revealed(client_id: int, keys: set[str]) -> None:
    data = dict(session.get("revealed") or {})
    if keys:
        data[str(client_id)] = sorted(keys)
    else:
        data.pop(str(client_id), None)
    # Keep the cookie small: only the most recent cards stay open.
    session["revealed"] = dict(list(data.items())[-20:])


def _section_or_404(ctx, key: str):
    for s in ctx.view.sections():
        if s.key == key:
            return s
    abort(404)


def _format(fd, value, people) -> str:
    if is_empty(value):
        return ""
    try:
        return display_value(fd.type, value, fd.spec(person_names=people))
    except Exception:  # an odd stored value still shows
        return str(value)


def _format_meta(key, value, people) -> str:
    if value is None or value == [] or value == "":
        return ""
    if key == "@owner":
        return people.get(value, f"#{value}")
    if key == "@co_owners":
        return "、".join(people.get(v, f"#{v}") for v in value)
    if key == "@tags":
        return "、".join(value)
    if key == "@archived":
        return _("Yes") if value else _("No")
    if key == "@stage":
        from app.web import stage_label

        return stage_label(value)
    if key in ("@merged_from", "@merged_into") and isinstance(value, dict):
        return f"{value.get('number', '')} {value.get('name', '')}".strip()
    return str(value)


class Ctx:
    """What every card widget needs: the card as this user may see it (access.CardView), the template and people.
    `reveal`: the sensitive sections opened in this browser session (default), or False for none (print, prep)."""

    def __init__(self, client: Client, template=None, reveal=None):
        self.client = client
        self.template = template or cached_template()
        self.fields = fields_by_key(self.template)
        self.people = _people()
        self.view = access.card_view(current_user, client, self.template,
                                     reveal=_revealed(client.id) if reveal is None else reveal)
        self.sensitive_ok = self.view.sensitive_ok
        self.can_edit = self.view.can_edit
        self.revealed = self.view.revealed
        self.ask_reason = _tenant_setting("sensitive_reason") != "never"

    def can(self, action: str) -> bool:
        """access.can for the signed-in user and this card, for templates."""
        return access.can(current_user, action, self.client)

    def assignable(self, *current) -> dict[int, str]:
        """Colleagues to pick from, plus whoever is already chosen (so a save never drops them)."""
        held = set()
        for v in current:
            held |= set(v) if isinstance(v, (list, tuple, set)) else ({v} if isinstance(v, int) else set())
        return _assignable(held)

    def field_visible(self, fd) -> bool:
        return self.view.field_visible(fd)

    def collapsed(self, section) -> bool:
        return self.view.collapsed(section)

    def describe(self, change: ClientChange) -> list[dict]:
        """One change as readable rows: label, before, after; masked where the user may not see the value."""
        rows = []
        for key, diff in sorted((change.changes or {}).items(), key=lambda kv: self._order(kv[0])):
            before, after = (diff or {}).get("from"), (diff or {}).get("to")
            if key.startswith("@"):
                rows.append({"key": key, "label": META_LABELS.get(key, key), "masked": False,
                             "before": _format_meta(key, before, self.people),
                             "after": _format_meta(key, after, self.people),
                             "revertable": key in REVERTABLE_META and self._revertable(change),
                             "link": after if key in ("@merged_from", "@merged_into") else None})
                continue
            fd = self.fields.get(key)
            if fd is None:
                rows.append({"key": key, "label": key, "masked": False, "before": str(before or ""),
                             "after": str(after or ""), "revertable": False, "link": None})
                continue
            visible = self.field_visible(fd)
            rows.append({"key": key, "label": fd.t(), "masked": not visible,
                         "before": _format(fd, before, self.people) if visible else "",
                         "after": _format(fd, after, self.people) if visible else "",
                         "revertable": visible and not fd.archived and self._revertable(change),
                         "link": None})
        return rows

    def _revertable(self, change: ClientChange) -> bool:
        # Undoing a creation would only empty the card; merges from other cards are not this card's edits.
        return change.client_id == self.client.id and change.action != "create"

    def _order(self, key):
        if key.startswith("@"):
            return (0, list(META_LABELS).index(key) if key in META_LABELS else 99, key)
        fd = self.fields.get(key)
        return (1, fd.position if fd else 10 ** 6, key)


def _tenant_setting(name):
    from app.tenancy import current_tenant

    tenant = current_tenant()
    return tenant.setting(name) if tenant else None


def _form_values(fields, raw: dict) -> dict:
    """The user's input, re-shown as typed: parsed where it parses, the raw text where it does not."""
    out = {}
    for fd in fields:
        r = raw.get(fd.key)
        try:
            out[fd.key] = parse_value(fd.type, r, fd.spec(allow_retired=True))
        except InvalidValue:
            out[fd.key] = r
    return out


def _editable(ctx: Ctx, section) -> list:
    return [f for f in section.active_fields if ctx.view.field_writable(f)]


def _duplicates(ctx: Ctx):
    return find_duplicates(current_user, ctx.template, ctx.client.name, ctx.client.values or {},
                              exclude_id=ctx.client.id)


def _page(ctx: Ctx, body: str, status: int = 200, **kw):
    """A card tab: the whole page, or only its body for an htmx request."""
    kw.setdefault("states", {})
    if is_partial():
        return render_template(body, ctx=ctx, client=ctx.client, **kw), status
    return render_template("clients/show.html", ctx=ctx, client=ctx.client, body=body,
                           merged_into=merged_into(ctx.client), duplicates=_duplicates(ctx), **kw), status


def _section_widget(ctx: Ctx, section, *, mode="view", status=200, values=None, errors=None, changes=None,
                    reason_error=None):
    state = {"mode": mode, "values": values, "errors": errors or {}, "changes": changes or [],
             "reason_error": reason_error}
    if is_partial():
        return render_template("clients/_section.html", ctx=ctx, client=ctx.client, section=section,
                               state=state), status
    return _page(ctx, "clients/_card_body.html", status, states={section.key: state})


def _header_widget(ctx: Ctx, *, mode="view", status=200, form=None, errors=None, changes=None):
    state = {"mode": mode, "form": form, "errors": errors or {}, "changes": changes or [],
             "churn_stage": CHURN_STAGE, "churn_reasons": churn_reasons() if mode != "view" else []}
    if is_partial():
        return render_template("clients/_header.html", ctx=ctx, client=ctx.client, header=state), status
    return _page(ctx, "clients/_card_body.html", status, header=state)


def _conflict_changes(ctx: Ctx, changes) -> list[dict]:
    return [{"change": c, "rows": ctx.describe(c), "actor": ctx.people.get(c.actor_id, "")} for c in changes]


def _reload(client_id: int) -> Client:
    db.session.rollback()
    return _client_or_404(client_id)


def _save_merging(client: Client, version, keys: set[str], **kwargs) -> None:
    """Save with optimistic locking; a newer version that touched none of these keys is no conflict
    (two people editing different sections both keep their work), otherwise VersionConflict."""
    try:
        cs.update_client(current_user, client, version=version, **kwargs)
    except cs.VersionConflict as e:
        if not e.changes or any(k in keys for c in e.changes for k in (c.changes or {})):
            raise
        cs.update_client(current_user, client, version=client.version, **kwargs)


# ---------------------------------------------------------------- the card page

@bp.route("/<int:client_id>")
@login_required
def show(client_id):
    client = _client_or_404(client_id)
    if not is_partial():
        _set_revealed(client.id, set())  # a fresh open asks again before showing sensitive sections
    ch.record_view(current_user, client, "open")
    db.session.commit()
    return _page(Ctx(client), "clients/_card_body.html")


@bp.route("/<int:client_id>/sections/<key>")
@login_required
def section(client_id, key):
    ctx = Ctx(_client_or_404(client_id))
    sec = _section_or_404(ctx, key)
    return _section_widget(ctx, sec, mode="collapsed" if ctx.collapsed(sec) else "view")


@bp.route("/<int:client_id>/sections/<key>/edit")
@login_required
def edit_section(client_id, key):
    client = _client_or_404(client_id)
    _require_edit(client)
    ctx = Ctx(client)
    sec = _section_or_404(ctx, key)
    if ctx.collapsed(sec):
        return _section_widget(ctx, sec, mode="collapsed")
    return _section_widget(ctx, sec, mode="edit", values=dict(client.values or {}))


@bp.route("/<int:client_id>/sections/<key>", methods=["POST"])
@login_required
def update_section(client_id, key):
    client = _client_or_404(client_id)
    _require_edit(client)
    ctx = Ctx(client)
    sec = _section_or_404(ctx, key)
    if ctx.collapsed(sec):
        return _section_widget(ctx, sec, mode="collapsed", status=409)
    fields = _editable(ctx, sec)
    raw = raw_from_form(fields, request.form)
    version = request.form.get("version", type=int)
    try:
        _save_merging(client, version, set(raw), fields=raw, template=ctx.template,
                      required_keys={f.key for f in fields})
    except cs.ValidationFailed as e:
        db.session.rollback()
        ctx = Ctx(_client_or_404(client_id))
        return _section_widget(ctx, _section_or_404(ctx, key), mode="edit", status=422,
                               values=_form_values(fields, raw), errors=e.errors)
    except cs.VersionConflict as e:
        changes = list(e.changes)
        ctx = Ctx(_reload(client_id))
        sec = _section_or_404(ctx, key)
        return _section_widget(ctx, sec, mode="conflict", status=409, values=_form_values(fields, raw),
                               changes=_conflict_changes(ctx, changes))
    db.session.commit()
    if not is_partial():
        flash(_("Saved."), "success")
        return redirect(url_for("clients.show", client_id=client.id, _anchor=f"section-{key}"))
    ctx = Ctx(client)
    response = make_response(*_section_widget(ctx, _section_or_404(ctx, key)),
                             trigger={"cardChanged": {"version": client.version}})
    return response


@bp.route("/<int:client_id>/sections/<key>/reveal", methods=["POST"])
@login_required
def reveal_section(client_id, key):
    client = _client_or_404(client_id)
    ctx = Ctx(client)
    sec = _section_or_404(ctx, key)
    if not access.can(current_user, "clients.read_sensitive", client):
        abort(403)
    reason = (request.form.get("reason") or "").strip()
    if ctx.ask_reason and not reason:
        return _section_widget(ctx, sec, mode="collapsed", status=422,
                               reason_error=_("Say why you need to see these fields."))
    ch.record_view(current_user, client, "sensitive", reason or _("(no reason asked)"))
    db.session.commit()
    _set_revealed(client.id, set(ctx.revealed) | {key})
    ctx = Ctx(client)
    return _section_widget(ctx, sec)


@bp.route("/<int:client_id>/fields/<key>/validate", methods=["POST"])
@login_required
def validate_field(client_id, key):
    client = _client_or_404(client_id)
    _require_edit(client)
    template = cached_template()
    fd = fields_by_key(template).get(key)
    if fd is None or fd.archived:
        abort(404)
    raw = raw_from_form([fd], request.form)
    message = None
    try:
        value = parse_value(fd.type, raw[fd.key], fd.spec(allow_retired=True))
        if fd.required and is_empty(value):
            message = _("%(label)s is required.", label=fd.t())
    except InvalidValue as e:
        message = e.message
    return render_template("clients/_field_error.html", key=fd.key, message=message)


# ---------------------------------------------------------------- header: name, stage, owners, tags

def _header_form(client: Client) -> dict:
    return {"name": client.name, "stage": client.stage, "owner_id": client.owner_id,
            "co_owner_ids": list(client.co_owner_ids), "tags": "，".join(client.tags or [])}


@bp.route("/<int:client_id>/header")
@login_required
def header(client_id):
    return _header_widget(Ctx(_client_or_404(client_id)))


@bp.route("/<int:client_id>/header/edit")
@login_required
def edit_header(client_id):
    client = _client_or_404(client_id)
    _require_edit(client)
    return _header_widget(Ctx(client), mode="edit", form=_header_form(client))


@bp.route("/<int:client_id>/header", methods=["POST"])
@login_required
def update_header(client_id):
    client = _client_or_404(client_id)
    _require_edit(client)
    f = request.form
    owner_raw, co_raw = f.get("owner_id", ""), f.getlist("co_owner_ids")
    form = {"name": f.get("name", ""), "stage": f.get("stage", ""), "tags": f.get("tags", ""),
            "churn_reason": f.get("churn_reason", ""),
            "owner_id": int(owner_raw) if owner_raw.isdecimal() and len(owner_raw) < 10 else None,
            "co_owner_ids": [int(i) for i in co_raw if i.isdecimal() and len(i) < 10]}
    errors = {}
    if form["owner_id"] is None:
        errors["owner"] = _("Choose an active colleague as owner.")
    try:
        if errors:
            raise cs.ValidationFailed(errors)
        _save_merging(client, f.get("version", type=int), {"@name", "@stage", "@owner", "@co_owners", "@tags"},
                      name=form["name"], stage=form["stage"], owner_id=form["owner_id"],
                      co_owner_ids=form["co_owner_ids"], tags=form["tags"], churn_reason=form["churn_reason"])
    except cs.ValidationFailed as e:
        db.session.rollback()
        return _header_widget(Ctx(_client_or_404(client_id)), mode="edit", status=422, form=form, errors=e.errors)
    except access.NotAllowed as e:
        db.session.rollback()
        return _header_widget(Ctx(_client_or_404(client_id)), mode="edit", status=403, form=form,
                              errors={"owner": e.message})
    except cs.VersionConflict as e:
        changes = list(e.changes)
        ctx = Ctx(_reload(client_id))
        return _header_widget(ctx, mode="conflict", status=409, form=form, changes=_conflict_changes(ctx, changes))
    db.session.commit()
    if not is_partial():
        flash(_("Saved."), "success")
        return redirect(url_for("clients.show", client_id=client.id))
    return make_response(*_header_widget(Ctx(client)), trigger={"cardChanged": {"version": client.version}})


# ---------------------------------------------------------------- history, as of, revert

def _history_rows(ctx: Ctx) -> list[dict]:
    merged = {}
    out = []
    for change in ch.history_with_merged(ctx.client):
        if change.client_id != ctx.client.id and change.client_id not in merged:
            other = db.session.get(Client, change.client_id)
            merged[change.client_id] = other
        out.append({"change": change, "rows": ctx.describe(change), "actor": ctx.people.get(change.actor_id, ""),
                    "action": ACTION_LABELS.get(change.action, change.action),
                    "from_card": merged.get(change.client_id)})
    return out


@bp.route("/<int:client_id>/history")
@login_required
def history(client_id):
    ctx = Ctx(_client_or_404(client_id))
    return _page(ctx, "clients/_history.html", entries=_history_rows(ctx))


@bp.route("/<int:client_id>/history/<int:version>")
@login_required
def as_of(client_id, version):
    client = _client_or_404(client_id)
    if version < 1 or version > client.version:
        abort(404)
    ctx = Ctx(client)
    change = db.session.scalars(select(ClientChange).where(ClientChange.client_id == client.id,
                                                           ClientChange.version <= version)
                                .order_by(ClientChange.id.desc()).limit(1)).first()
    state = ch.state_as_of(client, version)
    return render_template("clients/as_of.html", ctx=ctx, client=client, state=state, version=version,
                           change=change, sections=ctx.view.sections())


@bp.route("/<int:client_id>/history/<int:change_id>/revert", methods=["POST"])
@login_required
def revert(client_id, change_id):
    client = _client_or_404(client_id)
    _require_edit(client)
    change = db.session.scalars(select(ClientChange).where(ClientChange.id == change_id,
                                                           ClientChange.client_id == client.id)).first()
    key = request.form.get("key", "")
    if change is None or key not in (change.changes or {}):
        abort(404)
    ctx = Ctx(client)
    old = (change.changes[key] or {}).get("from")
    kwargs = {}
    if key.startswith("@"):
        if key not in REVERTABLE_META:
            abort(404)
        kwargs[{"@name": "name", "@stage": "stage", "@tags": "tags"}[key]] = old if old is not None else (
            [] if key == "@tags" else None)
        label = META_LABELS[key]
    else:
        fd = ctx.fields.get(key)
        if fd is None or not ctx.field_visible(fd):
            abort(404)
        kwargs["fields"] = {key: old}
        label = fd.t()
    message, kind = _("%(label)s was set back to its earlier value.", label=label), "success"
    try:
        cs.update_client(current_user, client, version=request.form.get("version", type=int), action="revert",
                         note=f"#{change.id}", template=ctx.template, **kwargs)
        db.session.commit()
    except cs.ValidationFailed as e:
        db.session.rollback()
        message, kind = " ".join(str(m) for m in e.errors.values()), "error"
    except cs.VersionConflict:
        db.session.rollback()
        message, kind = _("The card changed meanwhile; the history below is up to date. Try again."), "warning"
    if not is_partial():
        flash(message, kind)
        return redirect(url_for("clients.history", client_id=client_id))
    ctx = Ctx(_client_or_404(client_id))
    return _page(ctx, "clients/_history.html", 200 if kind != "error" else 422, entries=_history_rows(ctx),
                 message=message, message_kind=kind)


# ---------------------------------------------------------------- view log (查阅登记)

@bp.route("/<int:client_id>/views")
@login_required
def view_log(client_id):
    client = _client_or_404(client_id)
    if not access.can(current_user, "clients.view_log"):
        abort(403)
    ctx = Ctx(client)
    return _page(ctx, "clients/_view_log.html", views=ch.view_log(client), kinds=VIEW_KIND_LABELS)


@bp.route("/view-log")
@login_required
def user_view_log():
    if not access.can(current_user, "clients.view_log"):
        abort(403)
    users = db.session.scalars(select(User).order_by(User.name, User.id)).all()
    uid = int_arg("user")
    chosen = None
    if uid is not None:
        chosen = db.session.scalars(select(User).where(User.id == uid)).first()
        if chosen is None:
            abort(404)
    rows = ch.views_by_user(chosen.id) if chosen else []
    template = "clients/_user_views.html" if is_partial() else "clients/user_views.html"
    return render_template(template, users=users, chosen=chosen, rows=rows, kinds=VIEW_KIND_LABELS)


# ---------------------------------------------------------------- print and visit prep

@bp.route("/<int:client_id>/print")
@login_required
def print_card(client_id):
    client = _client_or_404(client_id)
    ch.record_view(current_user, client, "print")
    db.session.commit()
    ctx = Ctx(client, reveal=False)  # prints never carry sensitive values
    return render_template("clients/print.html", ctx=ctx, client=client, sections=ctx.view.sections())


PREP_LABELS = {"required": _l("Required, still empty"), "brief": _l("Key facts still empty"),
               "never": _l("Never filled"), "stale": _l("Not updated for over half a year")}


@bp.route("/<int:client_id>/prep")
@login_required
def prep(client_id):
    client = _client_or_404(client_id)
    ch.record_view(current_user, client, "prep")
    db.session.commit()
    ctx = Ctx(client, reveal=False)
    items = cs.visit_prep(ctx.template, client)
    groups = []
    for reason in PREP_LABELS:
        group = [i for i in items if i.reason == reason]
        if group:
            groups.append((reason, PREP_LABELS[reason], group))
    template = "clients/_prep.html" if is_partial() else "clients/prep.html"
    return render_template(template, ctx=ctx, client=client, groups=groups)


# ---------------------------------------------------------------- archive, restore, delete

def _done(client_id, message, endpoint="clients.show"):
    flash(message, "success")
    url = url_for(endpoint, client_id=client_id) if client_id else url_for(endpoint)
    if request.htmx:
        return make_response("", 204, redirect=url)
    return redirect(url)


@bp.route("/<int:client_id>/archive", methods=["POST"])
@login_required
def archive(client_id):
    client = _client_or_404(client_id)
    _require_edit(client)
    cs.set_archived(current_user, client, True)
    db.session.commit()
    return _done(client.id, _("The card was archived. You can restore it at any time."))


@bp.route("/<int:client_id>/restore", methods=["POST"])
@login_required
def restore(client_id):
    client = _client_or_404(client_id)
    _require_edit(client)
    cs.set_archived(current_user, client, False)
    db.session.commit()
    return _done(client.id, _("The card was restored."))


@bp.route("/<int:client_id>/delete", methods=["GET", "POST"])
@login_required
def delete(client_id):
    client = _client_or_404(client_id)
    if not access.can(current_user, "clients.delete", client):
        abort(403)
    error = None
    if request.method == "POST":
        typed = (request.form.get("confirm_name") or "").strip()
        if typed != client.name:
            error = _("Type the client's name exactly to confirm.")
        else:
            name = client.name
            cs.delete_permanently(current_user, client)
            db.session.commit()
            flash(_("%(name)s was deleted permanently.", name=name), "success")
            url = url_for("clients.index")
            return make_response("", 204, redirect=url) if request.htmx else redirect(url)
    template = "clients/_delete.html" if is_partial() else "clients/delete.html"
    return render_template(template, client=client, error=error), 422 if error else 200


# ---------------------------------------------------------------- merge

@bp.route("/<int:client_id>/merge", methods=["GET", "POST"])
@login_required
def merge(client_id):
    kept = _client_or_404(client_id)
    _require_edit(kept)
    other_id = request.values.get("other", type=int)
    other_id = other_id if other_id is not None and 0 < other_id <= MAX_DB_INT else None
    other = access.get_visible_client(current_user, other_id) if other_id else None
    if other is None or other.id == kept.id:
        abort(404)
    ctx = Ctx(kept)
    error, status = None, 200
    if request.method == "POST":
        choices = {k[7:]: v for k, v in request.form.items() if k.startswith("choice.") and v in ("kept", "other")}
        try:
            merge_clients(current_user, kept, other, kept_version=request.form.get("kept_version", type=int),
                          other_version=request.form.get("other_version", type=int), choices=choices,
                          name_from=request.form.get("name_from", "kept"), template=ctx.template)
        except cs.ValidationFailed as e:
            db.session.rollback()
            error, status = " ".join(str(m) for m in e.errors.values()), 422
        except cs.VersionConflict:
            db.session.rollback()
            error, status = _("One of the cards changed meanwhile. Check the choices below and merge again."), 409
        except access.NotAllowed as e:
            db.session.rollback()
            error, status = str(e.message), 403
        else:
            db.session.commit()
            flash(_("%(other)s was merged into this card and archived.", other=other.number), "success")
            url = url_for("clients.show", client_id=kept.id)
            return make_response("", 204, redirect=url) if request.htmx else redirect(url)
        kept, other = _client_or_404(client_id), _client_or_404(other_id)
        ctx = Ctx(kept)
    rows = merge_plan(current_user, ctx.template, kept, other)
    template = "clients/_merge.html" if is_partial() else "clients/merge.html"
    return render_template(template, ctx=ctx, kept=kept, other=other, rows=rows, error=error,
                           choices=request.form if request.method == "POST" else {}), status

