"""lost deals (competitor, loss reasons on the sale) and per-org CRM settings

Revision ID: a8d3f1c6b2e4
Revises: a6c3e9d1f2b8
Create Date: 2026-12-02 02:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'a8d3f1c6b2e4'
down_revision: Union[str, Sequence[str], None] = 'a6c3e9d1f2b8'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('sale') as batch:
        batch.add_column(
            sa.Column('competitor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        # Sales stored before were never lost: no reasons.
        batch.add_column(sa.Column('loss_reasons', sa.JSON(), nullable=False, server_default='[]'))
    op.create_table(
        'crm_settings',
        sa.Column('org_id', sa.Uuid(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('won_stages', sa.JSON(), nullable=True),
        sa.Column('lost_stages', sa.JSON(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'source'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('crm_settings')
    with op.batch_alter_table('sale') as batch:
        batch.drop_column('loss_reasons')
        batch.drop_column('competitor')
