"""Application-level encryption of personal data (pgcrypto is not in the embedded server).

Encrypted columns hold Fernet tokens; a keyed hash (HMAC-SHA256) beside a column makes
exact-match lookups and uniqueness possible without decrypting.  Keys come from the
environment (or the instance folder); several comma-separated encryption keys allow
rotation: the first encrypts, all decrypt.
"""
from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


class FieldCipher:
    def __init__(self, encryption_keys: str, lookup_key: str) -> None:
        self._fernet = MultiFernet([Fernet(k.strip()) for k in encryption_keys.split(",")])
        self._lookup_key = lookup_key.encode()

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:  # wrong key: fail loudly, never show ciphertext
            raise ValueError("encrypted value cannot be read with the configured keys") from exc

    def lookup_hash(self, value: str) -> str:
        """Keyed hash of a normalised (trimmed, lower-cased) value, for unique lookups."""
        normalised = value.strip().lower().encode()
        return hmac.new(self._lookup_key, normalised, hashlib.sha256).hexdigest()


_cipher: FieldCipher | None = None


def configure(encryption_keys: str, lookup_key: str) -> FieldCipher:
    """Install the process-wide cipher used by `EncryptedText` columns."""
    global _cipher
    _cipher = FieldCipher(encryption_keys, lookup_key)
    return _cipher


def cipher() -> FieldCipher:
    if _cipher is None:
        raise RuntimeError("portal.crypto.configure() has not been called")
    return _cipher


class EncryptedText(TypeDecorator):
    """A text column stored encrypted at rest and read back in clear."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else cipher().encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else cipher().decrypt(value)
