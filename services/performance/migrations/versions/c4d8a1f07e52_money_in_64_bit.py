"""money in 64 bit: every *_minor column becomes BIGINT

Revision ID: c4d8a1f07e52
Revises: 941d15dbe966
Create Date: 2026-12-01 23:00:00

A 32-bit INTEGER stops at 21,474,836.47 in a currency with cents; PostgreSQL refused larger
sales. SQLite stores 64-bit integers either way; batch mode rebuilds its tables so the
declared type matches the models.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'c4d8a1f07e52'
down_revision: Union[str, Sequence[str], None] = '941d15dbe966'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Frozen here rather than read from the models: this migration must not change with them.
# (table, column, nullable)
COLUMNS = {
    'target': (('amount_minor', False),),
    'sale': (('amount_minor', False),),
    'sale_credit': (('credited_minor', False),),
    'attainment': (('achieved_minor', False), ('reported_achieved_minor', True)),
    'shortfall_episode': (('shortfall_minor', False),),
}


def _retype(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column, nullable in columns:
                batch.alter_column(column, existing_type=old, type_=new, existing_nullable=nullable)


def upgrade() -> None:
    """Upgrade schema."""
    _retype(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    """Downgrade schema (fails on PostgreSQL if an amount no longer fits in 32 bits)."""
    _retype(sa.BigInteger(), sa.Integer())
