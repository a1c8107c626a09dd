from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.clients.numbers import preview_number, validate_number_pattern
from app.extensions import db
from app.htmx import is_partial
from app.settings import bp
from app.settings.forms import SettingsForm
from app.settings.services import (SettingsError, add_stage, move_stage, remove_stage, rename_stage,
                                   save_general, stage_usage)
from app.tenancy import current_tenant
from app.web import admin_required


def _form_for(tenant) -> SettingsForm:
    return SettingsForm(company=tenant.name, timezone=tenant.timezone or "Asia/Shanghai",
                        number_pattern=tenant.setting("number_pattern"),
                        visibility="all" if tenant.setting("members_see_all") else "own",
                        sensitive_reason=tenant.setting("sensitive_reason"))


def _preview(tenant, pattern):
    problem = validate_number_pattern(pattern)
    return (None, problem) if problem else (preview_number(tenant, pattern), None)


def _page(form, status=200, stage_error=None, stage_error_name=None):
    tenant = current_tenant()
    preview, preview_error = _preview(tenant, form.number_pattern.data or "")
    return render_template("settings/index.html", form=form, tenant=tenant, usage=stage_usage(tenant),
                           preview=preview, preview_error=None if form.number_pattern.errors else preview_error,
                           stage_error=stage_error, stage_error_name=stage_error_name), status


@bp.route("/", methods=["GET", "POST"])
@admin_required
def index():
    tenant = current_tenant()
    form = SettingsForm() if request.method == "POST" else _form_for(tenant)
    if form.validate_on_submit():
        changed = save_general(current_user, tenant, name=form.company.data.strip(), timezone=form.timezone.data,
                               number_pattern=form.number_pattern.data,
                               members_see_all=form.visibility.data == "all",
                               sensitive_reason=form.sensitive_reason.data)
        db.session.commit()
        flash(_("Settings saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("settings.index"))
    return _page(form, 422 if form.errors else 200)


@bp.route("/number-preview")
@admin_required
def number_preview():
    tenant = current_tenant()
    pattern = (request.args.get("number_pattern") or "").strip()
    preview, error = _preview(tenant, pattern)
    return render_template("settings/_number_preview.html", preview=preview, preview_error=error)


def _stage_action(action):
    """Run one stage change; answer with the stage list (htmx) or the page."""
    tenant = current_tenant()
    error, status, message = None, 200, None
    try:
        message = action(tenant)
    except SettingsError as e:
        db.session.rollback()
        error, status = e.message, 422
    else:
        db.session.commit()
    if is_partial():
        return render_template("settings/_stages.html", tenant=tenant, usage=stage_usage(tenant), stage_error=error,
                               stage_error_name=request.form.get("stage"), stage_message=message), status
    if error:
        return _page(_form_for(tenant), status, error, request.form.get("stage"))
    if message:
        flash(message, "success")
    return redirect(url_for("settings.index") + "#stages")


@bp.route("/stages", methods=["POST"])
@admin_required
def stage_add():
    def action(tenant):
        name = add_stage(current_user, tenant, request.form.get("name", ""))
        return _("Stage %(name)s added.", name=name)

    return _stage_action(action)


@bp.route("/stages/rename", methods=["POST"])
@admin_required
def stage_rename():
    def action(tenant):
        old = request.form.get("stage", "")
        moved = rename_stage(current_user, tenant, old, request.form.get("name", ""))
        if moved:
            return _("Stage renamed; %(n)d clients moved with it.", n=moved)
        return _("Stage renamed.")

    return _stage_action(action)


@bp.route("/stages/move", methods=["POST"])
@admin_required
def stage_move():
    def action(tenant):
        move_stage(current_user, tenant, request.form.get("stage", ""), request.form.get("direction", ""))
        return None

    return _stage_action(action)


@bp.route("/stages/remove", methods=["POST"])
@admin_required
def stage_remove():
    def action(tenant):
        name = request.form.get("stage", "")
        remove_stage(current_user, tenant, name)
        return _("Stage %(name)s removed.", name=name)

    return _stage_action(action)
