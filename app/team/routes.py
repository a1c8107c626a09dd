from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.clients.access import LimitReached, require
from app.db_types import utcnow
from app.extensions import db
from app.htmx import is_partial
from app.team import bp
from app.team.forms import InviteForm, role_choices
from app.team.services import (ROLE_LABELS, TeamError, assignable_roles, change_role, client_counts,
                               create_invite, deactivate, get_invite, get_member, handover_candidates, members,
                               pending_invites, reactivate, resend_invite, revoke_invite, run_handover,
                               send_invite_mail)
from app.web import admin_required


def _member_or_404(user_id: int):
    user = get_member(user_id)
    if user is None:
        abort(404)
    return user


def _invite_or_404(invite_id: int):
    invite = get_invite(invite_id)
    if invite is None:
        abort(404)
    return invite


def _remember_link(email: str, link: str) -> bool:
    """Without SMTP the admin passes the link on by hand: keep it for the next page only (never stored).
    True when the link was mailed."""
    if current_app.config.get("SMTP_URL"):
        return True
    session["invite_link"] = {"email": email, "link": link}
    return False


def _page(form=None, status=200, limit_error=None):
    form = form or InviteForm()
    form.role.choices = role_choices(assignable_roles(current_user))
    return render_template("team/index.html", members=members(), invites=pending_invites() if current_user.is_admin
                           else [], form=form, role_labels=ROLE_LABELS, roles=assignable_roles(current_user),
                           new_link=session.pop("invite_link", None), now_utc=utcnow(),
                           limit_error=limit_error), status


@bp.route("/")
@login_required
def index():
    require(current_user, "team.view", message=_("Viewers cannot see the team."))
    return _page()


@bp.route("/invites", methods=["POST"])
@admin_required
def invite():
    form = InviteForm()
    form.role.choices = role_choices(assignable_roles(current_user))
    if form.validate_on_submit():
        try:
            inv, token = create_invite(current_user, form.email.data, form.role.data)
        except TeamError as e:
            getattr(form, e.field or "email").errors.append(str(e.message))
        except LimitReached as e:
            db.session.rollback()
            return _page(form, 403, limit_error=str(e.message))
        else:
            link = send_invite_mail(inv, token, current_user)
            db.session.commit()
            if _remember_link(inv.email, link):
                flash(_("Invitation sent to %(email)s. The link works once, for %(days)d days.", email=inv.email,
                        days=current_app.config["INVITE_DAYS"]), "success")
            else:
                flash(_("Invitation for %(email)s created. No mail was sent: copy the link below and send it "
                        "yourself. It works once, for %(days)d days.", email=inv.email,
                        days=current_app.config["INVITE_DAYS"]), "success")
            return redirect(url_for("team.index"))
    db.session.rollback()
    return _page(form, 422)


@bp.route("/invites/<int:invite_id>/resend", methods=["POST"])
@admin_required
def resend(invite_id):
    inv = _invite_or_404(invite_id)
    try:
        token = resend_invite(current_user, inv)
    except TeamError as e:
        flash(str(e.message), "error")
        return redirect(url_for("team.index"))
    link = send_invite_mail(inv, token, current_user)
    db.session.commit()
    if _remember_link(inv.email, link):
        flash(_("A new link was sent to %(email)s; the old one no longer works.", email=inv.email), "success")
    else:
        flash(_("A new link for %(email)s is below: copy it and send it yourself. The old one no longer works.",
                email=inv.email), "success")
    return redirect(url_for("team.index"))


@bp.route("/invites/<int:invite_id>/revoke", methods=["POST"])
@admin_required
def revoke(invite_id):
    inv = _invite_or_404(invite_id)
    revoke_invite(current_user, inv)
    db.session.commit()
    flash(_("The invitation to %(email)s is revoked.", email=inv.email), "success")
    return redirect(url_for("team.index"))


@bp.route("/<int:user_id>/role", methods=["POST"])
@admin_required
def set_role(user_id):
    user = _member_or_404(user_id)
    error, status = None, 200
    try:
        changed = change_role(current_user, user, request.form.get("role", ""))
    except TeamError as e:
        db.session.rollback()
        error, status = e.message, 422
    else:
        db.session.commit()
        if changed and not is_partial():
            flash(_("%(name)s is now: %(role)s.", name=user.display_name, role=ROLE_LABELS[user.role]), "success")
    if is_partial():
        return render_template("team/_member_row.html", m=user, error=error, role_labels=ROLE_LABELS,
                               roles=assignable_roles(current_user)), status
    if error:
        flash(str(error), "error")
    return redirect(url_for("team.index"))


@bp.route("/<int:user_id>/deactivate", methods=["POST"])
@admin_required
def deactivate_user(user_id):
    user = _member_or_404(user_id)
    try:
        deactivate(current_user, user)
    except TeamError as e:
        db.session.rollback()
        flash(str(e.message), "error")
        return redirect(url_for("team.index"))
    db.session.commit()
    flash(_("%(name)s is deactivated: they can no longer sign in, and their API tokens stop working.",
            name=user.display_name), "success")
    return redirect(url_for("team.handover", user_id=user.id))


@bp.route("/<int:user_id>/reactivate", methods=["POST"])
@admin_required
def reactivate_user(user_id):
    user = _member_or_404(user_id)
    try:
        reactivate(current_user, user)
    except LimitReached as e:
        db.session.rollback()
        return _page(status=403, limit_error=str(e.message))
    except TeamError as e:
        db.session.rollback()
        flash(str(e.message), "error")
        return redirect(url_for("team.index"))
    db.session.commit()
    flash(_("%(name)s can sign in again.", name=user.display_name), "success")
    return redirect(url_for("team.index"))


@bp.route("/<int:user_id>/handover", methods=["GET", "POST"])
@admin_required
def handover(user_id):
    user = _member_or_404(user_id)
    error, chosen, status = None, [], 200
    if request.method == "POST":
        chosen = request.form.getlist("to_user")
        try:
            count = run_handover(current_user, user, chosen)
        except TeamError as e:
            db.session.rollback()
            error, status = e.message, 422
        else:
            db.session.commit()
            flash(_("%(count)d clients of %(name)s were handed over.", count=count, name=user.display_name),
                  "success")
            return redirect(url_for("team.index"))
    return render_template("team/handover.html", user=user, counts=client_counts(user),
                           candidates=handover_candidates(user), chosen={str(c) for c in chosen}, error=error,
                           role_labels=ROLE_LABELS), status
