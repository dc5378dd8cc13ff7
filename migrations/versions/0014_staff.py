"""staff: people who work for the operator (the support tier of delegated administration)

Revision ID: 0014_staff
Revises: 0013_org_in_tokens
Create Date: 2026-12-03 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0014_staff'
down_revision = '0013_org_in_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'staff',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('role', sa.Enum('support', name='staffrole', native_enum=False, length=20), nullable=False),
        sa.Column('granted_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_staff')),
    )


def downgrade():
    op.drop_table('staff')
