"""share links of client briefs (token hashes only) and their view log

Revision ID: sharing_1
Revises: 0003_user_sessions

"""
from alembic import op
import sqlalchemy as sa

import app.db_types

# revision identifiers, used by Alembic.
revision = 'sharing_1'
down_revision = 'followups_1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('share_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('access_code_hash', sa.String(length=200), nullable=True),
    sa.Column('created_at', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', app.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('view_count', sa.Integer(), nullable=False),
    sa.Column('last_viewed_at', app.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'client_id'], ['client.tenant_id', 'client.id'], name=op.f('fk_share_link_tenant_id_client_id_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'created_by_id'], ['user.tenant_id', 'user.id'], name=op.f('fk_share_link_tenant_id_created_by_id_user')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_share_link_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_link')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_share_link_tenant_id_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_share_link_token_hash'))
    )
    with op.batch_alter_table('share_link', schema=None) as batch_op:
        batch_op.create_index('ix_share_link_client', ['tenant_id', 'client_id', 'id'], unique=False)
        batch_op.create_index('ix_share_link_live', ['tenant_id', 'revoked_at', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_share_link_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('share_link_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('at', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'link_id'], ['share_link.tenant_id', 'share_link.id'], name=op.f('fk_share_link_view_tenant_id_link_id_share_link'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_share_link_view_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_link_view'))
    )
    with op.batch_alter_table('share_link_view', schema=None) as batch_op:
        batch_op.create_index('ix_share_link_view_link', ['tenant_id', 'link_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_share_link_view_tenant_id'), ['tenant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('share_link_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_link_view_tenant_id'))
        batch_op.drop_index('ix_share_link_view_link')
    op.drop_table('share_link_view')
    with op.batch_alter_table('share_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_link_tenant_id'))
        batch_op.drop_index('ix_share_link_live')
        batch_op.drop_index('ix_share_link_client')
    op.drop_table('share_link')
