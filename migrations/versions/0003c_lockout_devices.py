"""lockout counters on users, device id on login sessions, known devices, audit by target

Revision ID: 0003c
Revises: 0002
Create Date: 2026-11-21 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0003c'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_login_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', ciam.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lock_count', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_target_created', ['target', 'created_at'], unique=False)

    op.create_table('known_devices',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('last_seen_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=400), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_known_devices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_known_devices')),
    sa.UniqueConstraint('user_id', 'device_id', name=op.f('uq_known_devices_user_id'))
    )


def downgrade():
    op.drop_table('known_devices')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_target_created')

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))
        batch_op.drop_column('device_id')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('lock_count')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_login_count')
