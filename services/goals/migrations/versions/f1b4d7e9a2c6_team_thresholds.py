"""team thresholds: performance's pace thresholds per team, for the roll-up status

Revision ID: f1b4d7e9a2c6
Revises: e8c1f6a3b2d4
Create Date: 2026-12-02 02:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'f1b4d7e9a2c6'
down_revision: Union[str, Sequence[str], None] = 'e8c1f6a3b2d4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('team_thresholds',
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('at_risk_below', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('struggling_below', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('hysteresis', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('min_elapsed_share', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('team_id', name=op.f('pk_team_thresholds'))
    )
    with op.batch_alter_table('team_thresholds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_thresholds_org_id'), ['org_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('team_thresholds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_thresholds_org_id'))
    op.drop_table('team_thresholds')
