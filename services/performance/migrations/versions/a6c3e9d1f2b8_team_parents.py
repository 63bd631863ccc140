"""team parents: performance follows goals' team tree so managers above a team read it

Revision ID: a6c3e9d1f2b8
Revises: d5f2a8c3e1b7
Create Date: 2026-12-02 02:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'a6c3e9d1f2b8'
down_revision: Union[str, Sequence[str], None] = 'd5f2a8c3e1b7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_team_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_team_parent_team_id'), ['parent_team_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_parent_team_id'))
        batch_op.drop_column('parent_team_id')
