"""What this handler itself holds about the person: their requests, how they confirmed them, what we did.

An access answer includes it as one more system (``SYSTEM``); an erasure removes the
person's identifiers from their earlier, closed requests and keeps the record of each
(dates, kind, outcome), which the law asks us to keep to show how we handled it
(GDPR Art. 5(2), CCPA regulations §7101). The erasure request itself keeps the email
until ``DSR_RECORD_RETENTION_MONTHS`` after it closes, then loses it the same way
(``dsr.results.retention``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from dsr.core import audit
from dsr.core.audit import Actor
from dsr.core.models import (
    TERMINAL_STATUSES,
    AuditEvent,
    DataSubjectRequest,
    SystemConnection,
    Verification,
)

from . import retention

SYSTEM = "privacy-requests"


def system() -> SystemConnection:
    """This handler, described as a system (never saved): what the access answer says about it."""
    months = settings.DSR_RECORD_RETENTION_MONTHS
    return SystemConnection(
        name=SYSTEM, connector="", public_name=str(_("Your privacy requests to us")),
        purposes=[str(_("handling your privacy requests, and showing how we handled them"))],
        data_categories=[str(_("your requests and what you told us in them")),
                         str(_("how you confirmed they were yours")), str(_("what we did, and when"))],
        recipients=None,  # whoever delivers our email, for one, depends on the deployment: not stated
        retention=str(_("{months} months after a request is closed; then only a record of the request "
                        "stays, without your email address or other identifiers")).format(months=months),
        source=str(_("you, and our handling of your requests")),
        # Stated by the operator: this handler's database and mail server are in that country.
        country=settings.DSR_DATA_COUNTRY, transfers=[] if settings.DSR_DATA_COUNTRY else None,
        automated_decisions=str(_(
            "Only a person can refuse a request, never an automated system. A request not confirmed within "
            "{days} days closes by itself."
        )).format(days=settings.DSR_UNVERIFIED_EXPIRY_DAYS) + (
            " " + str(_("Some kinds of request are approved as soon as you confirm them."))
            if settings.DSR_AUTO_APPROVE_KINDS else ""
        ),
    )


def mine(request: DataSubjectRequest):
    """The person's requests (found by the keyed hash of their email), oldest first."""
    if not request.email_hash:
        return DataSubjectRequest.objects.filter(pk=request.pk)
    return DataSubjectRequest.objects.filter(email_hash=request.email_hash).order_by("received_at")


def records(request: DataSubjectRequest) -> Iterator[tuple[str, dict[str, Any]]]:
    """(category, fields) of everything we hold about the person's requests."""
    requests = list(mine(request))
    for item in requests:
        yield "requests", {
            "reference": item.reference, "kind": item.get_kind_display(), "law": item.get_regime_display(),
            "status": item.get_status_display(), "received": item.received_at.isoformat(),
            "confirmed": item.verified_at.isoformat() if item.verified_at else None,
            "due": item.effective_due_on.isoformat(), "closed": item.closed_at.isoformat() if item.closed_at else None,
            "outcome": item.outcome or None, "why we refused": item.denial_reason or None,
            "why we needed more time": item.extension_reason or None,
            "filed by": item.get_requester_type_display(), "country": item.country or None,
            "your identifiers": item.identifiers or None, "your words": (item.details or {}).get("text"),
            "corrections asked": [{"field": c.get("field"), "value": c.get("value"), "decision": c.get("decision")}
                                  for c in item.changes or []] or None,
        }
    ids = [item.pk for item in requests]
    references = {item.pk: item.reference for item in requests}
    for check in Verification.objects.filter(request_id__in=ids).order_by("created_at"):
        yield "confirmations", {
            "request": references[check.request_id], "purpose": check.purpose,
            "code sent": check.created_at.isoformat(), "wrong tries": check.attempts,
            "used": check.used_at.isoformat() if check.used_at else None,
        }
    for event in AuditEvent.objects.filter(request_id__in=ids).order_by("seq").iterator(chunk_size=500):
        yield "what happened", {
            "request": references[event.request_id], "when": event.created_at.isoformat(),
            "what": event.verb, "by": event.actor_type,
        }


def forget_earlier(request: DataSubjectRequest, *, actor: Actor) -> int:
    """On erasure: the person's other closed requests lose their identifiers and keep their record."""
    earlier = mine(request).exclude(pk=request.pk).filter(status__in=TERMINAL_STATUSES, purged_at__isnull=True)
    stripped = sum(retention.purge_one(item, reason=f"erasure {request.reference}") for item in earlier)
    audit.record("own_records.identifiers_removed", actor=actor, request=request,
                 details={"requests": stripped})
    return stripped


def kept(request: DataSubjectRequest) -> dict[str, Any] | None:
    """What an erasure did to our own records of the person's requests, for the texts that say so."""
    event = request.audit_events.filter(verb="own_records.identifiers_removed").first()
    if event is None:
        return None
    return {"earlier": event.details.get("requests", 0), "months": settings.DSR_RECORD_RETENTION_MONTHS}
