"""Signatures on the calls we make to webhook systems.

A receiving system must be able to tell our calls from anyone else's and refuse
a replayed one, so every POST carries ``X-DSR-Signature: t=<unix time>,v1=<hex>``
where ``v1`` is HMAC-SHA256, keyed with the shared secret, over
``b"<t>." + body`` — the exact bytes sent, never a re-serialisation. Binding the
timestamp into the MAC lets the receiver refuse old calls without keeping state.

A receiver verifies with::

    from connectors.signing import SIGNATURE_HEADER, verify
    verify(secret, request.headers[SIGNATURE_HEADER], request.body)  # raises SignatureError

Several ``v1=`` entries may appear (one per secret while a secret is being
rotated); one match is enough.

The time window stops old calls; to stop a call replayed within the window too,
pass ``first_use``: a function of (signature, seconds to remember it) that returns
False for a signature it has seen before, e.g. Django's ``cache.add``. Every call
we make has a body of its own (a job call carries a fresh callback token, a check
a nonce), so a repeated signature is always a replay, never a retry of ours.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

SIGNATURE_HEADER = "X-DSR-Signature"
SCHEME = "v1"


class SignatureError(ValueError):
    """The call cannot be trusted; the message says why (safe to log, holds no secret)."""


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    if not secret:
        raise ValueError("a signing secret is required")
    return f"t={int(timestamp)},{SCHEME}={_mac(secret, int(timestamp), body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not value:
            raise SignatureError("garbled signature header")
        if name == "t":
            if not (value.isascii() and value.isdigit()):  # "²".isdigit() is true too
                raise SignatureError("garbled signature header: timestamp is not a number")
            timestamp = int(value)
        elif name == SCHEME:
            signatures.append(value)
        # other schemes are ignored so a future v2 can be added alongside v1
    if timestamp is None:
        raise SignatureError("garbled signature header: no timestamp")
    if not signatures:
        raise SignatureError(f"garbled signature header: no {SCHEME} signature")
    return timestamp, signatures


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
    first_use: Callable[[str, int], bool] | None = None,
) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` recently with ``secret``
    (and, given ``first_use``, for the first time)."""
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp, signatures = _parse(header)
    expected = _mac(secret, timestamp, body)
    # constant-time comparison, so timing does not reveal how much of a guess was right
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("signature does not match the body")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(f"timestamp outside the {tolerance}s window (replayed or clock skew)")
    # remembered for the whole window on either side of now, so it cannot come back in it
    if first_use is not None and not first_use(expected, 2 * tolerance):
        raise SignatureError("replayed: this signature has been used before")
