"""The suppression list: keyed hashes of erased people's identifiers, never the values.

A connected system asks with the SHA-256 of a normalised identifier (email:
trimmed and lower-cased); we compare keyed hashes of that, so the list itself
cannot be reversed with a dictionary of addresses by whoever reads our database.
"""

from __future__ import annotations

import hashlib
import hmac

from dsr.core.crypto import normalise_email, subkey
from dsr.core.models import DataSubjectRequest, JobStatus, Suppression


def normalise(kind: str, value: str) -> str:
    return normalise_email(value) if kind == "email" else value.strip()


def sha256_of(kind: str, value: str) -> str:
    """What a system sends us: the hex SHA-256 of the normalised identifier."""
    return hashlib.sha256(normalise(kind, value).encode()).hexdigest()


def digest(kind: str, sha256_hex: str) -> str:
    return hmac.new(subkey("suppression"), f"{kind}:{sha256_hex.lower()}".encode(), hashlib.sha256).hexdigest()


def record(request: DataSubjectRequest) -> int:
    """Keep a suppression entry for each identifier the erasure used; returns how many it used.

    One INSERT for them all; an identifier already on the list keeps its first entry.
    """
    identifiers = dict(request.identifiers or {})
    for learned in request.jobs.filter(status=JobStatus.SUCCEEDED).values_list("learned", flat=True):
        for kind, value in (learned or {}).items():
            identifiers.setdefault(kind, value)
    entries = [
        Suppression(kind=kind, digest=digest(kind, sha256_of(kind, value)), request=request)
        for kind, value in identifiers.items()
        if kind != "name" and value  # a name alone identifies no one
    ]
    Suppression.objects.bulk_create(entries, ignore_conflicts=True)
    return len(entries)


def is_suppressed(kind: str, sha256_hex: str) -> bool:
    return Suppression.objects.filter(kind=kind, digest=digest(kind, sha256_hex)).exists()
