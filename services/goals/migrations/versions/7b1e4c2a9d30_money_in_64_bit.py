"""money in 64 bit: every *_minor column becomes BIGINT

Revision ID: 7b1e4c2a9d30
Revises: 32c5a496f9d7
Create Date: 2026-12-01 23:00:00

A 32-bit INTEGER stops at 21,474,836.47 in a currency with cents; PostgreSQL refused larger
targets. SQLite stores 64-bit integers either way; batch mode rebuilds its tables so the
declared type matches the models.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '7b1e4c2a9d30'
down_revision: Union[str, Sequence[str], None] = '32c5a496f9d7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Frozen here rather than read from the models: this migration must not change with them.
COLUMNS = {
    'past_result': ('achieved_minor',),
    'plan': ('target_minor',),
    'target': ('amount_minor', 'original_minor'),
    'target_change': ('old_minor', 'new_minor', 'delta_minor'),
    'member_standing': ('achieved_minor', 'projected_minor'),
    'rebalance': ('requested_minor', 'moved_minor', 'uncovered_minor'),
}


def _retype(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, existing_type=old, type_=new, existing_nullable=False)


def upgrade() -> None:
    """Upgrade schema."""
    _retype(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    """Downgrade schema (fails on PostgreSQL if an amount no longer fits in 32 bits)."""
    _retype(sa.BigInteger(), sa.Integer())
