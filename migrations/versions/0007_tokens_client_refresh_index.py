"""tokens: the client_id index also holds refresh_token_hash

Revision ID: 0007_tokens_client_refresh_index
Revises: 0006_revoked_access_tokens
Create Date: 2026-11-22 05:55:00.000000

Why: the refresh rotation looks a token up by `refresh_token_hash AND client_id`.
With statistics from a small table (a new install, or autovacuum not yet run)
PostgreSQL's generic plan for that prepared statement picked ix_tokens_client_id
and filtered every token of the portal: a refresh cost grew with the portal's
tokens (measured: 300/s falling to 180/s within a minute). An index on client_id
alone is no longer there to pick; (client_id, refresh_token_hash) still serves
lookups by portal (its leading column) and pins the hash when both are given.

On a large tokens table the index build blocks token writes while it runs. To avoid
that, create it beforehand with
`CREATE INDEX CONCURRENTLY ix_tokens_client_id_refresh_token_hash ON tokens
(client_id, refresh_token_hash)`; this migration then only drops the old index.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_tokens_client_refresh_index'
down_revision = '0006_revoked_access_tokens'
branch_labels = None
depends_on = None


def upgrade():
    existing = {index['name'] for index in sa.inspect(op.get_bind()).get_indexes('tokens')}
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        if 'ix_tokens_client_id_refresh_token_hash' not in existing:
            batch_op.create_index(
                'ix_tokens_client_id_refresh_token_hash',
                ['client_id', 'refresh_token_hash'],
                unique=False,
            )
        batch_op.drop_index('ix_tokens_client_id')


def downgrade():
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.create_index('ix_tokens_client_id', ['client_id'], unique=False)
        batch_op.drop_index('ix_tokens_client_id_refresh_token_hash')
