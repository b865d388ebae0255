"""Passwords and bearer tokens.

Passwords are hashed with argon2 through pwdlib. API tokens and browser sessions are random
256-bit secrets shown once; the database stores only their SHA-256 (a fast hash is enough for
high-entropy secrets and allows lookup by hash).
"""

from __future__ import annotations

import functools
import hashlib
import secrets

from pwdlib import PasswordHash

__all__ = ["hash_password", "hash_token", "new_token", "verify_password"]

TOKEN_PREFIX = "ul_"
_password_hash = PasswordHash.recommended()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the e-mail is unknown, so both paths cost one argon2 verification.
    return _password_hash.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _password_hash.verify(password, _dummy_hash())
        return False
    return _password_hash.verify(password, password_hash)


def new_token() -> tuple[str, str]:
    """A fresh secret and the hash to store: `(plaintext, sha256_hex)`."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return plaintext, hash_token(plaintext)


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()
