"""app.bulk.insert_rows: the bulk paths' side rows (COPY on PostgreSQL) arrive whole, JSON and Chinese text intact,
in the caller's transaction."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.bulk import COPY_MIN_ROWS, insert_rows
from app.clients.models import ClientChange
from app.extensions import db
from tests import factories


def _history_rows(tenant_id: int, client_id: int, n: int) -> list[dict]:
    at = datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc)
    return [{"tenant_id": tenant_id, "client_id": client_id, "version": 100 + i, "actor_id": None, "at": at,
             "action": "update", "changes": {"f_note": {"from": None, "to": f"第{i}次\t\"引号\"\\反斜杠\n换行"}},
             "note": "导入"} for i in range(n)]


def test_many_rows_arrive_with_their_json_and_text(tenant_a, as_tenant):
    card = factories.client(tenant_a)
    with as_tenant(tenant_a):
        insert_rows(ClientChange.__table__, _history_rows(tenant_a.id, card.id, COPY_MIN_ROWS + 50))
        db.session.commit()
        rows = db.session.scalars(select(ClientChange).where(ClientChange.version >= 100)
                                  .order_by(ClientChange.version)).all()
    assert len(rows) == COPY_MIN_ROWS + 50
    assert rows[7].changes == {"f_note": {"from": None, "to": "第7次\t\"引号\"\\反斜杠\n换行"}}
    assert rows[7].note == "导入" and rows[7].at == datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc)


def test_rows_are_part_of_the_callers_transaction(tenant_a, as_tenant):
    card = factories.client(tenant_a)
    with as_tenant(tenant_a):
        insert_rows(ClientChange.__table__, _history_rows(tenant_a.id, card.id, COPY_MIN_ROWS + 5))
        db.session.rollback()  # a failed import rolls back: its rows go with it
        left = db.session.scalar(select(func.count()).select_from(ClientChange).where(ClientChange.version >= 100))
    assert left == 0


def test_a_column_with_a_python_default_must_be_given(tenant_a, as_tenant):
    card = factories.client(tenant_a)
    with as_tenant(tenant_a):
        rows = [{k: v for k, v in row.items() if k != "note"}
                for row in _history_rows(tenant_a.id, card.id, COPY_MIN_ROWS)]
        if db.session.connection().dialect.name == "postgresql":
            with pytest.raises(ValueError, match="note"):
                insert_rows(ClientChange.__table__, rows)
        else:  # executemany applies the default itself
            insert_rows(ClientChange.__table__, rows)
            assert db.session.scalar(select(func.count()).select_from(ClientChange)
                                     .where(ClientChange.note == "")) >= COPY_MIN_ROWS
        db.session.rollback()
