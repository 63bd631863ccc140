"""team rebalances: every giver of one decision, the figures it used, give-back, and the giver floor

Revision ID: c3d9a7e5f1b2
Revises: 7b1e4c2a9d30
Create Date: 2026-12-01 23:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'c3d9a7e5f1b2'
down_revision: Union[str, Sequence[str], None] = '7b1e4c2a9d30'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('rebalance') as batch:
        batch.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='shortfall'))
        batch.add_column(sa.Column('givers', sa.JSON(), nullable=False, server_default='[]'))
        batch.add_column(sa.Column('figures', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('rebalance_policy') as batch:
        batch.add_column(sa.Column('max_decrease_pct', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='50'))
        batch.add_column(sa.Column('give_back', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='propose'))
    with op.batch_alter_table('rebalance_policy') as batch:
        batch.alter_column('max_decrease_pct', server_default=None)
        batch.alter_column('give_back', server_default=None)
    with op.batch_alter_table('rebalance') as batch:
        # The default only fills existing rows; the application always writes both.
        batch.alter_column('kind', server_default=None)
        batch.alter_column('givers', server_default=None)
        batch.alter_column('figures', server_default=None)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('rebalance') as batch:
        batch.drop_column('figures')
        batch.drop_column('givers')
        batch.drop_column('kind')
    with op.batch_alter_table('rebalance_policy') as batch:
        batch.drop_column('give_back')
        batch.drop_column('max_decrease_pct')
