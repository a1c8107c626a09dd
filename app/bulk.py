"""Many rows into one table at once, for the bulk write paths (import, batch API, exports' view log).

On PostgreSQL, `COPY ... FROM STDIN` on the session's own connection (same transaction, so a failed import still
leaves nothing): one stream instead of one pipelined statement per row, which was most of an import's client-side
time on PostgreSQL. Elsewhere (SQLite), and for a handful of rows, a plain executemany INSERT. Rows carry every
column they need, `tenant_id` included (COPY runs no ORM events and no Python-side column defaults, so a column with
such a default must be given; `insert_rows` checks)."""
from __future__ import annotations

import json

from sqlalchemy import JSON, Table

from app.extensions import db

COPY_MIN_ROWS = 100  # below this, one INSERT is as quick as setting up a COPY


def insert_rows(table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` inside the current transaction."""
    if not rows:
        return
    conn = db.session.connection()
    if conn.dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
        conn.execute(table.insert(), rows)
        return
    names = list(rows[0])
    missing = [c.name for c in table.c if c.name not in rows[0] and c.default is not None]
    if missing:
        raise ValueError(f"insert_rows into {table.name} needs {', '.join(missing)} (Python-side defaults)")
    as_json = [isinstance(table.c[name].type, JSON) for name in names]
    columns = ", ".join(f'"{name}"' for name in names)
    raw = conn.connection.driver_connection  # psycopg's connection, in the session's transaction
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(row[name], ensure_ascii=False) if is_json and row[name] is not None
                            else row[name] for name, is_json in zip(names, as_json)])
