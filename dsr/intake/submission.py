"""Filing a request: store it first, then acknowledge it (by a task, after commit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dsr.core import audit, deadlines, lifecycle, queue
from dsr.core.audit import Actor
from dsr.core.crypto import identifier_hash, normalise_email
from dsr.core.models import (
    OPEN_STATUSES,
    ActorType,
    DataSubjectRequest,
    IntegrationToken,
    Kind,
    RequesterType,
    Status,
    new_reference,
)
from dsr.core.queue import Task
from dsr.core.regimes import is_country, is_us_state, regime_for
from dsr.engine import fanout
from dsr.intake import verification


@dataclass
class Submission:
    """What a person (or their agent) asks for, already validated by a form or serializer."""

    kind: str
    email: str
    country: str = ""
    subdivision: str = ""
    regime: str | None = None
    details: str = ""
    name: str = ""
    phone: str = ""
    customer_id: str = ""
    changes: list[dict[str, str]] = field(default_factory=list)
    requester_type: str = RequesterType.SUBJECT
    agent: dict[str, str] | None = None
    channel: str = "web"
    language: str = "en"


def check_submission(sub: Submission) -> dict[str, str]:
    """Rules across fields, shared by the web form and the API: field name → message."""
    problems: dict[str, str] = {}
    if sub.country and not is_country(sub.country):
        problems["country"] = _("Choose a country from the list (two-letter ISO code).")
    if sub.country.upper() == "US":
        if not sub.subdivision:
            problems["state"] = _("Choose the US state where you live.")
        elif not is_us_state(sub.subdivision):
            problems["state"] = _("Choose a US state from the list (two-letter code).")
    elif sub.subdivision and not sub.country:
        problems["country"] = _("Choose the country where you live.")
    if not sub.country and not sub.regime:
        problems["country"] = _("Choose the country where you live.")
    if sub.requester_type == RequesterType.AGENT:
        agent = sub.agent or {}
        if not agent.get("name"):
            problems["agent_name"] = _("Give the authorized agent's name.")
        if not agent.get("email"):
            problems["agent_email"] = _("Give the authorized agent's email address.")
    if sub.kind == Kind.RECTIFICATION and not sub.changes:
        problems["changes"] = _("Say what should be corrected: at least one field and its new value.")
    return problems


def schedule_for(regime: str, received: date) -> dict[str, Any]:
    """Clock start, due date and acknowledgement date as of receipt.

    Regimes whose clock starts at verification get a provisional due date from
    receipt; :func:`dsr.verification` moves it when the person is verified.
    """
    return {
        "clock_started_on": received,
        "due_on": deadlines.due_date(regime, received),
        "acknowledge_by": deadlines.acknowledge_by(regime, received),
    }


def _identifiers(sub: Submission) -> dict[str, str]:
    ids = {"email": normalise_email(sub.email)}
    for key in ("name", "phone", "customer_id"):
        value = getattr(sub, key).strip()
        if value:
            ids[key] = value
    return ids


def submit_request(
    sub: Submission, *, actor: Actor | None = None, integration: IntegrationToken | None = None
) -> DataSubjectRequest:
    """Store the request, link it to an open one of the same kind, queue the acknowledgement.

    A trusted ``integration`` (the company's own site, where the person is logged in)
    vouches for the person: the request is verified at once and, if the integration
    says so, approved.
    """
    if integration is not None:
        actor = Actor(ActorType.SYSTEM, f"integration:{integration.name}")
    actor = actor or (Actor("agent") if sub.requester_type == RequesterType.AGENT else Actor.subject())
    regime = sub.regime or regime_for(sub.country, sub.subdivision)
    received_at = timezone.now()
    email_hash = identifier_hash("email", sub.email)
    with audit.batch():  # its several audit events in one append, just before the commit
        earlier = (
            DataSubjectRequest.objects.filter(
                email_hash=email_hash, kind=sub.kind, status__in=OPEN_STATUSES
            )
            .order_by("received_at")
            .first()
        )
        request = _create(
            kind=sub.kind,
            regime=regime,
            identifiers=_identifiers(sub),
            email_hash=email_hash,
            requester_type=sub.requester_type,
            agent=sub.agent,
            changes=sub.changes if sub.kind == Kind.RECTIFICATION else None,
            details={"text": sub.details} if sub.details else None,
            country=sub.country.upper(),
            subdivision=sub.subdivision.upper(),
            language=sub.language,
            received_at=received_at,
            duplicate_of=earlier,
            **schedule_for(regime, timezone.localdate(received_at)),
        )
        audit.record(
            "request.received",
            actor=actor,
            request=request,
            details={
                "kind": request.kind,
                "regime": regime,
                "channel": sub.channel,
                "requester_type": sub.requester_type,
                "due_on": request.due_on.isoformat(),
            },
        )
        if earlier is not None:
            audit.record(
                "request.linked",
                actor=actor,
                request=request,
                details={"duplicate_of": earlier.reference},
            )
        request_id = str(request.pk)
        if integration is not None:
            verified = lifecycle.Move(Status.VERIFIED, actor, {"method": "trusted_integration"},
                                      verification.verified_fields(request))
            if earlier is None and verification.approved_at_once(request, auto_approve=integration.auto_approve):
                # Nobody's request to look at, nothing to decide: verified, approved and
                # started in one UPDATE.
                fanout.approve(request, actor=verification.AUTO_APPROVAL, reason="auto", alone=True, after=[verified])
            else:
                lifecycle.transition_through(request, [verified])
                verification.after_verified(request, auto_approve=integration.auto_approve,
                                            others_open=earlier is not None)
            queue.on_commit(Task.SEND_RECEIPT, request_id)
        else:
            lifecycle.transition(request, Status.AWAITING_VERIFICATION, actor=actor)
            queue.on_commit(Task.SEND_VERIFICATION, request_id)
    return request


def _create(**values: Any) -> DataSubjectRequest:
    """Insert with a fresh public reference, retrying on the rare collision."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return DataSubjectRequest.objects.create(reference=new_reference(), **values)
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a unique request reference")
