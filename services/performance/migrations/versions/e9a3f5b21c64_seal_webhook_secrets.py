"""seal webhook secrets: encrypt stored secrets and API tokens with PERFORMANCE_SECRETS_KEYS

Revision ID: e9a3f5b21c64
Revises: c4d8a1f07e52
Create Date: 2026-12-01 23:30:00

Rows written before encryption hold plaintext. With keys configured, each such value is sealed
under the first key (Fernet, the format shared/secrets.py reads). Without keys (development)
nothing changes (the service reads unsealed values as they are); with ATTAIN_ENV=production it
refuses, as the service itself does.
"""
import os
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'e9a3f5b21c64'
down_revision: Union[str, Sequence[str], None] = 'c4d8a1f07e52'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Frozen here rather than imported: this migration must not change with shared/secrets.py.
PREFIX = 'fernet:'
_SECRETS = sa.table(
    'webhook_secret',
    sa.column('id', sa.Uuid()),
    sa.column('secret', sa.String()),
    sa.column('api_token', sa.String()),
)


def _fernet():
    from cryptography.fernet import Fernet, MultiFernet

    keys = [k.strip() for k in os.environ.get('PERFORMANCE_SECRETS_KEYS', '').split(',') if k.strip()]
    return MultiFernet([Fernet(k) for k in keys]) if keys else None


def _rewrite(change) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_SECRETS.c.id, _SECRETS.c.secret, _SECRETS.c.api_token)).all()
    for row in rows:
        secret, token = change(row.secret), change(row.api_token) if row.api_token else None
        if (secret, token) != (row.secret, row.api_token):
            conn.execute(
                _SECRETS.update().where(_SECRETS.c.id == row.id).values(secret=secret, api_token=token)
            )


def upgrade() -> None:
    """Seal every unsealed secret and token (when keys are configured)."""
    fernet = _fernet()
    if fernet is None:
        # Marked done either way, so production must not pass here with rows left in plaintext.
        if os.environ.get('ATTAIN_ENV') == 'production':
            raise RuntimeError('ATTAIN_ENV=production: set PERFORMANCE_SECRETS_KEYS to seal webhook secrets')
        return

    def seal(value: str) -> str:
        if value.startswith(PREFIX):
            return value
        return PREFIX + fernet.encrypt(value.encode()).decode()

    _rewrite(seal)


def downgrade() -> None:
    """Open every sealed secret and token back to plaintext (needs the keys)."""
    fernet = _fernet()
    if fernet is None:
        sealed = op.get_bind().execute(
            sa.select(sa.func.count()).select_from(_SECRETS).where(_SECRETS.c.secret.startswith(PREFIX))
        ).scalar_one()
        if sealed:
            raise RuntimeError('sealed webhook secrets exist: set PERFORMANCE_SECRETS_KEYS to downgrade')
        return

    def unseal(value: str) -> str:
        if not value.startswith(PREFIX):
            return value
        return fernet.decrypt(value.removeprefix(PREFIX).encode()).decode()

    _rewrite(unseal)
