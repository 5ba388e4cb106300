"""Secrets for the API: random, shown once, stored as a SHA-256 digest.

The tokens carry 256 bits of randomness, so a fast hash is enough (a slow password hash
protects guessable secrets; these are not guessable) and lets a request find its token
with one indexed lookup.
"""

import hashlib
import secrets


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token(kind: str) -> tuple[str, str, str]:
    """A fresh secret `<kind>_<random>`: returns (raw, prefix shown in lists, digest)."""
    raw = f"{kind}_{secrets.token_urlsafe(32)}"
    return raw, raw[: len(kind) + 7], token_digest(raw)
