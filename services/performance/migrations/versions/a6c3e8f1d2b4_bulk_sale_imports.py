"""bulk sale imports, and evaluations held while an import runs

Revision ID: a6c3e8f1d2b4
Revises: a6c3e9f1b2d4
Create Date: 2026-12-02 02:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'a6c3e8f1d2b4'
down_revision: Union[str, Sequence[str], None] = 'a6c3e9f1b2d4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('sale_import',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('applied', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_import'))
    )
    with op.batch_alter_table('sale_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sale_import_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_sale_import_state_created', ['state', 'created_at'], unique=False)
    op.create_table('sale_import_row',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('import_id', sa.Uuid(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_import_row'))
    )
    with op.batch_alter_table('sale_import_row', schema=None) as batch_op:
        batch_op.create_index(
            'ix_sale_import_row_import_outcome', ['import_id', 'outcome', 'line'], unique=False
        )
    with op.batch_alter_table('evaluation_due', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_by', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_evaluation_due_held_by'), ['held_by'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('evaluation_due', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluation_due_held_by'))
        batch_op.drop_column('held_by')
    with op.batch_alter_table('sale_import_row', schema=None) as batch_op:
        batch_op.drop_index('ix_sale_import_row_import_outcome')
    op.drop_table('sale_import_row')
    with op.batch_alter_table('sale_import', schema=None) as batch_op:
        batch_op.drop_index('ix_sale_import_state_created')
        batch_op.drop_index(batch_op.f('ix_sale_import_org_id'))
    op.drop_table('sale_import')
