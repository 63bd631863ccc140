"""absences and relief: absence, relief_policy, the plan's unassigned line, ramp schedules

Revision ID: d5e2b8f4a1c7
Revises: c3d9a7e5f1b2
Create Date: 2026-12-01 23:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'd5e2b8f4a1c7'
down_revision: Union[str, Sequence[str], None] = 'c3d9a7e5f1b2'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('absence',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('reliefs', sa.JSON(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_absence'))
    )
    with op.batch_alter_table('absence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_absence_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_absence_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_absence_member_id'), ['member_id'], unique=False)
    op.create_table('relief_policy',
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('min_days', sa.Integer(), nullable=False),
    sa.Column('absorb', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', name=op.f('pk_relief_policy'))
    )
    with op.batch_alter_table('relief_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_policy_org_id'), ['org_id'], unique=False)
    with op.batch_alter_table('plan') as batch:
        batch.add_column(sa.Column('unassigned_minor', sa.BigInteger(), nullable=False, server_default='0'))
    with op.batch_alter_table('plan') as batch:
        # The default only fills existing rows; the application always writes it.
        batch.alter_column('unassigned_minor', server_default=None)
    with op.batch_alter_table('member') as batch:
        batch.add_column(sa.Column('ramp_schedule', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('member') as batch:
        batch.drop_column('ramp_schedule')
    with op.batch_alter_table('plan') as batch:
        batch.drop_column('unassigned_minor')
    with op.batch_alter_table('relief_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relief_policy_org_id'))
    op.drop_table('relief_policy')
    with op.batch_alter_table('absence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_absence_member_id'))
        batch_op.drop_index(batch_op.f('ix_absence_team_id'))
        batch_op.drop_index(batch_op.f('ix_absence_org_id'))
    op.drop_table('absence')
