"""users.address: the OIDC Core §5.1.1 address of a person, for the `address` scope

Revision ID: 0009_user_address
Revises: 0008_idempotency_keys
Create Date: 2026-12-02 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_user_address'
down_revision = '0008_idempotency_keys'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('address', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('address')
