"""Secrets at rest: sealing, opening, key rotation, and the production key requirement."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.feedback.config import Settings as FeedbackSettings
from services.performance.config import Settings
from shared.secrets import SEALED_PREFIX, SecretBox, SecretUnreadable

pytestmark = pytest.mark.unit

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRET = "whsec_YXR0YWluLWdlbmVyaWMtdGVzdC1zZWNyZXQtMDAwMQ=="


def test_a_sealed_secret_hides_the_plaintext_and_opens_back():
    """Seal to a Fernet token that does not contain the secret; open it back exactly."""
    sealed = SecretBox([OLD]).seal(SECRET)
    assert sealed.startswith(SEALED_PREFIX) and SECRET not in sealed
    assert SecretBox([OLD]).open(sealed) == SECRET


def test_after_rotation_old_tokens_open_and_reseal_under_the_new_key():
    """Open with any listed key; reseal under the first, after which the old key may go."""
    sealed_old = SecretBox([OLD]).seal(SECRET)
    rotated = SecretBox([NEW, OLD])
    assert rotated.open(sealed_old) == SECRET
    resealed = rotated.reseal(sealed_old)
    assert SecretBox([NEW]).open(resealed) == SECRET


def test_a_token_under_an_unknown_key_is_unreadable_not_garbage():
    """Refuse to open a token sealed under a key that is not configured."""
    with pytest.raises(SecretUnreadable):
        SecretBox([NEW]).open(SecretBox([OLD]).seal(SECRET))
    with pytest.raises(SecretUnreadable):
        SecretBox([]).open(SecretBox([OLD]).seal(SECRET))


def test_a_value_stored_before_encryption_reads_as_it_is():
    """Return an unsealed (legacy) value unchanged, and seal it on reseal."""
    box = SecretBox([OLD])
    assert box.open(SECRET) == SECRET
    assert box.open(box.reseal(SECRET)) == SECRET and box.reseal(SECRET) != SECRET


def test_production_refuses_to_start_without_a_secrets_key():
    """Refuse production settings without PERFORMANCE_SECRETS_KEYS; accept them with one."""
    strong = "x" * 40
    with pytest.raises(ValidationError, match="PERFORMANCE_SECRETS_KEYS"):
        Settings(env="production", jwt_secret=strong)
    ok = Settings(env="production", jwt_secret=strong, secrets_keys=f"{NEW},{OLD}")
    assert ok.secrets_key_list() == [NEW, OLD]


def test_a_malformed_secrets_key_is_refused_at_startup():
    """Refuse a key that is not a Fernet key, in every environment."""
    with pytest.raises(ValidationError, match="Fernet keys"):
        Settings(secrets_keys="not-a-key")


def test_feedback_refuses_a_malformed_key_by_its_own_variable_but_starts_without_one():
    """Name FEEDBACK_SECRETS_KEYS for a bad key; production without keys refuses per write (409)."""
    with pytest.raises(ValidationError, match="FEEDBACK_SECRETS_KEYS must be"):
        FeedbackSettings(secrets_keys="not-a-key")
    assert FeedbackSettings(env="production", jwt_secret="x" * 40).secrets_key_list() == []
