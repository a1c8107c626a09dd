"""user sessions: one row per signed-in browser, so signing out ends it on the server

Revision ID: 0003_user_sessions
Revises: 0002

"""
from alembic import op
import sqlalchemy as sa

import app.db_types

# revision identifiers, used by Alembic.
revision = '0003_user_sessions'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['user.tenant_id', 'user.id'], name=op.f('fk_user_session_tenant_id_user_id_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_user_session_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_user_session_user', ['tenant_id', 'user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index('ix_user_session_user')
        batch_op.drop_index(batch_op.f('ix_user_session_tenant_id'))

    op.drop_table('user_session')
