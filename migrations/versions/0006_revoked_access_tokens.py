"""client_credentials access tokens: no row at issue, a row when revoked

Revision ID: 0006_revoked_access_tokens
Revises: 0005_invitations
Create Date: 2026-11-21 23:50:00.000000

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0006_revoked_access_tokens'
down_revision = '0005_invitations'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'revoked_access_tokens',
        sa.Column('jti', sa.String(length=64), nullable=False),
        sa.Column('client_id', sa.String(length=80), nullable=False),
        sa.Column('expires_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_access_tokens')),
    )
    # client_credentials tokens issued before this revision have rows; the revoked
    # ones still valid by their expiry must stay inactive once rows are no longer
    # consulted for them.
    op.execute(
        "INSERT INTO revoked_access_tokens (jti, client_id, expires_at, revoked_at) "
        "SELECT jti, client_id, access_expires_at, revoked_at FROM tokens "
        "WHERE user_id IS NULL AND revoked_at IS NOT NULL"
    )


def downgrade():
    # Tokens revoked through this table become unknown (inactive) to the old code,
    # which only accepts tokens it finds in `tokens`: downgrading fails closed.
    op.drop_table('revoked_access_tokens')
