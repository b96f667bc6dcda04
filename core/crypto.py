"""Secrets at rest: AES-256-GCM with a key from the environment, rotatable.

`ORCH_ENCRYPTION_KEYS` holds one or more base64 32-byte keys, comma-separated, newest first: new
values are encrypted with the first, old ones still decrypt with any. Without it a key is derived
from SECRET_KEY (HKDF), so the embedded default works with no set-up. Ciphertexts are
`v1:<key id>:<base64(nonce + ciphertext + tag)>`; the key id is a short hash of the key, so a
rotated-out key gives a clear error instead of garbage.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "v1"


class DecryptionError(ValueError):
    """A stored secret cannot be read with the configured keys."""


def _derive_from_secret_key() -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"orchestrator-secrets", info=b"aes-256-gcm").derive(
        settings.SECRET_KEY.encode()
    )


def keys() -> list[bytes]:
    raw = os.environ.get("ORCH_ENCRYPTION_KEYS", "").strip()
    if not raw:
        return [_derive_from_secret_key()]
    found = []
    for part in raw.split(","):
        key = base64.urlsafe_b64decode(part.strip() + "=" * (-len(part.strip()) % 4))
        if len(key) != 32:
            raise ValueError("each ORCH_ENCRYPTION_KEYS entry must be 32 bytes, base64-encoded")
        found.append(key)
    return found


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    key = keys()[0]
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), PREFIX.encode())
    return f"{PREFIX}:{key_id(key)}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        prefix, kid, body = token.split(":", 2)
        blob = base64.urlsafe_b64decode(body)
    except ValueError:
        raise DecryptionError("stored secret is not in the v1 format") from None
    for key in keys():
        if key_id(key) == kid:
            try:
                return AESGCM(key).decrypt(blob[:12], blob[12:], prefix.encode()).decode()
            except Exception as exc:
                raise DecryptionError("stored secret failed its integrity check") from exc
    raise DecryptionError(
        f"stored secret was encrypted with key {kid}, which is not in ORCH_ENCRYPTION_KEYS; "
        "add the old key back (after the new one) to read it"
    )


def needs_rotation(token: str) -> bool:
    return bool(token) and token.split(":", 2)[1] != key_id(keys()[0])
