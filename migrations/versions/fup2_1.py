"""client_contact: each card's contact summary (owner, grade, last contact, next contact, due date) for Today, the
due list and the calendar feed; backfilled from the cards and their follow-ups

Revision ID: fup2_1
Revises: lead_1

"""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = 'fup2_1'
down_revision = 'imp2_1'
branch_labels = None
depends_on = None

# The rules as they stand at this revision (app/followups/grading.py DEFAULT_RULES), for tenants that never saved any.
DEFAULT_CADENCE = {"A": 30, "B": 90, "C": 180}
DEFAULT_FIRST_VISIT = 5
CHURN_STAGE = "流失"


def upgrade():
    op.create_table('client_contact',
    sa.Column('client_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('grade', sa.String(length=4), nullable=True),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('last_contact', sa.Date(), nullable=True),
    sa.Column('next_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'client_id'], ['client.tenant_id', 'client.id'], name=op.f('fk_client_contact_tenant_id_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_client_contact_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_client_contact'))
    )
    with op.batch_alter_table('client_contact', schema=None) as batch_op:
        batch_op.create_index('ix_client_contact_due', ['tenant_id', 'owner_id', 'due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_contact_tenant_id'), ['tenant_id'], unique=False)
    with op.batch_alter_table('client_change', schema=None) as batch_op:
        batch_op.create_index('ix_client_change_at', ['tenant_id', 'at'], unique=False)
    _backfill(op.get_bind())


def _as_date(value):
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value):
    if value is None or isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or timezone.utc) if value else None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _backfill(conn):
    import json

    meta = sa.MetaData()
    tenant = sa.Table('tenant', meta, sa.Column('id'), sa.Column('settings'), sa.Column('timezone'))
    client = sa.Table('client', meta, sa.Column('id'), sa.Column('tenant_id'), sa.Column('owner_id'),
                      sa.Column('grade'), sa.Column('stage'), sa.Column('archived_at'), sa.Column('created_at'))
    follow_up = sa.Table('follow_up', meta, sa.Column('id'), sa.Column('client_id'), sa.Column('date'),
                         sa.Column('next_date'))
    contact = sa.Table('client_contact', meta, sa.Column('tenant_id'), sa.Column('client_id'), sa.Column('owner_id'),
                       sa.Column('grade'), sa.Column('created_on'), sa.Column('last_contact'),
                       sa.Column('next_date'), sa.Column('due_date'))
    for tid, settings, tz in conn.execute(sa.select(tenant.c.id, tenant.c.settings, tenant.c.timezone)).all():
        if isinstance(settings, str):
            settings = json.loads(settings or "{}")
        grading = (settings or {}).get("grading") or {}
        grades = [g["name"] for g in grading.get("grades") or [{"name": n} for n in DEFAULT_CADENCE]]
        saved = grading.get("cadence_days") or DEFAULT_CADENCE
        cadence = {g: int(saved.get(g) or 90) for g in grades}
        longest = max(cadence.values(), default=180)
        first = grading.get("first_visit_days", DEFAULT_FIRST_VISIT)
        try:
            zone = ZoneInfo(tz or "Asia/Shanghai")
        except Exception:
            zone = ZoneInfo("Asia/Shanghai")
        latest = {}
        for cid, day, nxt in conn.execute(
                sa.select(follow_up.c.client_id, follow_up.c.date, follow_up.c.next_date)
                .select_from(follow_up.join(client, client.c.id == follow_up.c.client_id))
                .where(client.c.tenant_id == tid).order_by(follow_up.c.client_id, follow_up.c.date, follow_up.c.id)):
            latest[cid] = (_as_date(day), _as_date(nxt))  # the last row per client wins
        rows = []
        for cid, owner_id, grade, stage, archived_at, created_at in conn.execute(
                sa.select(client.c.id, client.c.owner_id, client.c.grade, client.c.stage, client.c.archived_at,
                          client.c.created_at).where(client.c.tenant_id == tid)):
            created = _as_datetime(created_at)
            created_on = created.astimezone(zone).date() if created else date.today()
            last, nxt = latest.get(cid, (None, None))
            if nxt is not None:
                due = nxt
            elif last is not None:
                due = last + timedelta(days=cadence.get(grade, longest))
            else:
                due = created_on + timedelta(days=first)
            active = archived_at is None and stage != CHURN_STAGE
            rows.append({"tenant_id": tid, "client_id": cid, "owner_id": owner_id, "grade": grade,
                         "created_on": created_on, "last_contact": last, "next_date": nxt,
                         "due_date": due if active else None})
            if len(rows) >= 5000:
                conn.execute(contact.insert(), rows)
                rows = []
        if rows:
            conn.execute(contact.insert(), rows)


def downgrade():
    with op.batch_alter_table('client_change', schema=None) as batch_op:
        batch_op.drop_index('ix_client_change_at')
    with op.batch_alter_table('client_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_contact_tenant_id'))
        batch_op.drop_index('ix_client_contact_due')
    op.drop_table('client_contact')
