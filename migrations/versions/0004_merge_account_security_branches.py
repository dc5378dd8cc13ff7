"""merge account security branches

Revision ID: 0004
Revises: 0003a, 0003b, 0003c
Create Date: 2026-11-21 21:34:49.707065

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = ('0003a', '0003b', '0003c')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
