"""Secrets at rest: Fernet tokens under keys from the environment, rotatable with MultiFernet."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

#: Marks a sealed value, so rows written before encryption was configured still read as they are.
SEALED_PREFIX = "fernet:"


class SecretUnreadable(RuntimeError):
    """A stored secret was sealed under a key that is not configured (any more)."""


def parse_keys(value: str | None) -> list[str]:
    """Split a comma-separated key list; each must be a urlsafe-base64 32-byte Fernet key."""
    keys = [k.strip() for k in (value or "").split(",") if k.strip()]
    for key in keys:
        Fernet(key)  # raises ValueError for anything that is not a Fernet key
    return keys


class SecretBox:
    """Seal secrets before they are stored and open them when used.

    The first key seals; every key opens, so a new key goes first and the old one stays listed
    until ``reseal`` has run over the rows. Without keys (development and tests only: production
    settings refuse to start) values are stored as they are.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None

    @property
    def enabled(self) -> bool:
        """Tell whether values are sealed."""
        return self._fernet is not None

    def seal(self, plaintext: str) -> str:
        """The value to store for a secret."""
        if self._fernet is None:
            return plaintext
        return SEALED_PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret behind a stored value (a value stored unsealed is returned as it is)."""
        if not stored.startswith(SEALED_PREFIX):
            return stored
        if self._fernet is None:
            raise SecretUnreadable("a stored secret is sealed but no secrets key is configured")
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a stored secret was sealed under a key that is not configured"
            ) from None

    def reseal(self, stored: str) -> str:
        """The stored value sealed under the first key (after a key rotation, or if unsealed)."""
        return self.seal(self.open(stored))
