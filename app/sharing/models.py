"""Share links of client briefs and their view log. The token itself is never stored: only its SHA-256."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import TenantScoped


class ShareLink(TenantScoped, db.Model):
    """A revocable, expiring, read-only link to one client's brief."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    access_code_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(Integer)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    last_viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["client.tenant_id", "client.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "created_by_id"], ["user.tenant_id", "user.id"]),
        UniqueConstraint("tenant_id", "id"),
        Index("ix_share_link_client", "tenant_id", "client_id", "id"),
        Index("ix_share_link_live", "tenant_id", "revoked_at", "expires_at"),
    )

    def live(self, now: datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or utcnow())


class ShareLinkView(TenantScoped, db.Model):
    """One opening of a share link: when, from which address, with which browser."""

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default="open")  # open | pdf
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "link_id"], ["share_link.tenant_id", "share_link.id"], ondelete="CASCADE"),
        Index("ix_share_link_view_link", "tenant_id", "link_id", "id"),
    )


class TenantLogo(TenantScoped, db.Model):
    """The company's logo for its PDFs, kept in the database so every web machine prints the same one."""

    id: Mapped[int] = mapped_column(primary_key=True)
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("tenant_id", name="uq_tenant_logo_tenant"),)
