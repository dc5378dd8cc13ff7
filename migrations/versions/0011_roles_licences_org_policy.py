"""organizations: policy and branding; memberships: status and validity window;
the business-role catalogue, portals' app roles, role mappings, licences and the
roles each membership holds

Revision ID: 0011_roles_licences_org_policy
Revises: 0010_audit_tag_names
Create Date: 2026-12-03 10:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0011_roles_licences_org_policy'
down_revision = '0010_audit_tag_names'
branch_labels = None
depends_on = None


def _organization_columns():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_idle_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('allowed_portals', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('display_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('logo_url', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('primary_colour', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('email_sender_name', sa.String(length=120), nullable=True))


def _membership_columns():
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('active', 'suspended', name='membershipstatus', native_enum=False, length=20), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('valid_from', ciam.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('valid_until', ciam.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('expiry_recorded_at', ciam.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_memberships_valid_until'), ['valid_until'], unique=False)


def _catalogue_tables():
    op.create_table('portal_app_roles',
    sa.Column('client_id', sa.String(length=80), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['portals.client_id'], name=op.f('fk_portal_app_roles_client_id_portals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', 'key', name=op.f('pk_portal_app_roles'))
    )
    op.create_table('business_roles',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_business_roles_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_roles')),
    sa.UniqueConstraint('org_id', 'key', name=op.f('uq_business_roles_org_id'))
    )
    with op.batch_alter_table('business_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_business_roles_org_id'), ['org_id'], unique=False)
        batch_op.create_index('uq_business_roles_global_key', ['key'], unique=True, sqlite_where=sa.text('org_id IS NULL'), postgresql_where=sa.text('org_id IS NULL'))
    op.create_table('role_mappings',
    sa.Column('role_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.String(length=80), nullable=False),
    sa.Column('app_role', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['client_id', 'app_role'], ['portal_app_roles.client_id', 'portal_app_roles.key'], name='fk_role_mappings_client_id_app_role_portal_app_roles', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['business_roles.id'], name=op.f('fk_role_mappings_role_id_business_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role_id', 'client_id', 'app_role', name=op.f('pk_role_mappings'))
    )
    with op.batch_alter_table('role_mappings', schema=None) as batch_op:
        batch_op.create_index('ix_role_mappings_client_id', ['client_id'], unique=False)


def _licence_tables():
    op.create_table('licences',
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.String(length=80), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=True),
    sa.Column('updated_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['portals.client_id'], name=op.f('fk_licences_client_id_portals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_licences_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licences')),
    sa.UniqueConstraint('org_id', 'client_id', name=op.f('uq_licences_org_id'))
    )
    with op.batch_alter_table('licences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licences_client_id'), ['client_id'], unique=False)
    op.create_table('membership_roles',
    sa.Column('membership_id', sa.Uuid(), nullable=False),
    sa.Column('role_id', sa.Uuid(), nullable=False),
    sa.Column('assigned_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_membership_roles_membership_id_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['business_roles.id'], name=op.f('fk_membership_roles_role_id_business_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('membership_id', 'role_id', name=op.f('pk_membership_roles'))
    )
    with op.batch_alter_table('membership_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_roles_role_id'), ['role_id'], unique=False)


def upgrade():
    _organization_columns()
    _membership_columns()
    _catalogue_tables()
    _licence_tables()


def downgrade():
    for table in ('membership_roles', 'licences', 'role_mappings', 'business_roles', 'portal_app_roles'):
        op.drop_table(table)
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_valid_until'))
        for column in ('expiry_recorded_at', 'valid_until', 'valid_from', 'status'):
            batch_op.drop_column(column)
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        for column in ('email_sender_name', 'primary_colour', 'logo_url', 'display_name', 'allowed_portals', 'session_idle_minutes'):
            batch_op.drop_column(column)
