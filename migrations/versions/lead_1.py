"""tenant_logo: the company's PDF logo in the database (every web machine prints the same one)

Revision ID: lead_1
Revises: speed_1

"""
import sqlalchemy as sa
from alembic import op

import app.db_types

revision = 'lead_1'
down_revision = 'speed_1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tenant_logo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_tenant_logo_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_logo')),
    sa.UniqueConstraint('tenant_id', name='uq_tenant_logo_tenant')
    )
    with op.batch_alter_table('tenant_logo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_logo_tenant_id'), ['tenant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('tenant_logo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_logo_tenant_id'))
    op.drop_table('tenant_logo')
