"""The status token: the signed key to one request's status page, carried by every email.

Signed with SECRET_KEY (Django's signing) and limited to ``DSR_STATUS_LINK_DAYS``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .crypto import constant_time_equal
from .models import DataSubjectRequest

_STATUS_SALT = "dsr.status"


def status_token(request: DataSubjectRequest) -> str:
    return signing.dumps({"r": str(request.pk)}, salt=_STATUS_SALT, compress=True)


def status_path(request: DataSubjectRequest) -> str:
    """The person's status page, with its token: the link every email to them carries."""
    return reverse("dsr:status", args=[request.reference]) + f"?t={status_token(request)}"


def check_status_token(request: DataSubjectRequest, token: str) -> bool:
    """True if ``token`` was issued for this very request and has not expired."""
    try:
        payload = signing.loads(
            token, salt=_STATUS_SALT, max_age=timedelta(days=settings.DSR_STATUS_LINK_DAYS)
        )
    except signing.BadSignature:
        return False
    return isinstance(payload, dict) and constant_time_equal(str(payload.get("r", "")), str(request.pk))
