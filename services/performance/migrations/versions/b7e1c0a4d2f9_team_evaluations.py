"""team evaluations: debounced evaluation after sales, the last team shortfall event, recoveries

Revision ID: b7e1c0a4d2f9
Revises: 84b049021c6b
Create Date: 2026-12-01 23:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'b7e1c0a4d2f9'
down_revision: Union[str, Sequence[str], None] = '84b049021c6b'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('evaluation_due',
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('marks', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('team_id', 'period_id', name=op.f('pk_evaluation_due'))
    )
    op.create_index(op.f('ix_evaluation_due_last_at'), 'evaluation_due', ['last_at'], unique=False)
    with op.batch_alter_table('shortfall_episode') as batch:
        batch.add_column(sa.Column('recovered_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('team_evaluation',
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', 'period_id', name=op.f('pk_team_evaluation'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('team_evaluation')
    with op.batch_alter_table('shortfall_episode') as batch:
        batch.drop_column('recovered_at')
    op.drop_index(op.f('ix_evaluation_due_last_at'), table_name='evaluation_due')
    op.drop_table('evaluation_due')
