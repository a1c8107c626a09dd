"""Follow-ups (维护记录), their revisions, and the private calendar-feed tokens."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKeyConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db_types import JSONType, UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import TenantScoped


class FollowUp(TenantScoped, db.Model):
    """One contact with a client: when, how, what was said, what comes next."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    date: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(40))
    content: Mapped[str] = mapped_column(Text, default="")
    feedback: Mapped[str] = mapped_column(Text, default="")
    plan: Mapped[str] = mapped_column(Text, default="")  # next steps
    next_date: Mapped[date | None] = mapped_column(Date)
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1..5
    author_id: Mapped[int | None] = mapped_column(Integer)
    assignee_id: Mapped[int | None] = mapped_column(Integer)  # who makes the next contact; moves in a hand-over
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship(primaryjoin="and_(FollowUp.author_id == User.id, FollowUp.tenant_id == User.tenant_id)", foreign_keys=[author_id], viewonly=True)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["client.tenant_id", "client.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "author_id"], ["user.tenant_id", "user.id"]),
        ForeignKeyConstraint(["tenant_id", "assignee_id"], ["user.tenant_id", "user.id"]),
        UniqueConstraint("tenant_id", "id"),
        Index("ix_follow_up_client", "tenant_id", "client_id", "date", "id"),
        Index("ix_follow_up_date", "tenant_id", "date"),
    )


class FollowUpRevision(TenantScoped, db.Model):
    """A follow-up as it was before an edit: every change is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changes: Mapped[dict] = mapped_column(JSONType, default=dict)  # name -> {"from", "to"}

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "follow_up_id"], ["follow_up.tenant_id", "follow_up.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "actor_id"], ["user.tenant_id", "user.id"]),
        Index("ix_follow_up_revision_follow_up", "tenant_id", "follow_up_id", "id"),
    )


class CalendarFeed(TenantScoped, db.Model):
    """A user's private iCalendar URL; only the token's hash is stored, revoking ends it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["user.tenant_id", "user.id"], ondelete="CASCADE"),
        Index("ix_calendar_feed_user", "tenant_id", "user_id"),
    )


class ClientContact(TenantScoped, db.Model):
    """Each card's contact summary, derived and kept in step by the card and follow-up services in the same
    transaction: owner, grade, last contact, the latest follow-up's next contact date and the due date. Today, the
    due list and the calendar feed read only the rows due in their window through (tenant_id, owner_id, due_date).
    Dates, the owner and the grade only: never a field value. `due_date` is empty for an archived or churned card
    (nobody is asked to call it)."""

    __tablename__ = "client_contact"

    client_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_id: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(4))
    created_on: Mapped[date] = mapped_column(Date)  # the card's creation day in the tenant's time zone
    last_contact: Mapped[date | None] = mapped_column(Date)
    next_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["client.tenant_id", "client.id"], ondelete="CASCADE"),
        Index("ix_client_contact_due", "tenant_id", "owner_id", "due_date"),
    )
