from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db_types import JSONType, UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import TenantScoped

_hasher = PasswordHasher()

ROLES = ("owner", "admin", "member", "viewer")
ADMIN_ROLES = frozenset({"owner", "admin"})  # run the tenant: team, template, settings, every card
EDITOR_ROLES = frozenset({"owner", "admin", "member"})  # create, edit and own cards
DEFAULT_STAGES = ["潜在", "意向", "成交", "长期合作", "流失"]
DEFAULT_SETTINGS = {
    "stages": DEFAULT_STAGES,
    "number_pattern": "{YYYY}{MM}{SEQ:3}",
    "members_see_all": True,
    "sensitive_reason": "always",  # always | never: ask a reason before showing sensitive sections
}


class Tenant(db.Model):
    """A customer company. Not tenant-scoped itself: it is the scope."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def setting(self, name: str):
        return (self.settings or {}).get(name, DEFAULT_SETTINGS.get(name))

    def update_settings(self, **changes) -> None:
        # Reassign so the JSON column is marked dirty.
        self.settings = {**(self.settings or {}), **changes}

    @property
    def stages(self) -> list[str]:
        return list(self.setting("stages"))


class User(UserMixin, TenantScoped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # one login, one tenant
    name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="member")
    language: Mapped[str] = mapped_column(String(8), default="zh_CN")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Changes whenever the password changes or the user is deactivated: every old session ends at once.
    session_nonce: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tenant: Mapped[Tenant] = relationship(lazy="joined")

    __table_args__ = (UniqueConstraint("tenant_id", "id"),)

    # The secret of the browser session this object was signed in with (see UserSession); not a column.
    session_token = None

    def get_id(self) -> str:
        # Flask-Login keeps this in the session cookie and in the remember cookie alike, so both carry the
        # UserSession secret and both die when that row is deleted.
        return f"{self.id}:{self.session_nonce}:{self.session_token or ''}"

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)
        self.session_nonce = secrets.token_hex(8)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    @property
    def display_name(self) -> str:
        return self.name or self.email


def dummy_password_check() -> None:
    """Spend the time of a real check so unknown emails can't be told apart by timing."""
    try:
        _hasher.verify(_DUMMY_HASH, "not-the-password")
    except VerificationError:
        pass


_DUMMY_HASH = _hasher.hash("dummy-password-for-timing")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserSession(TenantScoped, db.Model):
    """One signed-in browser. Its id is the hash of a random secret kept only in that browser's session and
    remember cookies: signing out deletes the row, so neither cookie opens anything afterwards."""

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["user.tenant_id", "user.id"], ondelete="CASCADE"),
        Index("ix_user_session_user", "tenant_id", "user_id"),
    )


class Invite(TenantScoped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16), default="member")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invited_by: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_invite_tenant_email", "tenant_id", "email"),)


class ApiToken(TenantScoped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    name: Mapped[str] = mapped_column(String(80), default="")
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists so a user can tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class AuditRecord(TenantScoped, db.Model):
    """Tenant-level events that outlive their subject (permanent deletes, role changes, hand-overs)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_audit_tenant_at", "tenant_id", "at"),)
