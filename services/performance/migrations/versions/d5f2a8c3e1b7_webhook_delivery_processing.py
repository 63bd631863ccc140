"""webhook delivery processing: arrival order, applied/duplicate counts, HubSpot fetch retries

Revision ID: d5f2a8c3e1b7
Revises: f3a7c2d9e4b1
Create Date: 2026-12-02 00:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'd5f2a8c3e1b7'
down_revision: Union[str, Sequence[str], None] = 'f3a7c2d9e4b1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('webhook_delivery') as batch:
        # Rows stored before keep arrival 0: they sort first, as they did arrive first.
        batch.add_column(sa.Column('arrival', sa.BigInteger(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('applied', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('duplicates', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        'ix_webhook_delivery_outcome_arrival', 'webhook_delivery', ['outcome', 'arrival'],
        unique=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_webhook_delivery_outcome_arrival', table_name='webhook_delivery')
    with op.batch_alter_table('webhook_delivery') as batch:
        for column in ('next_attempt_at', 'attempts', 'duplicates', 'applied', 'arrival'):
            batch.drop_column(column)
