from __future__ import annotations

from datetime import datetime

from sqlalchemy import (Float, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db_types import JSONType, UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import TenantScoped


class Client(TenantScoped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    # Pinyin sort key of the name ("shang.hai.hua.guang 上海华光…"): the list sorts by name in pinyin order, the
    # same on SQLite and PostgreSQL (binary / "C" collation).
    name_sort: Mapped[str] = mapped_column(String(600).with_variant(String(600, collation="C"), "postgresql"),
                                           default="")
    stage: Mapped[str] = mapped_column(String(40))
    grade: Mapped[str | None] = mapped_column(String(4))
    grade_source: Mapped[str | None] = mapped_column(String(8))  # rule | manual
    owner_id: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[list] = mapped_column(JSONType, default=list)
    values: Mapped[dict] = mapped_column(JSONType, default=dict)  # field key -> normalized value
    search_text: Mapped[str] = mapped_column(Text, default="")  # lower-case blob for active search
    completeness: Mapped[float] = mapped_column(Float, default=0.0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], primaryjoin="and_(Client.owner_id == User.id, Client.tenant_id == User.tenant_id)", viewonly=True)
    co_owner_links: Mapped[list[ClientCoOwner]] = relationship(cascade="all, delete-orphan", back_populates="client")

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "owner_id"], ["user.tenant_id", "user.id"]),
        UniqueConstraint("tenant_id", "number"),
        UniqueConstraint("tenant_id", "id"),
        Index("ix_client_tenant_updated", "tenant_id", "updated_at", "id"),
        Index("ix_client_tenant_name", "tenant_id", "name", "id"),
        Index("ix_client_tenant_name_sort", "tenant_id", "name_sort", "id"),
        Index("ix_client_tenant_stage", "tenant_id", "stage"),
        Index("ix_client_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_client_tenant_grade", "tenant_id", "grade"),
    )

    # Every UPDATE checks and bumps the version: a concurrent save fails instead of overwriting.
    __mapper_args__ = {"version_id_col": version}

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @property
    def co_owner_ids(self) -> list[int]:
        return [link.user_id for link in self.co_owner_links]


class ClientCoOwner(TenantScoped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)

    client: Mapped[Client] = relationship(back_populates="co_owner_links")
    user: Mapped[User] = relationship(primaryjoin="and_(ClientCoOwner.user_id == User.id, ClientCoOwner.tenant_id == User.tenant_id)", foreign_keys=[user_id], viewonly=True)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["client.tenant_id", "client.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["user.tenant_id", "user.id"]),
        UniqueConstraint("tenant_id", "client_id", "user_id"),
        Index("ix_client_co_owner_user", "tenant_id", "user_id"),
    )


class ClientSearchGrams(TenantScoped, db.Model):
    """The card's search text as n-grams (every CJK character and pair, every pair of letters or digits), one row per
    card: the index behind one- and two-character searches (华光, 中联, zl), which trigram indexes cannot serve.
    PostgreSQL indexes it with GIN over the gram array, SQLite with an FTS5 table (see migration speed_1).
    Derived from Client.search_text by the card services, so it never holds a sensitive value either."""

    __tablename__ = "client_search_grams"

    client_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    grams: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["client.tenant_id", "client.id"], ondelete="CASCADE"),
    )


class ClientMatchKey(TenantScoped, db.Model):
    """Normalized keys for duplicate detection: name, phone digits, email, identifier fields."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(48))  # name | phone | email | field:<key>
    value: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["client.tenant_id", "client.id"], ondelete="CASCADE"),
        Index("ix_client_match_key_lookup", "tenant_id", "kind", "value"),
        Index("ix_client_match_key_client", "tenant_id", "client_id"),
    )


class ClientFieldValue(TenantScoped, db.Model):
    """A card's number, money, date, select and multiselect values, one row per value (a multiselect gives one per
    option): the list filters and sorts by a template field through these indexes instead of reading the JSON of
    every card. Derived from Client.values by the card services (write_field_values), never edited directly."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))
    num: Mapped[float | None] = mapped_column(Float)  # number and money values
    txt: Mapped[str | None] = mapped_column(String(200))  # dates (ISO, so they sort) and options

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["client.tenant_id", "client.id"], ondelete="CASCADE"),
        Index("ix_client_field_value_num", "tenant_id", "key", "num", "client_id"),
        Index("ix_client_field_value_txt", "tenant_id", "key", "txt", "client_id"),
        Index("ix_client_field_value_client", "tenant_id", "client_id", "key", "txt"),
    )


class ClientChange(TenantScoped, db.Model):
    """One recorded change of a card: who, when, and field-level before/after."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)  # the card version this change produced
    actor_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(24))
    changes: Mapped[dict] = mapped_column(JSONType, default=dict)  # key -> {"from", "to"}
    note: Mapped[str] = mapped_column(String(500), default="")

    actor: Mapped[User | None] = relationship(primaryjoin="and_(ClientChange.actor_id == User.id, ClientChange.tenant_id == User.tenant_id)", foreign_keys=[actor_id], viewonly=True)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["client.tenant_id", "client.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "actor_id"], ["user.tenant_id", "user.id"]),
        Index("ix_client_change_client", "tenant_id", "client_id", "id"),
        Index("ix_client_change_at", "tenant_id", "at"),  # the quarterly review reads a period's changes
    )


class ClientView(TenantScoped, db.Model):
    """查阅登记: every open, print, PDF, export and share of a card, and sensitive reveals with a reason."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default="open")  # open|print|pdf|export|share|sensitive|prep
    reason: Mapped[str] = mapped_column(String(500), default="")

    user: Mapped[User | None] = relationship(primaryjoin="and_(ClientView.user_id == User.id, ClientView.tenant_id == User.tenant_id)", foreign_keys=[user_id], viewonly=True)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["client.tenant_id", "client.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["user.tenant_id", "user.id"]),
        Index("ix_client_view_client", "tenant_id", "client_id", "id"),
        Index("ix_client_view_user", "tenant_id", "user_id", "id"),
    )


class ClientNumberCounter(TenantScoped, db.Model):
    """The last sequence number handed out per tenant and period; row-locked on allocation."""

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(16))
    last_value: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("tenant_id", "period"),)


class SavedView(TenantScoped, db.Model):
    """A user's saved list view: a name and the list's query string."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["user.tenant_id", "user.id"], ondelete="CASCADE"),
        Index("ix_saved_view_user", "tenant_id", "user_id"),
    )
