"""Request plumbing shared by every blueprint: sign-in loading, tenant scope, headers, errors."""
from __future__ import annotations

import unicodedata
from functools import wraps
from urllib.parse import unquote, urlsplit

from flask import abort, current_app, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from app.accounts.models import ADMIN_ROLES, EDITOR_ROLES
from app.db_types import MAX_DB_INT
from app.extensions import db, login_manager
from app.htmx import add_vary
from app.tenancy import all_tenants, reset_current_tenant, set_current_tenant
from app.text_input import BadInput, check_texts

class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` in every route: ids are 32-bit database integers. A larger number becomes 0, an id no row has, so
    it answers 404 like any unknown id instead of overflowing PostgreSQL. (A `max` on the converter would make
    werkzeug answer 405 for some methods.)"""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return number if number <= MAX_DB_INT else 0


def int_arg(name: str) -> int | None:
    """A query-string id, or None when it is missing, not a number or too large for the database."""
    raw = request.args.get(name, "")
    return int(raw) if raw.isdecimal() and int(raw) <= MAX_DB_INT else None


def local_path(target: str | None) -> str | None:
    """`target` if it can only lead to a path of this site, else None (for `next` and other redirect targets)."""
    if not target or len(target) > 2000:
        return None
    # Browsers drop tabs and newlines and read a backslash as a slash: "/\t/evil.example" goes to another
    # site. No legitimate path of ours needs any of them, so refuse rather than guess what a browser does.
    if any(ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in target):
        return None
    # The percent-decoded form is checked too: nothing should decode into a second host either.
    for form in (target, unquote(target)):
        squeezed = "".join(ch for ch in form if not (ch.isspace() or unicodedata.category(ch)[0] in "CZ"))
        if not squeezed.startswith("/") or squeezed.startswith(("//", "/\\")):
            return None
        parts = urlsplit(squeezed)
        if parts.scheme or parts.netloc:
            return None
    return target


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def init_app(app):
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)

    @app.before_request
    def _open_tenant_scope():
        # Each request starts with no tenant; signing in (session or token) sets it.
        g._tenant_token = set_current_tenant(None)
        if not request.path.startswith("/static/"):
            g.pop("_login_user", None)  # an app context reused across requests (tests) keeps no stale user
            g.pop("_flask_babel", None)  # ... nor another request's locale
            g.pop("csrf_token", None)  # ... nor another browser's CSRF token
            if current_user.is_authenticated:  # loads the user (session or remember cookie)
                set_current_tenant(current_user.tenant_id)

    @app.before_request
    def _refuse_control_chars():
        # One check for every form and query string, so no text field anywhere can carry a NUL byte into
        # PostgreSQL (a 500). The API checks its query strings and JSON bodies itself, in problem+json.
        if request.path.startswith(("/static/", "/api/")):
            return
        try:
            check_texts(_request_texts())
        except BadInput as e:
            abort(400, description=str(e.message))

    @app.teardown_request
    def _close_tenant_scope(exc):
        token = g.pop("_tenant_token", None)
        if token is not None:
            try:
                reset_current_tenant(token)
            except ValueError:
                set_current_tenant(None)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if current_app.config.get("BASE_URL", "").startswith("https://"):
            # Only when served over https: a browser that saw this on http://127.0.0.1 would refuse plain http.
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return add_vary(response)

    @app.context_processor
    def _globals():
        from flask_babel import get_locale

        from app.tenancy import current_tenant

        return {"current_tenant": current_tenant() if current_user.is_authenticated else None,
                "current_locale": str(get_locale()), "can": _can}

    _register_field_filters(app)
    app.jinja_env.filters.update(when=format_when, day=format_day)
    for code in (400, 403, 404, 405, 410, 413, 429, 500):
        app.register_error_handler(code, _error_page)
    app.register_error_handler(CSRFError, _csrf_error)
    from app.clients.access import NotAllowed

    app.register_error_handler(NotAllowed, _not_allowed)


def _request_texts():
    """Every text a person or script sent in this request: query string, form fields, path parts."""
    yield request.path
    for key, value in request.args.items(multi=True):
        yield key
        yield value
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        for key, value in request.form.items(multi=True):
            yield key
            yield value
        for key, upload in request.files.items(multi=True):
            yield key
            yield upload.filename or ""


def load_user(user_id: str):
    """The user of a session or remember cookie: "id:nonce:session secret" (see User.get_id), while the
    account is active, its password unchanged (nonce) and that browser session not signed out (UserSession)."""
    from app.accounts.models import User
    from app.accounts.services import check_session

    try:
        uid, nonce, token = user_id.split(":", 2)
        uid = int(uid)
    except (ValueError, AttributeError):
        return None  # also cookies from before sessions were kept on the server: sign in again
    if uid > MAX_DB_INT:
        return None
    # No tenant is in scope yet: find the user across tenants, then scope the session lookup to its tenant.
    user = db.session.execute(all_tenants(select(User).where(User.id == uid))).scalar_one_or_none()
    if user is None or not user.active or user.session_nonce != nonce:
        return None
    set_current_tenant(user.tenant_id)
    if not check_session(user, token):
        set_current_tenant(None)
        return None
    return user


ERROR_TEXT = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    403: (_l("Not allowed"), _l("Your role does not allow this. Ask an admin of your company.")),
    404: (_l("Not found"), _l("This page does not exist, or it belongs to another company.")),
    405: (_l("Not allowed"), _l("This action is not available here.")),
    410: (_l("Gone"), _l("This link has expired or was revoked.")),
    413: (_l("Too large"), _l("The upload is too large.")),
    429: (_l("Too many attempts"), _l("Too many attempts. Please wait a minute and try again.")),
    500: (_l("Something went wrong"), _l("We could not complete this. Nothing was saved; please try again.")),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"
        and not request.accept_mimetypes.accept_html
    )


def _error_page(error):
    code = getattr(error, "code", 500) or 500
    if code == 500:
        db.session.rollback()
    if request.path.startswith("/api/"):
        from app.api.problems import problem_for_error

        return problem_for_error(error)
    title, text = ERROR_TEXT.get(code, ERROR_TEXT[500])
    description = getattr(error, "description", None) if code in (400, 410) or getattr(error, "explained", False) \
        else None
    if wants_json():
        return jsonify(error=str(title), detail=str(description or text)), code
    template = "errors/_error.html" if request.htmx and not request.htmx.boosted else "errors/error.html"
    response = render_template(template, code=code, title=title, text=description or text), code
    return response


def _can(action: str, client=None) -> bool:
    """access.can for the signed-in user, in templates."""
    from app.clients.access import can

    return can(current_user, action, client)


def _not_allowed(error):
    """access.NotAllowed from a service: 403 with its reason, nothing written."""
    from werkzeug.exceptions import Forbidden

    db.session.rollback()
    forbidden = Forbidden(description=str(error.message or ERROR_TEXT[403][1]))
    forbidden.explained = True
    forbidden.api_detail = forbidden.description
    return _error_page(forbidden)


def _csrf_error(error):
    from flask_babel import gettext as _

    error.description = _("Your session expired or the form was sent twice. Reload the page and try again.")
    error.code = 400
    return _error_page(error)


def role_required(*roles):
    """Allow the view only to signed-in users with one of these roles (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = role_required(*ADMIN_ROLES)
editor_required = role_required(*EDITOR_ROLES)


def _register_field_filters(app):
    """Jinja helpers that show stored card values through the value library."""
    from app.values import display_value

    def display_field(fd, value):
        return display_value(fd.type, value, fd.spec())

    def display_cell(col, value):
        if value is None:
            return ""
        return display_value(col.get("type", "text"), value, {"options": col.get("options") or []})

    def col_label(col):
        from flask_babel import get_locale

        if str(get_locale()) == "en":
            return ((col.get("i18n") or {}).get("en") or {}).get("label") or col.get("label")
        return col.get("label")

    app.jinja_env.globals.update(display_field=display_field, display_cell=display_cell, col_label=col_label)


# One date and one date-time format per language, for pages, history and exports alike (the card's date
# fields use the same ISO day, see app.values). Times are shown in the tenant's time zone.
DATE_FORMATS = {"zh": ("%Y-%m-%d", "%Y-%m-%d %H:%M"), "en": ("%Y-%m-%d", "%Y-%m-%d %H:%M")}


def _formats() -> tuple[str, str]:
    from flask_babel import get_locale

    locale = get_locale()
    return DATE_FORMATS.get(locale.language if locale else "zh", DATE_FORMATS["zh"])


def format_when(moment) -> str:
    """A stored UTC moment as the user reads it: local date and time in the one format of their language."""
    if moment is None:
        return ""
    from datetime import timezone

    from flask_babel import to_user_timezone

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return to_user_timezone(moment).strftime(_formats()[1])


def format_day(value) -> str:
    """A date (or the local date of a moment) in the one date format of the user's language."""
    if value is None:
        return ""
    from datetime import datetime, timezone

    from flask_babel import to_user_timezone

    if isinstance(value, datetime):
        value = to_user_timezone(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    return value.strftime(_formats()[0])
