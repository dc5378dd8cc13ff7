"""idempotency_keys: Idempotency-Key answers of the REST API, per client, 24 h

Revision ID: 0008_idempotency_keys
Revises: 0007_tokens_client_refresh_index
Create Date: 2026-12-02 20:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0008_idempotency_keys'
down_revision = '0007_tokens_client_refresh_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'idempotency_keys',
        sa.Column('client_id', sa.String(length=80), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('response_status', sa.Integer(), nullable=True),
        sa.Column('response_body', sa.Text(), nullable=True),
        sa.Column('response_location', sa.Text(), nullable=True),
        sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
        sa.UniqueConstraint('client_id', 'key', name='uq_idempotency_keys_client_id_key'),
    )
    op.create_index('ix_idempotency_keys_expires_at', 'idempotency_keys', ['expires_at'])


def downgrade():
    op.drop_index('ix_idempotency_keys_expires_at', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
