"""Account services: sign-up, sign-in lookups, password reset tokens, API tokens."""
from __future__ import annotations

import secrets
import unicodedata

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from app.accounts.models import ApiToken, AuditRecord, Tenant, User, hash_token
from app.db_types import utcnow
from app.extensions import db
from app.tenancy import all_tenants, set_current_tenant


def normalize_email(email: str) -> str:
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


def user_for_api_token(token: str) -> User | None:
    """The active user behind a bearer token (sets the tenant scope), or None."""
    row = db.session.execute(
        all_tenants(select(ApiToken).where(ApiToken.token_hash == hash_token(token or "")))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
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
