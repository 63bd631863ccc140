"""dispute evidence packs: hash-linked entries per dispute

Revision ID: b7d3e9f1a2c4
Revises: 1533398f0c02
Create Date: 2026-12-02 02:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'b7d3e9f1a2c4'
down_revision: Union[str, Sequence[str], None] = '1533398f0c02'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'dispute_evidence',
        sa.Column('dispute_id', sa.Uuid(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Uuid(), nullable=False),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(['dispute_id'], ['dispute.id'], name=op.f('fk_dispute_evidence_dispute_id_dispute')),
        sa.PrimaryKeyConstraint('dispute_id', 'seq', name=op.f('pk_dispute_evidence')),
        sa.UniqueConstraint('dispute_id', 'key', name=op.f('uq_dispute_evidence_dispute_id_key')),
    )
    with op.batch_alter_table('dispute_evidence') as batch:
        batch.create_index(batch.f('ix_dispute_evidence_org_id'), ['org_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('dispute_evidence') as batch:
        batch.drop_index(batch.f('ix_dispute_evidence_org_id'))
    op.drop_table('dispute_evidence')
