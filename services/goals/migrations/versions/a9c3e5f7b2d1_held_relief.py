"""held relief: a change request may hold the relief of an absence (origin relief)

Revision ID: a9c3e5f7b2d1
Revises: f4a7c2e9b1d3
Create Date: 2026-12-02 03:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'a9c3e5f7b2d1'
down_revision: Union[str, Sequence[str], None] = 'f4a7c2e9b1d3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('change_request') as batch:
        batch.add_column(sa.Column('absence_id', sa.Uuid(), nullable=True))
        batch.create_index(batch.f('ix_change_request_absence_id'), ['absence_id'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('change_request') as batch:
        batch.drop_index(batch.f('ix_change_request_absence_id'))
        batch.drop_column('absence_id')
