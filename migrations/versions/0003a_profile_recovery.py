"""profile and recovery: pending email change

Revision ID: 0003a
Revises: 0002
Create Date: 2026-11-21 22:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003a'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # The address a person asked to change to, until they click the link sent there.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_email', sa.String(length=320), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('pending_email')
