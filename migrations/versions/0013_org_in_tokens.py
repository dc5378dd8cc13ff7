"""the organization a sign-in was for: on codes and tokens (org claims, refresh);
portals that require an entitlement; each person's organization per portal

Revision ID: 0013_org_in_tokens
Revises: 0012_membership_roles_from_json
Create Date: 2026-12-03 11:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0013_org_in_tokens'
down_revision = '0012_membership_roles_from_json'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('authorization_codes', 'tokens'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('org_id', sa.Uuid(), nullable=True))
            batch_op.create_foreign_key(
                op.f(f'fk_{table}_org_id_organizations'), 'organizations', ['org_id'], ['id'],
                ondelete='CASCADE',
            )
    with op.batch_alter_table('portals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requires_entitlement', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'organization_choices',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('client_id', sa.String(length=80), nullable=False),
        sa.Column('org_id', sa.Uuid(), nullable=False),
        sa.Column('chosen_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_organization_choices_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_organization_choices_org_id_organizations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'client_id', name=op.f('pk_organization_choices')),
    )


def downgrade():
    op.drop_table('organization_choices')
    with op.batch_alter_table('portals', schema=None) as batch_op:
        batch_op.drop_column('requires_entitlement')
    for table in ('tokens', 'authorization_codes'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'fk_{table}_org_id_organizations'), type_='foreignkey')
            batch_op.drop_column('org_id')
