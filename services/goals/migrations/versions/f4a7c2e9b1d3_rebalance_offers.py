"""rebalance offers: mode offer, offer_hours, a round's expiry and its offers

Revision ID: f4a7c2e9b1d3
Revises: f1a7c9d2e4b6
Create Date: 2026-12-02 02:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'f4a7c2e9b1d3'
down_revision: Union[str, Sequence[str], None] = 'f1a7c9d2e4b6'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('rebalance_policy') as batch:
        batch.add_column(sa.Column('offer_hours', sa.Integer(), nullable=False, server_default='48'))
    with op.batch_alter_table('rebalance_policy') as batch:
        # The default only fills existing rows; the application always writes it.
        batch.alter_column('offer_hours', server_default=None)
    with op.batch_alter_table('rebalance') as batch:
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'rebalance_offer',
        sa.Column('rebalance_id', sa.Uuid(), nullable=False),
        sa.Column('member_id', sa.Uuid(), nullable=False),
        sa.Column('org_id', sa.Uuid(), nullable=False),
        sa.Column('offered_minor', sa.BigInteger(), nullable=False),
        sa.Column('accepted_minor', sa.BigInteger(), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('rebalance_id', 'member_id', name=op.f('pk_rebalance_offer')),
    )
    with op.batch_alter_table('rebalance_offer') as batch:
        batch.create_index(batch.f('ix_rebalance_offer_org_id'), ['org_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('rebalance_offer') as batch:
        batch.drop_index(batch.f('ix_rebalance_offer_org_id'))
    op.drop_table('rebalance_offer')
    with op.batch_alter_table('rebalance') as batch:
        batch.drop_column('expires_at')
    with op.batch_alter_table('rebalance_policy') as batch:
        batch.drop_column('offer_hours')
