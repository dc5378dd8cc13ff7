"""audit_events.tag: one vocabulary (ciam.audit.tags.AuditTag): user:created becomes
account:created, account:recovery_code:used becomes account:recovery_codes:used

Revision ID: 0010_audit_tag_names
Revises: 0009_user_address
Create Date: 2026-12-03 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_audit_tag_names'
down_revision = '0009_user_address'
branch_labels = None
depends_on = None

RENAMED = {
    'user:created': 'account:created',
    'account:recovery_code:used': 'account:recovery_codes:used',
}

audit_events = sa.table('audit_events', sa.column('tag', sa.String))


def _rename(pairs):
    for old, new in pairs:
        op.execute(audit_events.update().where(audit_events.c.tag == old).values(tag=new))


def upgrade():
    _rename(RENAMED.items())


def downgrade():
    _rename((new, old) for old, new in RENAMED.items())
