"""The status token: the signed key to one request's status page, carried by every email.

Signed with SECRET_KEY (Django's signing), it lives ``DSR_STATUS_LINK_DAYS`` and dies sooner:
a token issued before the request was verified stops working once it is, and an officer's
revocation (``revoke``) voids every token issued before it. Emails link to
``/requests/<ref>/open/<token>/``, which puts a fresh token in a cookie scoped to that
request's pages and redirects to the token-free status page: the token stays out of
access logs and ``Referer``. The API takes it as a bearer header.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db.models import F
from django.urls import reverse

from .crypto import constant_time_equal
from .models import DataSubjectRequest

_STATUS_SALT = "dsr.status"
COOKIE = "dsr_status"


def status_token(request: DataSubjectRequest, *, fresh: bool = False) -> str:
    """``fresh``: the caller's copy is as stored (it has just filed or loaded the request), so
    it is not read again; otherwise the token is made as the request is stored now. (Should
    the copy be behind an officer's revocation, the token is simply dead: never the reverse.)"""
    stored = None if fresh else (
        DataSubjectRequest.objects.filter(pk=request.pk).values_list("verified_at", "status_revocations").first()
    )
    verified_at, revocations = stored or (request.verified_at, request.status_revocations)
    payload = {"r": str(request.pk), "g": revocations}
    if verified_at is None:
        payload["p"] = 1  # before verification: dies when the request is verified
    return signing.dumps(payload, salt=_STATUS_SALT, compress=True)


def status_path(request: DataSubjectRequest, *, fresh: bool = False) -> str:
    """The link every email to the person carries: it opens their status page (see the module).

    ``fresh``: as :func:`status_token`'s (the caller has just loaded the request)."""
    return reverse("dsr:status-open", args=[request.reference, status_token(request, fresh=fresh)])


def status_cookie_path(request: DataSubjectRequest) -> str:
    """The status cookie is sent only with this request's own pages."""
    return reverse("dsr:status", args=[request.reference])


def check_status_token(request: DataSubjectRequest, token: str) -> bool:
    """True if ``token`` was issued for this very request, has not expired, nor been revoked,
    nor (issued before verification) outlived the verification."""
    try:
        payload = signing.loads(
            token, salt=_STATUS_SALT, max_age=timedelta(days=settings.DSR_STATUS_LINK_DAYS)
        )
    except signing.BadSignature:
        return False
    if not isinstance(payload, dict) or not constant_time_equal(str(payload.get("r", "")), str(request.pk)):
        return False
    current = DataSubjectRequest.objects.filter(pk=request.pk).values_list("verified_at", "status_revocations").first()
    if current is None or payload.get("g", 0) != current[1]:  # revoked since
        return False
    return not (payload.get("p") and current[0] is not None)


def revoke(request: DataSubjectRequest) -> None:
    """Void every status token issued so far for ``request`` (the caller audits it)."""
    DataSubjectRequest.objects.filter(pk=request.pk).update(status_revocations=F("status_revocations") + 1)
    request.refresh_from_db(fields=["status_revocations"])
