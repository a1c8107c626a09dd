from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from app.accounts import bp
from app.accounts.forms import (ChangePasswordForm, ForgotForm, LoginForm, ProfileForm, ResetForm, SignupForm,
                                TokenForm)
from app.accounts.models import ApiToken, dummy_password_check
from app.accounts.services import (create_api_token, create_tenant, email_taken, end_all_sessions, end_session,
                                   find_user_by_email, make_reset_token, normalize_email, start_session,
                                   user_for_reset_token)
from app.db_types import utcnow
from app.extensions import db, limiter
from app.mail import send_mail
from app.tenancy import set_current_tenant
from app.web import local_path


def _safe_next(default: str) -> str:
    # Only paths of this site: never redirect a freshly signed-in user to another one.
    return local_path(request.args.get("next")) or default


def _sign_in(user, remember: bool = False) -> None:
    """Open a server-side session for this browser and commit it, then set the cookies."""
    start_session(user, request.user_agent.string)
    user.last_login_at = utcnow()  # signing up and accepting an invitation sign in too
    db.session.commit()
    login_user(user, remember=remember)


def _login_account_key() -> str:
    # The same normal form the lookup uses: a full-width or otherwise disguised spelling of one address
    # must count against that account's limit, not start a fresh one.
    return "login:" + normalize_email(request.form.get("email") or "")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGNUP_LIMIT"], methods=["POST"])
def signup():
    from app.card_templates.builtin import DEFAULT_KEY, builtin_choices

    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignupForm(language=session.get("lang", "zh_CN"))
    english = form.language.data == "en" if request.method == "POST" else session.get("lang") == "en"
    form.template.choices = [(key, en if english else zh) for key, zh, en in builtin_choices()]
    if request.method == "GET":
        form.template.data = request.args.get("template") or DEFAULT_KEY
    if form.validate_on_submit():
        if email_taken(form.email.data):
            form.email.errors.append(_("This email is already registered. Sign in or reset your password."))
        else:
            tenant, user = create_tenant(form.company.data, form.name.data, form.email.data, form.password.data,
                                         form.language.data, form.template.data)
            db.session.commit()
            _sign_in(user)
            flash(_("Welcome to ClientCard, %(name)s. Your company account is ready.", name=user.name), "success")
            return redirect(url_for("main.home"))
    return render_template("auth/signup.html", form=form), (422 if form.errors else 200)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_IP"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ACCOUNT"], methods=["POST"], key_func=_login_account_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        if user is None:
            dummy_password_check()
        if user is None or not user.check_password(form.password.data):
            form.password.errors.append(_("Email or password is wrong."))
        elif not user.active:
            form.email.errors.append(_("This account has been deactivated. Ask an admin of your company."))
        else:
            set_current_tenant(user.tenant_id)
            _sign_in(user, remember=form.remember.data)
            session.pop("lang", None)
            return redirect(_safe_next(url_for("main.home")))
    return render_template("auth/login.html", form=form), (422 if form.errors else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        session["lang"] = current_user.language
        # Delete the server-side session: a copy of the old session or remember cookie opens nothing now.
        end_session(current_user._get_current_object())
        db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        if user is not None and user.active:
            link = current_app.config["BASE_URL"] + url_for("auth.reset_password", token=make_reset_token(user))
            send_mail(user.email, _("Reset your ClientCard password"),
                      _("Open this link within one hour to choose a new password:\n\n%(link)s\n\n"
                        "If you did not ask for this, ignore this mail.", link=link))
        # Same answer either way: the form must not reveal who has an account.
        flash(_("If this email has an account, a reset link is on its way. It works once, for one hour."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form), (422 if form.errors else 200)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    user, problem = user_for_reset_token(token)
    if user is None:
        message = (_("This reset link has expired. Ask for a new one.") if problem == "expired"
                   else _("This reset link is not valid or was already used. Ask for a new one."))
        return render_template("errors/error.html", code=410, title=_("Link not valid"), text=message,
                               action_url=url_for("auth.forgot_password"), action_text=_("Ask for a new link")), 410
    form = ResetForm()
    form.email = type("E", (), {"data": user.email})()  # lets the password rules see the email
    if form.validate_on_submit():
        user.set_password(form.password.data)
        end_all_sessions(user)
        db.session.commit()
        flash(_("Your password is changed. Sign in with the new one."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form), (422 if form.errors else 200)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        current_user.name = form.name.data.strip()
        current_user.language = form.language.data
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("auth.account"))
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                                .order_by(ApiToken.id.desc())).all()
    return render_template("auth/account.html", form=form, tokens=tokens, token_form=TokenForm(),
                           password_form=ChangePasswordForm()), (422 if form.errors else 200)


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    form.email = type("E", (), {"data": current_user.email})()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors.append(_("The current password is wrong."))
        else:
            current_user.set_password(form.password.data)
            end_all_sessions(current_user._get_current_object(), keep_current=True)
            db.session.commit()
            # The nonce changed: sign this session in again (with the user, not the proxy); others end.
            login_user(current_user._get_current_object())
            flash(_("Your password is changed. Other sessions are signed out."), "success")
            return redirect(url_for("auth.account"))
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)).all()
    return render_template("auth/account.html", form=ProfileForm(obj=current_user), tokens=tokens,
                           token_form=TokenForm(), password_form=form), 422


@bp.route("/account/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("Give the token a name."), "error")
        return redirect(url_for("auth.account"))
    token = create_api_token(current_user, form.name.data.strip())
    db.session.commit()
    flash(_("Copy this API token now; it will not be shown again: %(token)s", token=token), "token")
    return redirect(url_for("auth.account"))


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id):
    token = db.first_or_404(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == current_user.id))
    token.revoked_at = token.revoked_at or utcnow()
    db.session.commit()
    flash(_("Token revoked."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])
def accept_invite(token):
    from app.team.forms import AcceptInviteForm
    from app.team.services import accept_invite as accept, invite_for_token

    invite, problem = invite_for_token(token)
    if problem == "registered":
        return render_template("errors/error.html", code=409, title=_("Already registered"),
                               text=_("%(email)s already has an account. Sign in with it, or reset its password.",
                                      email=invite.email),
                               action_url=url_for("auth.login"), action_text=_("Sign in")), 409
    if problem:
        text = {"expired": _("This invitation has expired. Ask your admin to send a new one."),
                "used": _("This invitation was already used. Sign in instead."),
                "revoked": _("This invitation was withdrawn. Ask your admin if you still need access."),
                }.get(problem, _("This invitation link is not valid. Check that you copied all of it."))
        return render_template("errors/error.html", code=410, title=_("Invitation not valid"), text=text,
                               action_url=url_for("auth.login"), action_text=_("Sign in")), 410
    form = AcceptInviteForm(language=session.get("lang", "zh_CN"))
    form.email = type("E", (), {"data": invite.email})()  # lets the password rules see the email
    if form.validate_on_submit():
        user = accept(invite, form.name.data.strip(), form.password.data, form.language.data)
        db.session.commit()
        _sign_in(user)
        session.pop("lang", None)
        flash(_("Welcome to %(company)s on ClientCard, %(name)s.", company=user.tenant.name, name=user.name),
              "success")
        return redirect(url_for("main.home"))
    return render_template("auth/accept_invite.html", form=form, invite=invite,
                           company=invite_company(invite)), (422 if form.errors else 200)


def invite_company(invite) -> str:
    from app.accounts.models import Tenant

    tenant = db.session.get(Tenant, invite.tenant_id)
    return tenant.name if tenant else ""
