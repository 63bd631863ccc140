"""change requests: change_policy, change_request, re-acknowledgement and the guard's flag

Revision ID: f1a7c9d2e4b6
Revises: f4a7c2e9b1d6
Create Date: 2026-12-02 02:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'f1a7c9d2e4b6'
down_revision: Union[str, Sequence[str], None] = 'f4a7c2e9b1d6'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('change_policy',
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('max_changes_per_rep_per_period', sa.Integer(), nullable=True),
    sa.Column('notice_days', sa.Integer(), nullable=False),
    sa.Column('second_approver_above_pct', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', name=op.f('pk_change_policy'))
    )
    with op.batch_alter_table('change_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_policy_org_id'), ['org_id'], unique=False)
    op.create_table('change_request',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('plan_id', sa.Uuid(), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('old_minor', sa.BigInteger(), nullable=False),
    sa.Column('new_minor', sa.BigInteger(), nullable=False),
    sa.Column('target_version', sa.Integer(), nullable=False),
    sa.Column('team_total_changes', sa.Boolean(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('evidence', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('approvals', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('rationale', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disputed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_request'))
    )
    with op.batch_alter_table('change_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_request_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_request_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_request_target_id'), ['target_id'], unique=False)
    with op.batch_alter_table('target') as batch:
        batch.add_column(sa.Column('acknowledged_version', sa.Integer(), nullable=True))
    with op.batch_alter_table('target_change') as batch:
        batch.add_column(sa.Column('flag', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('target_change') as batch:
        batch.drop_column('flag')
    with op.batch_alter_table('target') as batch:
        batch.drop_column('acknowledged_version')
    with op.batch_alter_table('change_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_request_target_id'))
        batch_op.drop_index(batch_op.f('ix_change_request_team_id'))
        batch_op.drop_index(batch_op.f('ix_change_request_org_id'))
    op.drop_table('change_request')
    with op.batch_alter_table('change_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_policy_org_id'))
    op.drop_table('change_policy')
