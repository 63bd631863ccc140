"""team hierarchies: parent_team_id and the plan's over-assignment

Revision ID: e8c1f6a3b2d4
Revises: d5e2b8f4a1c7
Create Date: 2026-12-02 00:05:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'e8c1f6a3b2d4'
down_revision: Union[str, Sequence[str], None] = 'd5e2b8f4a1c7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_team_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_team_parent_team_id'), ['parent_team_id'], unique=False)
    with op.batch_alter_table('plan') as batch:
        batch.add_column(sa.Column('over_assignment_pct', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='0'))
    with op.batch_alter_table('plan') as batch:
        # The default only fills existing rows; the application always writes it.
        batch.alter_column('over_assignment_pct', server_default=None)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('plan') as batch:
        batch.drop_column('over_assignment_pct')
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_parent_team_id'))
        batch_op.drop_column('parent_team_id')
