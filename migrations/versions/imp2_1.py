"""import_run.kind: what an upload holds (clients, follow-ups, or a full export to restore)

Revision ID: imp2_1
Revises: lead_1

"""
import sqlalchemy as sa
from alembic import op

revision = 'imp2_1'
down_revision = 'lead_1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), nullable=False, server_default='clients'))


def downgrade():
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.drop_column('kind')
