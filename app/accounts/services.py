"""Account services: sign-up, sign-in lookups, browser sessions, password reset tokens, API tokens."""
from __future__ import annotations

import secrets
import unicodedata
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select

from app.accounts.models import ApiToken, AuditRecord, Tenant, User, UserSession, hash_token
from app.db_types import utcnow
from app.extensions import db
from app.tenancy import all_tenants, set_current_tenant
from app.text_input import strip_control_chars


def normalize_email(email: str) -> str:
    """The one form of an email used to store, look up and rate-limit it (full-width letters, 。, case, spaces)."""
    from app.values import InvalidValue, parse_value

    try:
        # The form's email parser first, so the raw text of a request ends up exactly as the parsed form field.
        email = parse_value("email", email or "") or ""
    except InvalidValue:
        pass
    return unicodedata.normalize("NFKC", email or "").strip().lower()


def email_taken(email: str) -> bool:
    stmt = select(func.count(User.id)).where(User.email == normalize_email(email))
    return db.session.execute(all_tenants(stmt)).scalar_one() > 0


def find_user_by_email(email: str) -> User | None:
    """Sign-in lookup across tenants (an email belongs to one tenant)."""
    stmt = select(User).where(User.email == normalize_email(email))
    return db.session.execute(all_tenants(stmt)).scalar_one_or_none()


def create_tenant(company: str, name: str, email: str, password: str, language: str = "zh_CN",
                  template_key: str | None = None) -> tuple[Tenant, User]:
    """Create a tenant, its owner and its card template in one transaction; sets the tenant scope."""
    from app.card_templates.builtin import DEFAULT_KEY
    from app.card_templates.services import install_builtin

    tenant = Tenant(name=company.strip(), settings={})
    db.session.add(tenant)
    db.session.flush()
    set_current_tenant(tenant.id)
    user = User(tenant_id=tenant.id, email=normalize_email(email), name=name.strip(), role="owner",
                language=language if language in ("zh_CN", "en") else "zh_CN")
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    install_builtin(template_key or DEFAULT_KEY, actor_id=user.id)
    db.session.add(AuditRecord(actor_id=user.id, action="tenant.create", subject=tenant.name))
    return tenant, user


def add_user(email: str, password: str, role: str = "member", name: str = "", language: str = "zh_CN") -> User:
    """Add a user to the current tenant."""
    user = User(email=normalize_email(email), name=(name or email.split("@")[0]).strip(), role=role,
                language=language)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


# ---------------------------------------------------------------- browser sessions

# last_seen_at is written at most this often: a page view must not turn into a database write.
SESSION_TOUCH_SECONDS = 300


def session_lifetime() -> timedelta:
    """How long an unused session stays valid: as long as the remember cookie lasts."""
    lifetime = current_app.config.get("REMEMBER_COOKIE_DURATION") or timedelta(days=365)
    return lifetime if isinstance(lifetime, timedelta) else timedelta(seconds=int(lifetime))


def start_session(user: User, user_agent: str = "") -> str:
    """Open a server-side session for a browser signing in; sets user.session_token for login_user()."""
    now = utcnow()
    # Sessions never signed out of (a closed browser) are pruned here rather than by a periodic job.
    db.session.execute(delete(UserSession).where(UserSession.tenant_id == user.tenant_id,
                                                 UserSession.user_id == user.id,
                                                 UserSession.last_seen_at < now - session_lifetime()))
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(id=hash_token(token), tenant_id=user.tenant_id, user_id=user.id,
                               created_at=now, last_seen_at=now, user_agent=strip_control_chars(user_agent or "")[:200]))
    user.session_token = token
    return token


def check_session(user: User, token: str) -> bool:
    """Whether this browser session of the user is still open; notes that it was seen (tenant must be set)."""
    if not token:
        return False
    row = db.session.execute(select(UserSession).where(UserSession.id == hash_token(token),
                                                       UserSession.user_id == user.id)).scalar_one_or_none()
    if row is None:
        return False
    now = utcnow()
    if now - row.last_seen_at > session_lifetime():
        return False
    if (now - row.last_seen_at).total_seconds() > SESSION_TOUCH_SECONDS:
        row.last_seen_at = now
        db.session.commit()
    user.session_token = token
    return True


def end_session(user: User) -> None:
    """Sign out the browser session the user object was loaded with."""
    if user.session_token:
        db.session.execute(delete(UserSession).where(UserSession.tenant_id == user.tenant_id,
                                                     UserSession.id == hash_token(user.session_token)))


def end_all_sessions(user: User, keep_current: bool = False) -> None:
    """Sign the user out everywhere (password change, reset, deactivation), or everywhere else."""
    stmt = delete(UserSession).where(UserSession.tenant_id == user.tenant_id, UserSession.user_id == user.id)
    if keep_current and user.session_token:
        stmt = stmt.where(UserSession.id != hash_token(user.session_token))
    db.session.execute(stmt)


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def make_reset_token(user: User) -> str:
    # Signed with a fingerprint of the current hash: setting a new password voids the token (single use).
    return _reset_serializer().dumps({"uid": user.id, "pw": user.password_hash[-16:]})


def user_for_reset_token(token: str) -> tuple[User | None, str]:
    """The user a reset token is for, and '' or the reason it is not valid ('expired' | 'invalid')."""
    try:
        data = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_SECONDS"])
    except SignatureExpired:
        return None, "expired"
    except BadSignature:
        return None, "invalid"
    user = db.session.execute(all_tenants(select(User).where(User.id == data.get("uid")))).scalar_one_or_none()
    if user is None or not user.active or user.password_hash[-16:] != data.get("pw"):
        return None, "invalid"
    set_current_tenant(user.tenant_id)
    return user, ""


def create_api_token(user: User, name: str = "") -> str:
    """A new API token for a user; only its hash is stored, the token is shown once."""
    token = "cc_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(tenant_id=user.tenant_id, user_id=user.id, name=name or "API",
                            prefix=token[:10], token_hash=hash_token(token)))
    return token


def api_token_row(token: str) -> ApiToken | None:
    """The unrevoked token row of a bearer token, looked up once per request (the rate limit asks first)."""
    from flask import has_request_context, request

    key = hash_token(token or "")
    # Kept with the request itself (flask.g can outlive a request in tests).
    cache = request.environ.setdefault("clientcard.api_token_rows", {}) if has_request_context() else {}
    if key not in cache:
        row = db.session.execute(all_tenants(select(ApiToken).where(ApiToken.token_hash == key))).scalar_one_or_none()
        cache[key] = row if row is not None and row.revoked_at is None else None
    return cache[key]


def user_for_api_token(token: str) -> User | None:
    """The active user behind a bearer token (sets the tenant scope), or None."""
    row = api_token_row(token)
    if row is None:
        return None
    user = db.session.execute(all_tenants(select(User).where(User.id == row.user_id))).scalar_one_or_none()
    if user is None or not user.active:
        return None
    set_current_tenant(user.tenant_id)
    now = utcnow()
    # Only write last-used once a minute: an API client hammering us should not hammer the row.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
        db.session.commit()
    return user
