"""memberships.business_roles (a JSON list of names) becomes membership_roles rows;
a name not in the catalogue becomes a global business role with that key

Revision ID: 0012_membership_roles_from_json
Revises: 0011_roles_licences_org_policy
Create Date: 2026-12-03 10:40:00.000000

"""
import uuid
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0012_membership_roles_from_json'
down_revision = '0011_roles_licences_org_policy'
branch_labels = None
depends_on = None

memberships = sa.table(
    'memberships',
    sa.column('id', sa.Uuid()),
    sa.column('business_roles', sa.JSON()),
    sa.column('created_at', ciam.db.UTCDateTime(timezone=True)),
)
business_roles = sa.table(
    'business_roles',
    sa.column('id', sa.Uuid()),
    sa.column('key', sa.String),
    sa.column('name', sa.String),
    sa.column('org_id', sa.Uuid()),
    sa.column('created_at', ciam.db.UTCDateTime(timezone=True)),
)
membership_roles = sa.table(
    'membership_roles',
    sa.column('membership_id', sa.Uuid()),
    sa.column('role_id', sa.Uuid()),
    sa.column('assigned_at', ciam.db.UTCDateTime(timezone=True)),
)


def _global_role_ids(connection, names):
    """The id of the global role keyed by each name, created where it is missing."""
    found = dict(connection.execute(
        sa.select(business_roles.c.key, business_roles.c.id).where(business_roles.c.org_id.is_(None))
    ).all())
    now = datetime.now(timezone.utc)
    missing = [{'id': uuid.uuid4(), 'key': name, 'name': name, 'org_id': None, 'created_at': now}
               for name in sorted(names - set(found))]
    if missing:
        connection.execute(business_roles.insert(), missing)
    return {**found, **{row['key']: row['id'] for row in missing}}


def upgrade():
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(memberships.c.id, memberships.c.business_roles, memberships.c.created_at)
    ).all()
    # Keys are at most 80 characters; a longer name keeps its first 80.
    held = {row.id: list(dict.fromkeys(str(name)[:80] for name in row.business_roles or []))
            for row in rows}
    role_ids = _global_role_ids(connection, {name for names in held.values() for name in names})
    # Given "when the membership began": the best the JSON list knows.
    links = [{'membership_id': row.id, 'role_id': role_ids[name], 'assigned_at': row.created_at}
             for row in rows for name in held[row.id]]
    if links:
        connection.execute(membership_roles.insert(), links)
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('business_roles')


def downgrade():
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('business_roles', sa.JSON(), server_default='[]', nullable=False))
    connection = op.get_bind()
    held = connection.execute(
        sa.select(membership_roles.c.membership_id, business_roles.c.key)
        .join(business_roles, business_roles.c.id == membership_roles.c.role_id)
        .order_by(membership_roles.c.assigned_at, business_roles.c.key)
    ).all()
    names = {}
    for membership_id, key in held:
        names.setdefault(membership_id, []).append(key)
    for membership_id, keys in names.items():
        connection.execute(
            memberships.update().where(memberships.c.id == membership_id).values(business_roles=keys)
        )
    # The list holds them now; upgrading again moves them back (roles stay in the catalogue).
    connection.execute(membership_roles.delete())
