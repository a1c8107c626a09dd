from __future__ import annotations

from datetime import datetime

from flask_babel import get_locale
from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db_types import JSONType, UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import TenantScoped
from app.values import FIELD_TYPES, FieldType


def _english() -> bool:
    try:
        return str(get_locale()) == "en"
    except Exception:  # outside a request: the Chinese original
        return False


class Translated:
    """Labels are entered once (`label`); built-in ones also carry English in `i18n['en']`."""

    def t(self, attr: str = "label"):
        if _english():
            value = (self.i18n or {}).get("en", {}).get(attr)
            if value:
                return value
        return getattr(self, attr)


class CardTemplate(TenantScoped, db.Model):
    """The one active card template of a tenant."""

    id: Mapped[int] = mapped_column(primary_key=True)
    base_key: Mapped[str] = mapped_column(String(40))  # the built-in template it started from
    name: Mapped[str] = mapped_column(String(120))
    i18n: Mapped[dict] = mapped_column(JSONType, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    sections: Mapped[list[Section]] = relationship(
        back_populates="template", order_by="Section.position", cascade="all, delete-orphan"
    )
    fields: Mapped[list[FieldDef]] = relationship(
        back_populates="template", order_by="FieldDef.position", cascade="all, delete-orphan",
        overlaps="section,fields",
    )

    __table_args__ = (UniqueConstraint("tenant_id"), UniqueConstraint("tenant_id", "id"))

    t = Translated.t


class Section(Translated, TenantScoped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(120))
    i18n: Mapped[dict] = mapped_column(JSONType, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)

    template: Mapped[CardTemplate] = relationship(back_populates="sections")
    fields: Mapped[list[FieldDef]] = relationship(
        back_populates="section", order_by="FieldDef.position", overlaps="fields,template"
    )

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "template_id"], ["card_template.tenant_id", "card_template.id"],
                             ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "template_id", "key"),
        UniqueConstraint("tenant_id", "id"),
    )

    @property
    def active_fields(self) -> list[FieldDef]:
        return [f for f in self.fields if not f.archived]


class FieldDef(Translated, TenantScoped, db.Model):
    """One field of the card. `key` is stable and never reused; `label` is editable."""

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(Integer)
    section_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    in_brief: Mapped[bool] = mapped_column(Boolean, default=False)
    identifier: Mapped[bool] = mapped_column(Boolean, default=False)
    yearly_reminder: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    help: Mapped[str] = mapped_column(Text, default="")
    hints: Mapped[list] = mapped_column(JSONType, default=list)  # "questions to ask"
    options: Mapped[list] = mapped_column(JSONType, default=list)  # active option strings
    retired_options: Mapped[list] = mapped_column(JSONType, default=list)  # still valid on old cards
    columns: Mapped[list] = mapped_column(JSONType, default=list)  # table: [{key,label,type,options,i18n}]
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    i18n: Mapped[dict] = mapped_column(JSONType, default=dict)  # {"en": {label, help, hints, options}}

    template: Mapped[CardTemplate] = relationship(back_populates="fields", overlaps="fields,section")
    section: Mapped[Section] = relationship(back_populates="fields", overlaps="fields,template")

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "template_id"], ["card_template.tenant_id", "card_template.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "section_id"], ["section.tenant_id", "section.id"]),
        UniqueConstraint("tenant_id", "template_id", "key"),
    )

    def spec(self, **extra) -> dict:
        """The value-library spec of this field (see app.values.parse_value)."""
        return {"options": list(self.options or []), "retired_options": list(self.retired_options or []),
                "columns": list(self.columns or []), **extra}

    @property
    def field_type(self) -> FieldType:
        """This field's entry in the value library's registry (text for a type the code no longer knows)."""
        return FIELD_TYPES.get(self.type) or FIELD_TYPES["text"]

    def option_label(self, option: str) -> str:
        if _english():
            return ((self.i18n or {}).get("en", {}).get("options") or {}).get(option, option)
        return option

    def t_hints(self) -> list[str]:
        if _english():
            en = (self.i18n or {}).get("en", {}).get("hints")
            if en:
                return list(en)
        return list(self.hints or [])


class TemplateChange(TenantScoped, db.Model):
    """Every template change: who, when, what; the version it produced."""

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)

    actor = relationship("User")

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "template_id"], ["card_template.tenant_id", "card_template.id"],
                             ondelete="CASCADE"),
        Index("ix_template_change_tenant_template", "tenant_id", "template_id", "version"),
    )
