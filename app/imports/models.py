from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import JSONType, UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import TenantScoped


class ImportRun(TenantScoped, db.Model):
    """One upload of a client list (or of follow-up history, or of a full export to restore): the file (kept only until the import ran), the mapping, the outcome."""

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12), default="clients", server_default="clients")  # clients | followups | restore
    filename: Mapped[str] = mapped_column(String(200))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)  # the upload; cleared once the import has run
    sheet: Mapped[str] = mapped_column(String(100), default="")
    mapping: Mapped[dict] = mapped_column(JSONType, default=dict)  # column index (str) -> target
    on_duplicate: Mapped[str] = mapped_column(String(8), default="skip")  # skip | update | create
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | started | undone
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list] = mapped_column(JSONType, default=list)  # [{row, field, message, kind, name}]
    created_ids: Mapped[list] = mapped_column(JSONType, default=list)
    updated_ids: Mapped[list] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_import_run_tenant_created", "tenant_id", "created_at"),)
