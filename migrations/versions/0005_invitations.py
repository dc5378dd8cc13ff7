"""invitations and invitation batches; business roles on memberships

Revision ID: 0005_invitations
Revises: 0004
Create Date: 2026-11-21 23:24:34.722663

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0005_invitations'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invitation_batches',
    sa.Column('client_id', sa.String(length=80), nullable=True),
    sa.Column('inviter_user_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('queued', 'processing', 'done', name='batchstatus', native_enum=False, length=20), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('next_index', sa.Integer(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('existing', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_batches'))
    )
    with op.batch_alter_table('invitation_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_batches_client_id'), ['client_id'], unique=False)

    op.create_table('invitations',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('business_roles', sa.JSON(), nullable=False),
    sa.Column('crm_contact_id', sa.String(length=64), nullable=True),
    sa.Column('crm_lead_id', sa.String(length=64), nullable=True),
    sa.Column('given_name', sa.String(length=120), nullable=True),
    sa.Column('family_name', sa.String(length=120), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('inviter_client_id', sa.String(length=80), nullable=True),
    sa.Column('inviter_user_id', sa.Uuid(), nullable=True),
    sa.Column('batch_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'accepted', 'revoked', 'expired', name='invitationstatus', native_enum=False, length=20), nullable=False),
    sa.Column('public_email_domain', sa.Boolean(), nullable=False),
    sa.Column('expires_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.Column('last_sent_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_user_id', sa.Uuid(), nullable=True),
    sa.Column('revoked_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['invitation_batches.id'], name=op.f('fk_invitations_batch_id_invitation_batches'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_invitations_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_invitations_created', ['created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_org_id'), ['org_id'], unique=False)
        batch_op.create_index('uq_invitations_pending_org_email', ['org_id', 'email'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('business_roles', sa.JSON(), server_default='[]', nullable=False))



def downgrade():
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('business_roles')

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('uq_invitations_pending_org_email', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_invitations_org_id'))
        batch_op.drop_index(batch_op.f('ix_invitations_email'))
        batch_op.drop_index('ix_invitations_created')
        batch_op.drop_index(batch_op.f('ix_invitations_batch_id'))

    op.drop_table('invitations')
    with op.batch_alter_table('invitation_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_batches_client_id'))

    op.drop_table('invitation_batches')
