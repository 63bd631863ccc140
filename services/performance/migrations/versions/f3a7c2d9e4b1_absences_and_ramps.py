"""absences and ramps: pace over the days a rep is available

Revision ID: f3a7c2d9e4b1
Revises: b7e1c0a4d2f9
Create Date: 2026-12-01 23:55:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = 'f3a7c2d9e4b1'
down_revision: Union[str, Sequence[str], None] = 'b7e1c0a4d2f9'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('absence',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_absence'))
    )
    with op.batch_alter_table('absence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_absence_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_absence_member_id'), ['member_id'], unique=False)
    with op.batch_alter_table('member') as batch:
        batch.add_column(sa.Column('starts_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('ramp_schedule', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('member') as batch:
        batch.drop_column('ramp_schedule')
        batch.drop_column('starts_on')
    with op.batch_alter_table('absence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_absence_member_id'))
        batch_op.drop_index(batch_op.f('ix_absence_org_id'))
    op.drop_table('absence')
