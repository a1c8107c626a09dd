"""speed: pinyin name sort key, n-gram search index (one- and two-character terms), pinyin in the search text

Revision ID: speed_1
Revises: 0003_user_sessions

"""
import sqlalchemy as sa
from alembic import op

revision = 'speed_1'
down_revision = 'imports_2'
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade():
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    name_sort_type = sa.String(length=600, collation="C") if pg else sa.String(length=600)
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_sort', name_sort_type, nullable=False, server_default=''))
        batch_op.create_index('ix_client_tenant_name_sort', ['tenant_id', 'name_sort', 'id'], unique=False)
    op.create_table('client_search_grams',
    sa.Column('client_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('grams', sa.Text(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'client_id'], ['client.tenant_id', 'client.id'], name=op.f('fk_client_search_grams_tenant_id_client_id_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_client_search_grams_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_client_search_grams'))
    )
    with op.batch_alter_table('client_search_grams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_search_grams_tenant_id'), ['tenant_id'], unique=False)
    if pg:
        # GIN over the gram array; with btree_gin (installed by 0001 when allowed) it leads with tenant_id.
        has_btree_gin = bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'btree_gin'").first()
        lead = "tenant_id, " if has_btree_gin else ""
        op.execute(f"CREATE INDEX ix_client_search_grams_gin ON client_search_grams USING gin "
                   f"({lead}string_to_array(grams, ' '))")
    else:
        # FTS5 over the grams (space-separated tokens), kept in step by triggers like client_fts.
        op.execute("CREATE VIRTUAL TABLE client_grams_fts USING fts5(grams, content='client_search_grams', "
                   "content_rowid='client_id', tokenize='unicode61')")
        op.execute("CREATE TRIGGER client_grams_fts_insert AFTER INSERT ON client_search_grams BEGIN "
                   "INSERT INTO client_grams_fts(rowid, grams) VALUES (new.client_id, new.grams); END")
        op.execute("CREATE TRIGGER client_grams_fts_delete AFTER DELETE ON client_search_grams BEGIN "
                   "INSERT INTO client_grams_fts(client_grams_fts, rowid, grams) "
                   "VALUES ('delete', old.client_id, old.grams); END")
        op.execute("CREATE TRIGGER client_grams_fts_update AFTER UPDATE ON client_search_grams BEGIN "
                   "INSERT INTO client_grams_fts(client_grams_fts, rowid, grams) "
                   "VALUES ('delete', old.client_id, old.grams); "
                   "INSERT INTO client_grams_fts(rowid, grams) VALUES (new.client_id, new.grams); END")
        # A card removed without the services (tenant deletion, tests) takes its grams with it.
        op.execute("CREATE TRIGGER client_grams_on_client_delete AFTER DELETE ON client BEGIN "
                   "DELETE FROM client_search_grams WHERE client_id = old.id; END")
    _backfill(bind)


def _backfill(bind):
    """Existing cards: the sort key, the name's pinyin in the search text, the grams."""
    from app.clients.derived import name_pinyin, name_sort_key, search_grams

    client = sa.table('client', sa.column('id'), sa.column('tenant_id'), sa.column('name'),
                      sa.column('search_text'), sa.column('name_sort'))
    grams = sa.table('client_search_grams', sa.column('client_id'), sa.column('tenant_id'), sa.column('grams'))
    last = 0
    while True:
        rows = bind.execute(sa.select(client.c.id, client.c.tenant_id, client.c.name, client.c.search_text)
                            .where(client.c.id > last).order_by(client.c.id).limit(BATCH)).all()
        if not rows:
            break
        updates, gram_rows = [], []
        for cid, tid, name, text in rows:
            pinyin = name_pinyin(name or "")
            text = text or ""
            if pinyin and pinyin not in text:
                text = (f"{text} {pinyin}")[:20000]
            updates.append({"b_id": cid, "b_sort": name_sort_key(name or ""), "b_text": text})
            gram_rows.append({"client_id": cid, "tenant_id": tid, "grams": search_grams(text)})
        bind.execute(client.update().where(client.c.id == sa.bindparam("b_id"))
                     .values(name_sort=sa.bindparam("b_sort"), search_text=sa.bindparam("b_text")), updates)
        bind.execute(grams.insert(), gram_rows)
        last = rows[-1][0]


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS client_grams_on_client_delete")
        op.execute("DROP TABLE IF EXISTS client_grams_fts")
    op.drop_table('client_search_grams')
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.drop_index('ix_client_tenant_name_sort')
        batch_op.drop_column('name_sort')
