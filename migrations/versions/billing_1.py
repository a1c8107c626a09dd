"""billing: accounts, applied Stripe events, invoices

Revision ID: billing_1
Revises: 0003_user_sessions

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import app.db_types

# revision identifiers, used by Alembic.
revision = 'billing_1'
down_revision = '0003_user_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('billing_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('interval', sa.String(length=16), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('current_period_end', app.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('past_due_since', app.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('grace_until', app.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('company_name', sa.String(length=200), nullable=False),
    sa.Column('tax_id', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('updated_at', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_billing_account_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_account')),
    sa.UniqueConstraint('tenant_id', name='uq_billing_account_tenant')
    )
    with op.batch_alter_table('billing_account', schema=None) as batch_op:
        batch_op.create_index('ix_billing_account_customer', ['stripe_customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_account_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('billing_event',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=True),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.Column('customer', sa.String(length=255), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('received_at', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_billing_event_tenant_id_tenant'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_event'))
    )
    with op.batch_alter_table('billing_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_event_customer'), ['customer'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_event_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('billing_invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_id', sa.String(length=255), nullable=False),
    sa.Column('number', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=False),
    sa.Column('hosted_url', sa.String(length=1000), nullable=False),
    sa.Column('pdf_url', sa.String(length=1000), nullable=False),
    sa.Column('created', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_billing_invoice_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_invoice')),
    sa.UniqueConstraint('tenant_id', 'stripe_id', name='uq_billing_invoice_stripe')
    )
    with op.batch_alter_table('billing_invoice', schema=None) as batch_op:
        batch_op.create_index('ix_billing_invoice_tenant_created', ['tenant_id', 'created'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_invoice_tenant_id'), ['tenant_id'], unique=False)



def downgrade():
    with op.batch_alter_table('billing_invoice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_invoice_tenant_id'))
        batch_op.drop_index('ix_billing_invoice_tenant_created')

    op.drop_table('billing_invoice')
    with op.batch_alter_table('billing_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_event_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_billing_event_customer'))

    op.drop_table('billing_event')
    with op.batch_alter_table('billing_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_account_tenant_id'))
        batch_op.drop_index('ix_billing_account_customer')

    op.drop_table('billing_account')
