"""Bearer-token sign-in, per-token rate limits, body limits and role checks for the API."""
from __future__ import annotations

import time
from functools import wraps

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from app.accounts.models import ADMIN_ROLES, EDITOR_ROLES, hash_token
from app.extensions import limiter
from app.tenancy import set_current_tenant
from app.text_input import BadInput, check_texts, load_json

# Routes under /api/v1 that answer without a token (the OpenAPI document).
PUBLIC_ENDPOINTS = {"api.openapi"}
MAX_BODY_BYTES = 1024 * 1024  # API_MAX_BODY overrides


class ApiError(HTTPException):
    """An HTTP error whose problem+json carries a translated detail and extra members."""

    def __init__(self, code: int, detail=None, **extra):
        self.code = code
        super().__init__(description=str(detail) if detail else None)
        self.api_detail = detail
        self.api_extra = extra


def api_abort(code: int, detail=None, **extra):
    raise ApiError(code, detail, **extra)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def rate_limit_key() -> str:
    """Per real token (its hash, never the token itself); requests without one, or with a made-up or revoked
    one, share a per-address bucket, so guessing tokens is throttled and leaves one key per address."""
    from app.accounts.services import api_token_row

    token = bearer_token()
    if token and api_token_row(token) is not None:
        return "api-token:" + hash_token(token)
    return "api-ip:" + (request.remote_addr or "unknown")


def rate_limit_value() -> str:
    return current_app.config.get("API_LIMIT") or "600 per minute"


def on_rate_limit_breach(request_limit):
    from app.api.problems import problem

    retry_after = max(1, int(request_limit.reset_at - time.time()))
    return problem(429, headers={"Retry-After": str(retry_after)})


def init_blueprint(bp) -> None:
    limiter.shared_limit(rate_limit_value, scope="api", key_func=rate_limit_key, on_breach=on_rate_limit_breach)(bp)
    bp.before_request(authenticate)
    bp.after_request(_no_session_cookie)


def authenticate():
    """Sign the request in by its bearer token alone: a browser session cookie never authenticates the API."""
    from flask_login import AnonymousUserMixin

    from app.accounts.services import user_for_api_token

    # The app-wide hook may have loaded a session user: forget it and its tenant.
    set_current_tenant(None)
    g._login_user = AnonymousUserMixin()
    g.api_user = None
    limit = current_app.config.get("API_MAX_BODY") or MAX_BODY_BYTES
    if request.endpoint == "api.imports_create":  # a client list upload, up to IMPORT_MAX_BYTES
        limit = current_app.config["IMPORT_MAX_BYTES"] + 256 * 1024
    elif request.endpoint == "api.clients_batch":  # up to 1,000 cards
        limit = max(limit, current_app.config.get("API_BATCH_MAX_BODY") or 0)
    if request.content_length is not None and request.content_length > limit:
        api_abort(413)
    if request.content_length is None:
        # A chunked body has no length to check up front, and werkzeug silently cuts a stream at
        # max_content_length (the JSON would then look broken: 400). Allow one byte more and look.
        request.max_content_length = limit + 1
        if len(request.get_data(cache=True)) > limit:
            api_abort(413)
    request.max_content_length = limit
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = bearer_token()
    user = user_for_api_token(token) if token else None
    if user is None:
        api_abort(401)
    set_current_tenant(user.tenant_id)
    g._login_user = user  # current_user (and with it the user's language) is the token's user
    g.api_user = user
    try:  # after sign-in, so the message is in the token user's language
        check_texts(value for item in request.args.items(multi=True) for value in item)
    except BadInput as e:
        api_abort(400, e.message)
    return None


def _no_session_cookie(response):
    # API answers never set or refresh the browser session.
    from flask import session

    session.modified = False
    return response


def current_api_user():
    return g.api_user


def require_roles(*roles):
    """Allow the view only to token users with one of these roles (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.api_user.role not in roles:
                api_abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


editor_only = require_roles(*EDITOR_ROLES)
admin_only = require_roles(*ADMIN_ROLES)


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def json_body() -> dict:
    """The request's JSON object: 415 if it is not JSON, 400 if it does not parse, 422 if it is not an object."""
    from flask_babel import gettext as _

    if not request.mimetype or not (request.mimetype == "application/json" or request.mimetype.endswith("+json")):
        api_abort(415)
    raw = request.get_data(cache=True)
    try:
        data = load_json(raw.decode("utf-8"), parse_constant=_reject_constant) if raw.strip() else None
    except BadInput as e:
        api_abort(400, e.message)
    except (ValueError, UnicodeDecodeError):
        api_abort(400, _("The body is not valid JSON."))
    if not isinstance(data, dict):
        api_abort(422, _("The body must be a JSON object."), errors={})
    return data
