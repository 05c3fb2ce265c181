"""Encryption at rest and keyed hashes, all from ``DSR_ENCRYPTION_KEY``.

One master key; purpose-specific subkeys are derived with HKDF so that a hash
made for one purpose (finding a person's requests by email) can never be
replayed for another (checking a one-time code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_VERSION = b"\x01"


@lru_cache(maxsize=16)
def _subkey(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        master
    )


def subkey(purpose: str) -> bytes:
    return _subkey(settings.DSR_ENCRYPTION_KEY, purpose)


def encrypt_bytes(data: bytes, *, purpose: str = "field") -> bytes:
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(subkey(purpose)).encrypt(nonce, data, purpose.encode())


def decrypt_bytes(blob: bytes, *, purpose: str = "field") -> bytes:
    if blob[:1] != _VERSION:
        raise ValueError("unknown ciphertext version")
    nonce, body = blob[1:13], blob[13:]
    return AESGCM(subkey(purpose)).decrypt(nonce, body, purpose.encode())


def encrypt_text(value: str) -> str:
    return base64.b64encode(encrypt_bytes(value.encode())).decode("ascii")


def decrypt_text(token: str) -> str:
    return decrypt_bytes(base64.b64decode(token)).decode()


def encrypt_json(value: Any) -> str:
    return encrypt_text(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def decrypt_json(token: str) -> Any:
    return json.loads(decrypt_text(token))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def identifier_hash(kind: str, value: str) -> str:
    """A keyed hash of one identifier: lets us find a person's requests, not read them."""
    normalised = normalise_email(value) if kind == "email" else value.strip()
    mac = hmac.new(subkey("identifier-hash"), f"{kind}:{normalised}".encode(), hashlib.sha256)
    return mac.hexdigest()


def code_hash(scope: str, code: str) -> str:
    mac = hmac.new(subkey("verification-code"), f"{scope}:{code}".encode(), hashlib.sha256)
    return mac.hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
