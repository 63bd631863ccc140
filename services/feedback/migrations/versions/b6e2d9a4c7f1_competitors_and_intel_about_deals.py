"""competitors: deals won and lost against them, intel about a competitor and deals

Revision ID: b6e2d9a4c7f1
Revises: b7d3e9f1a2c4
Create Date: 2026-12-02 02:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'b6e2d9a4c7f1'
down_revision: Union[str, Sequence[str], None] = 'b7d3e9f1a2c4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'competitor_deal',
        sa.Column('sale_id', sa.Uuid(), nullable=False),
        sa.Column('org_id', sa.Uuid(), nullable=False),
        sa.Column('team_id', sa.Uuid(), nullable=False),
        sa.Column('period_id', sa.Uuid(), nullable=True),
        sa.Column('competitor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('competitor_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('sale_id', name=op.f('pk_competitor_deal')),
    )
    with op.batch_alter_table('competitor_deal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_competitor_deal_org_id'), ['org_id'], unique=False)
        batch_op.create_index(
            'ix_competitor_deal_team_period', ['team_id', 'period_id'], unique=False
        )
    with op.batch_alter_table('intel_item', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('competitor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column('competitor_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        # Items shared before name no deals.
        batch_op.add_column(sa.Column('sale_ids', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.create_index(
            batch_op.f('ix_intel_item_competitor_key'), ['competitor_key'], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('intel_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intel_item_competitor_key'))
        batch_op.drop_column('sale_ids')
        batch_op.drop_column('competitor_key')
        batch_op.drop_column('competitor')
    with op.batch_alter_table('competitor_deal', schema=None) as batch_op:
        batch_op.drop_index('ix_competitor_deal_team_period')
        batch_op.drop_index(batch_op.f('ix_competitor_deal_org_id'))
    op.drop_table('competitor_deal')
