"""Bearer tokens: one admin token, and one token per node that may only heartbeat for that node.

Only salted hashes are kept (in memory for the admin token, in SQLite for node tokens) and compared with
:func:`hmac.compare_digest`. A node token reads ``<token id>.<secret>``: the id (16 hex digits) finds the
stored record in one indexed lookup, the secret (32 random bytes, URL-safe base64) is what is hashed.

Why SHA-256 and not scrypt: the secrets are 256-bit random strings made by :mod:`secrets`, not
passwords a person chose, so a brute-force search of their hash is already hopeless; key stretching
(scrypt's point) would only add ~50 ms to every heartbeat. The per-token salt keeps two equal secrets
from having equal hashes.

>>> tok = new_node_token()
>>> rec = hash_secret(tok.secret)
>>> verify_secret(tok.secret, rec), verify_secret("guess", rec)
(True, False)
>>> parse_node_token(tok.token) == (tok.token_id, tok.secret)
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "HashedSecret",
    "NodeToken",
    "Principal",
    "PrincipalKind",
    "hash_secret",
    "new_node_token",
    "parse_bearer",
    "parse_node_token",
    "verify_secret",
]

_SALT_BYTES = 16
_ID_HEX = 16


@dataclass(frozen=True)
class HashedSecret:
    """A salt and ``sha256(salt + secret)``."""

    salt: bytes
    digest: bytes


@dataclass(frozen=True)
class NodeToken:
    """A freshly issued node token; ``token`` is shown to the admin once and never stored."""

    token_id: str
    secret: str

    @property
    def token(self) -> str:
        """The bearer string ``<token id>.<secret>``."""
        return f"{self.token_id}.{self.secret}"


class PrincipalKind(StrEnum):
    """Who a request comes from."""

    ADMIN = "admin"
    NODE = "node"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the admin, or the node ``node_id``."""

    kind: PrincipalKind
    node_id: str | None = None


def hash_secret(secret: str, salt: bytes | None = None) -> HashedSecret:
    """Salted SHA-256 of ``secret`` (a new random 16-byte salt unless one is given)."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    return HashedSecret(salt, hashlib.sha256(salt + secret.encode("utf-8")).digest())


def verify_secret(secret: str, stored: HashedSecret) -> bool:
    """Whether ``secret`` hashes to ``stored`` (constant-time comparison)."""
    return hmac.compare_digest(hash_secret(secret, stored.salt).digest, stored.digest)


def new_node_token() -> NodeToken:
    """A new random node token (64-bit id, 256-bit secret)."""
    return NodeToken(secrets.token_hex(_ID_HEX // 2), secrets.token_urlsafe(32))


def parse_node_token(token: str) -> tuple[str, str] | None:
    """``(token id, secret)`` of a bearer string shaped like a node token, else ``None``."""
    tid, sep, secret = token.partition(".")
    if not sep or len(tid) != _ID_HEX or not secret or any(c not in "0123456789abcdef" for c in tid):
        return None
    return tid, secret


def parse_bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; ``None`` when absent or not bearer.

    >>> parse_bearer("Bearer abc"), parse_bearer("Basic abc"), parse_bearer(None)
    ('abc', None, None)
    """
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
