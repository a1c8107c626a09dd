"""The template editor (/template): owners and admins tailor the card; every widget is an htmx partial."""
from __future__ import annotations

from flask import Response, abort, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.accounts.models import User
from app.card_templates import bp
from app.card_templates import editing as ed
from app.card_templates.builtin import BUILTIN_KEYS, builtin_choices, load_builtin
from app.card_templates.editing import TYPE_LABELS, TemplateError
from app.card_templates.services import fields_by_key, load_template
from app.card_templates.transfer import export_json, import_template
from app.extensions import db
from app.htmx import is_partial
from app.values import FIELD_TYPES
from app.web import admin_required

CHANGED = "templateChanged"  # preview, version and change log refresh on it
OUTLINE = "outlineStale"  # the outline refreshes on it (sent by actions outside the outline)


def _people() -> dict[int, str]:
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    return {u.id: u.display_name for u in users}


def _ctx(selected: str | None = None, **extra) -> dict:
    template = load_template()
    fields = fields_by_key(template)
    fd = fields.get(selected) if selected else None
    ctx = {"template": template, "sections": sorted(template.sections, key=lambda s: s.position),
           "fd": fd, "selected": fd.key if fd else None, "type_labels": TYPE_LABELS, "field_types": FIELD_TYPES,
           "people": _people(), "builtins": builtin_choices(), "errors": {}, "message": None,
           "archived_fields": [f for f in template.fields if f.archived],
           "usage": ed.option_usage(fd) if fd is not None and fd.type in ed.OPTION_TYPES else {},
           "column_usage": ed.column_usage(fd) if fd is not None and fd.type == "table" else {},
           "changes": ed.recent_changes(30), "describe": ed.describe_change, "local_time": _local_time,
           "merge_key": "", "blocking": [], "form_values": None, "error_form": None, "error_option": None,
           "retire_pending": None, "oob_panel": False, "error_widget": None}
    ctx.update(extra)
    ctx["merge_sections"] = _merge_sections(ctx["merge_key"])
    return ctx


def _local_time(moment) -> str:
    from app.web import format_when

    return format_when(moment)


def _render(widget: str, status: int = 200, events: tuple[str, ...] = (), **ctx):
    """The widget alone for htmx; otherwise the whole editor page (errors) or a redirect (success)."""
    if is_partial():
        response = make_response(render_template(f"card_templates/_{widget}.html", **_ctx(**ctx)), status)
        if events and status < 400:
            response.headers["HX-Trigger"] = ", ".join(events)
        return response
    if status >= 400:
        return render_template("card_templates/edit.html", **_ctx(error_widget=widget, **ctx)), status
    return redirect(url_for("card_templates.edit", field=ctx.get("selected") or None))


def _field_or_404(key: str):
    fd = ed.get_field(key)
    if fd is None:
        abort(404)
    return fd


def _section_or_404(key: str):
    section = ed.get_section(key)
    if section is None:
        abort(404)
    return section


def _do(widget: str, action, *, selected=None, events=(CHANGED,), error_ctx=None, **ctx):
    """Run a service call in one transaction: commit and re-render, or roll back and show its errors."""
    try:
        result = action()
    except TemplateError as e:
        db.session.rollback()
        return _render(widget, e.status, selected=selected, errors=e.errors, blocking=e.blocking, **(error_ctx or {}),
                       **ctx)
    db.session.commit()
    message = ctx.pop("message", None)
    if callable(message):
        message = message(result)
    return _render(widget, 200, events=events, selected=selected, message=message, **ctx)


# ---------------------------------------------------------------- pages and widgets

@bp.route("/")
@admin_required
def edit():
    selected = request.args.get("field")
    if is_partial():
        return render_template("card_templates/_editor.html", **_ctx(selected))
    return render_template("card_templates/edit.html", **_ctx(selected))


@bp.route("/outline")
@admin_required
def outline():
    return _widget("outline")


@bp.route("/preview")
@admin_required
def preview():
    return _widget("preview")


@bp.route("/changes")
@admin_required
def changes():
    return _widget("changes")


def _widget(name: str):
    selected = request.args.get("field")
    if is_partial():
        return render_template(f"card_templates/_{name}.html", **_ctx(selected))
    return render_template("card_templates/edit.html", **_ctx(selected))


# ---------------------------------------------------------------- sections

@bp.route("/sections", methods=["POST"])
@admin_required
def add_section():
    form = request.form
    return _do("outline", lambda: ed.add_section(current_user, form.get("label", ""),
                                                 label_en=form.get("label_en")),
               error_ctx={"error_form": "add_section", "form_values": form})


@bp.route("/sections/<key>", methods=["POST"])
@admin_required
def rename_section(key):
    _section_or_404(key)
    form = request.form
    return _do("outline", lambda: ed.rename_section(current_user, key, form.get("label", ""),
                                                    label_en=form.get("label_en")),
               error_ctx={"error_form": f"section:{key}", "form_values": form})


@bp.route("/sections/<key>/move", methods=["POST"])
@admin_required
def move_section(key):
    _section_or_404(key)
    return _do("outline", lambda: ed.move_section(current_user, key, direction=request.form.get("direction"),
                                                  index=_int(request.form.get("index"))))


@bp.route("/sections/<key>/archive", methods=["POST"])
@admin_required
def archive_section(key):
    _section_or_404(key)
    return _do("outline", lambda: ed.archive_section(current_user, key))


@bp.route("/sections/<key>/restore", methods=["POST"])
@admin_required
def restore_section(key):
    _section_or_404(key)
    return _do("outline", lambda: ed.restore_section(current_user, key), error_ctx={"error_form": "archived"})


# ---------------------------------------------------------------- fields

def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@bp.route("/fields", methods=["POST"])
@admin_required
def add_field():
    form = request.form
    section_key = form.get("section", "")
    _section_or_404(section_key)
    data = {"label": form.get("label", ""), "type": form.get("type") or "text"}
    try:
        fd = ed.add_field(current_user, section_key, data)
    except TemplateError as e:
        db.session.rollback()
        return _render("outline", 422, errors=e.errors, error_form=f"add_field:{section_key}", form_values=form)
    db.session.commit()
    key = fd.key
    if is_partial():
        # The outline is the target; the editor panel opens on the new field in the same response.
        ctx = _ctx(key, oob_panel=True)
        html = render_template("card_templates/_outline.html", **ctx) + render_template(
            "card_templates/_field_panel.html", **ctx)
        response = make_response(html)
        response.headers["HX-Trigger"] = CHANGED
        return response
    return redirect(url_for("card_templates.edit", field=key))


@bp.route("/fields/<key>", methods=["GET"])
@admin_required
def field(key):
    _field_or_404(key)
    if is_partial():
        return render_template("card_templates/_field_panel.html", **_ctx(key))
    return render_template("card_templates/edit.html", **_ctx(key))


def _flag(form, name) -> bool:
    return form.get(name) in ("on", "1", "true", "y")


@bp.route("/fields/<key>", methods=["POST"])
@admin_required
def update_field(key):
    fd = _field_or_404(key)
    form = request.form
    data = {"label": form.get("label", ""), "label_en": form.get("label_en", ""), "help": form.get("help", ""),
            "help_en": form.get("help_en", ""), "hints": form.get("hints", ""),
            **{flag: _flag(form, flag) for flag in ed.FLAGS}}
    if form.get("section") and form.get("section") != fd.section.key:
        data["section"] = form["section"]
    return _do("field_panel", lambda: ed.update_field(current_user, key, data), selected=key,
               events=(CHANGED, OUTLINE), error_ctx={"form_values": form}, message=_("Saved."))


@bp.route("/fields/<key>/move", methods=["POST"])
@admin_required
def move_field(key):
    _field_or_404(key)
    form = request.form
    return _do("outline", lambda: ed.move_field(current_user, key, direction=form.get("direction") or None,
                                                section_key=form.get("section") or None,
                                                index=_int(form.get("index"))),
               selected=form.get("selected") or None)


@bp.route("/fields/<key>/archive", methods=["POST"])
@admin_required
def archive_field(key):
    _field_or_404(key)
    widget = "field_panel" if request.form.get("from") == "panel" else "outline"
    events = (CHANGED, OUTLINE) if widget == "field_panel" else (CHANGED,)
    return _do(widget, lambda: ed.archive_field(current_user, key), selected=key, events=events)


@bp.route("/fields/<key>/restore", methods=["POST"])
@admin_required
def restore_field(key):
    _field_or_404(key)
    widget = "field_panel" if request.form.get("from") == "panel" else "outline"
    events = (CHANGED, OUTLINE) if widget == "field_panel" else (CHANGED,)
    return _do(widget, lambda: ed.restore_field(current_user, key), selected=key, events=events,
               error_ctx={"error_form": "archived"})


@bp.route("/fields/<key>/type", methods=["POST"])
@admin_required
def change_type(key):
    _field_or_404(key)
    form = request.form
    options = form.get("options")
    return _do("field_panel", lambda: ed.change_type(current_user, key, form.get("type", ""),
                                                     options=ed._lines(options) if options and options.strip()
                                                     else None),
               selected=key, events=(CHANGED, OUTLINE), error_ctx={"form_values": form},
               message=lambda n: _("Type changed; %(count)d cards converted.", count=n))


# ---------------------------------------------------------------- options

@bp.route("/fields/<key>/options", methods=["POST"])
@admin_required
def add_option(key):
    _field_or_404(key)
    form = request.form
    return _do("field_panel", lambda: ed.add_option(current_user, key, form.get("option", ""),
                                                    option_en=form.get("option_en")),
               selected=key, error_ctx={"form_values": form})


@bp.route("/fields/<key>/options/rename", methods=["POST"])
@admin_required
def rename_option(key):
    _field_or_404(key)
    form = request.form
    old = form.get("option", "")
    return _do("field_panel", lambda: ed.rename_option(current_user, key, old, form.get("new", "")),
               selected=key, error_ctx={"error_option": old, "form_values": form},
               message=lambda n: _("Option renamed; %(count)d cards updated.", count=n))


@bp.route("/fields/<key>/options/move", methods=["POST"])
@admin_required
def move_option(key):
    _field_or_404(key)
    form = request.form
    return _do("field_panel", lambda: ed.move_option(current_user, key, form.get("option", ""),
                                                     direction=form.get("direction")), selected=key)


@bp.route("/fields/<key>/options/retire", methods=["POST"])
@admin_required
def retire_option(key):
    fd = _field_or_404(key)
    form = request.form
    option = form.get("option", "")
    decision = form.get("decision", "")
    if option in (fd.options or []) and not decision:
        count = ed.option_usage(fd).get(option, 0)
        if count:  # ask first: move those cards to another option, or keep it retired
            return _render("field_panel", 200, selected=key, retire_pending={"option": option, "count": count})
    move_to = form.get("move_to") or None if decision == "move" else None
    if decision == "move" and not move_to:
        return _render("field_panel", 422, selected=key, retire_pending={
            "option": option, "count": ed.option_usage(fd).get(option, 0)},
            errors={"move_to": _("Choose the option those cards move to.")})

    def message(result):
        if result["moved"]:
            return _("Option removed; %(count)d cards moved to “%(to)s”.", count=result["moved"], to=move_to)
        if result["kept"]:
            return _("Option retired; %(count)d cards keep it.", count=result["cards"])
        return _("Option removed.")

    return _do("field_panel", lambda: ed.retire_option(current_user, key, option, move_to=move_to), selected=key,
               message=message)


@bp.route("/fields/<key>/options/restore", methods=["POST"])
@admin_required
def restore_option(key):
    _field_or_404(key)
    return _do("field_panel", lambda: ed.restore_option(current_user, key, request.form.get("option", "")),
               selected=key)


@bp.route("/fields/<key>/columns", methods=["POST"])
@admin_required
def set_columns(key):
    fd = _field_or_404(key)
    form = request.form
    columns = []
    for i in range(len(fd.columns or []) + 1):
        label = form.get(f"col-{i}-label", "")
        if not label.strip() and i == len(fd.columns or []):
            continue  # the empty "new column" row
        columns.append({"key": form.get(f"col-{i}-key") or None, "label": label,
                        "label_en": form.get(f"col-{i}-label_en", ""), "type": form.get(f"col-{i}-type", "text"),
                        "options": form.get(f"col-{i}-options", "")})
    action = form.get("action", "save")
    if ":" in action:
        verb, _sep, index = action.partition(":")
        i = _int(index)
        if i is not None and 0 <= i < len(columns):
            if verb == "remove":
                columns.pop(i)
            elif verb == "up" and i > 0:
                columns.insert(i - 1, columns.pop(i))
            elif verb == "down" and i < len(columns) - 1:
                columns.insert(i + 1, columns.pop(i))
    return _do("field_panel", lambda: ed.set_columns(current_user, key, columns), selected=key,
               error_ctx={"form_values": form})


# ---------------------------------------------------------------- export, import, merge

@bp.route("/export")
@admin_required
def export():
    template = load_template()
    body = export_json(template)
    filename = f"clientcard-template-{template.base_key}-v{template.version}.json"
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/import", methods=["POST"])
@admin_required
def import_():
    upload = request.files.get("file")
    raw = upload.read() if upload else (request.form.get("json") or "").encode()

    def message(summary):
        return _("Imported: %(added)d fields added, %(updated)d updated, %(archived)d archived (values kept).",
                 added=len(summary["added"]), updated=len(summary["updated"]), archived=len(summary["archived"]))

    return _do("import", lambda: import_template(current_user, raw), events=(CHANGED, OUTLINE), message=message)


@bp.route("/merge", methods=["GET", "POST"])
@admin_required
def merge():
    key = request.values.get("builtin") or ""
    if key and key not in BUILTIN_KEYS:
        abort(404)
    if request.method == "GET":
        return _render_merge(key)
    chosen = request.form.getlist("sections")

    def message(result):
        return _("%(sections)d sections with %(fields)d fields added; %(skipped)d fields were already in your "
                 "template and were left as they are.", sections=len(result["sections"]),
                 fields=len(result["fields"]), skipped=len(result["skipped"]))

    return _do("merge", lambda: ed.merge_sections_from_builtin(current_user, key, chosen),
               events=(CHANGED, OUTLINE), message=message, merge_key=key)


def _merge_sections(key: str) -> list[dict]:
    if not key:
        return []
    existing = set(fields_by_key(load_template()))
    out = []
    for s in load_builtin(key)["sections"]:
        new = [f for f in s["fields"] if f["key"] not in existing]
        out.append({"key": s["key"], "label": s["label"], "label_en": s.get("label_en") or s["label"],
                    "new": len(new), "skipped": len(s["fields"]) - len(new)})
    return out


def _render_merge(key: str):
    if is_partial():
        return render_template("card_templates/_merge.html", **_ctx(merge_key=key))
    return render_template("card_templates/edit.html", **_ctx(merge_key=key))
