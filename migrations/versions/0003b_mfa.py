"""mfa: second factors (TOTP, SMS), recovery codes, SMS challenges

Revision ID: 0003b
Revises: 0002
Create Date: 2026-11-21 21:16:37.888446

"""
from alembic import op
import sqlalchemy as sa

import ciam.db


# revision identifiers, used by Alembic.
revision = '0003b'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mfa_factors',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('totp', 'sms', name='factorkind', native_enum=False, length=20), nullable=False),
    sa.Column('totp_secret_encrypted', sa.Text(), nullable=True),
    sa.Column('last_used_step', sa.BigInteger(), nullable=True),
    sa.Column('phone_number', sa.String(length=20), nullable=True),
    sa.Column('confirmed_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_factors_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_factors'))
    )
    with op.batch_alter_table('mfa_factors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_factors_user_id'), ['user_id'], unique=False)

    op.create_table('recovery_codes',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)

    op.create_table('sms_challenges',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('factor_id', sa.Uuid(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('consumed_at', ciam.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', ciam.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['factor_id'], ['mfa_factors.id'], name=op.f('fk_sms_challenges_factor_id_mfa_factors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sms_challenges_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_challenges'))
    )
    with op.batch_alter_table('sms_challenges', schema=None) as batch_op:
        batch_op.create_index('ix_sms_challenges_user_created', ['user_id', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('sms_challenges', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_challenges_user_created')

    op.drop_table('sms_challenges')
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))

    op.drop_table('recovery_codes')
    with op.batch_alter_table('mfa_factors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_factors_user_id'))

    op.drop_table('mfa_factors')
