"""conversation before rebalance: the policy switch and the episodes' first conversations

Revision ID: f4a7c2e9b1d6
Revises: f1b4d7e9a2c6
Create Date: 2026-12-02 02:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'f4a7c2e9b1d6'
down_revision: Union[str, Sequence[str], None] = 'f1b4d7e9a2c6'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('rebalance_policy') as batch:
        batch.add_column(sa.Column('require_checkin_before_rebalance', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('rebalance_policy') as batch:
        # The default only fills existing rows; the application always writes it.
        batch.alter_column('require_checkin_before_rebalance', server_default=None)
    op.create_table(
        'episode_conversation',
        sa.Column('org_id', sa.Uuid(), nullable=False),
        sa.Column('shortfall_id', sa.Uuid(), nullable=False),
        sa.Column('member_id', sa.Uuid(), nullable=False),
        sa.Column('team_id', sa.Uuid(), nullable=False),
        sa.Column('period_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('reference_id', sa.Uuid(), nullable=False),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'shortfall_id', name=op.f('pk_episode_conversation')),
    )
    with op.batch_alter_table('episode_conversation') as batch:
        batch.create_index(batch.f('ix_episode_conversation_member_id'), ['member_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('episode_conversation') as batch:
        batch.drop_index(batch.f('ix_episode_conversation_member_id'))
    op.drop_table('episode_conversation')
    with op.batch_alter_table('rebalance_policy') as batch:
        batch.drop_column('require_checkin_before_rebalance')
