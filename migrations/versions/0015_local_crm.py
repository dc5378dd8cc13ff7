"""the embedded CRM (accounts, contracts, portal entitlements) and the mirror's state

Revision ID: 0015_local_crm
Revises: 0014_staff
Create Date: 2026-12-03 12:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0015_local_crm'
down_revision = '0014_staff'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'crm_accounts',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('email_domains', sa.JSON(), nullable=False),
        sa.Column('customer_number', sa.String(length=64), nullable=True),
        sa.Column('modified_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_accounts')),
    )
    op.create_index(op.f('ix_crm_accounts_customer_number'), 'crm_accounts', ['customer_number'])
    op.create_index(op.f('ix_crm_accounts_modified_at'), 'crm_accounts', ['modified_at'])
    op.create_table(
        'crm_contracts',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.String(length=64), nullable=False),
        sa.Column('number', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=40), nullable=False),
        sa.Column('start_date', sa.Date(), nullable=True),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('modified_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['crm_accounts.id'], name=op.f('fk_crm_contracts_account_id_crm_accounts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_contracts')),
        sa.UniqueConstraint('number', name=op.f('uq_crm_contracts_number')),
    )
    op.create_index(op.f('ix_crm_contracts_account_id'), 'crm_contracts', ['account_id'])
    op.create_index(op.f('ix_crm_contracts_modified_at'), 'crm_contracts', ['modified_at'])
    op.create_table(
        'crm_entitlements',
        sa.Column('contract_id', sa.String(length=64), nullable=False),
        sa.Column('portal', sa.String(length=80), nullable=False),
        sa.Column('seats', sa.Integer(), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['contract_id'], ['crm_contracts.id'], name=op.f('fk_crm_entitlements_contract_id_crm_contracts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_entitlements')),
    )
    op.create_index(op.f('ix_crm_entitlements_contract_id'), 'crm_entitlements', ['contract_id'])
    op.create_table(
        'crm_sync_state',
        sa.Column('crm', sa.String(length=20), nullable=False),
        sa.Column('cursor', sa.String(length=64), nullable=True),
        sa.Column('last_run_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('crm', name=op.f('pk_crm_sync_state')),
    )


def downgrade():
    op.drop_table('crm_sync_state')
    op.drop_index(op.f('ix_crm_entitlements_contract_id'), table_name='crm_entitlements')
    op.drop_table('crm_entitlements')
    op.drop_index(op.f('ix_crm_contracts_modified_at'), table_name='crm_contracts')
    op.drop_index(op.f('ix_crm_contracts_account_id'), table_name='crm_contracts')
    op.drop_table('crm_contracts')
    op.drop_index(op.f('ix_crm_accounts_modified_at'), table_name='crm_accounts')
    op.drop_index(op.f('ix_crm_accounts_customer_number'), table_name='crm_accounts')
    op.drop_table('crm_accounts')
