"""Answering the person: complete, deny, extend; and what completion leaves behind.

Completing an erasure keeps a suppression hash of each identifier; completing an
erasure or a rectification starts telling the recipients of the changed data
(``dsr.results.notices``). Each outcome is emailed from a template, after commit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from dsr.core import audit, deadlines, lifecycle, queue
from dsr.core.audit import Actor
from dsr.core.models import (
    OPEN_STATUSES,
    DataSubjectRequest,
    JobStatus,
    Kind,
    Status,
)
from dsr.core.queue import Task
from dsr.core.selectors import current_bundle
from dsr.results import notices, own_records, suppression
from dsr.results.erasure import exceptions_cited


class CannotClose(Exception):
    """The action is not possible now; the message says why."""


def _send(request: DataSubjectRequest, outcome: str) -> None:
    queue.on_commit(Task.SEND_OUTCOME, str(request.pk), outcome)


def complete(request: DataSubjectRequest, *, actor: Actor, outcome: str = "completed") -> bool:
    """Close the request as done (or partly done), with what the law asks us to keep and tell."""
    with audit.batch():
        extra: dict[str, Any] = {"outcome": outcome}
        if request.kind == Kind.ERASURE and request.exceptions.exists():
            extra["outcome"] = outcome = "partial"
        changed = lifecycle.transition(
            request, Status.COMPLETED, actor=actor, details={"outcome": outcome}, fields=extra
        )
        if not changed:
            return False
        if request.kind in (Kind.ERASURE, Kind.RECTIFICATION):
            notices.create_for(request, actor=actor)
        if request.kind == Kind.ERASURE:
            suppression.record(request)
            own_records.forget_earlier(request, actor=actor)
        _send(request, "partial" if outcome == "partial" else "completed")
    return True


def deny(request: DataSubjectRequest, *, reason: str, actor: Actor) -> bool:
    """Refuse, with the reason the person is told and their right to complain."""
    if not reason.strip():
        raise CannotClose("A denial needs the reason the person will be told.")
    with transaction.atomic():
        changed = lifecycle.transition(
            request, Status.DENIED, actor=actor, details={"reason_given": True},
            fields={"denial_reason": reason.strip(), "outcome": "denied"},
        )
        if changed:
            _send(request, "denied")
    return changed


def extend(request: DataSubjectRequest, *, reason: str, actor: Actor) -> bool:
    """Extend once, within the regime's limit, telling the person before the first date passes."""
    if request.status not in OPEN_STATUSES:
        raise CannotClose("Only an open request can be extended.")
    if request.extended_due_on:
        raise CannotClose("This request has already been extended once.")
    if not reason.strip():
        raise CannotClose("An extension needs the reason the person will be told.")
    if timezone.localdate() > request.due_on:
        raise CannotClose("The original due date has passed; the person must be told before it.")
    new_date = deadlines.extended_due_date(request.regime, request.clock_started_on)
    if new_date <= request.due_on:
        raise CannotClose(f"The {request.get_regime_display()} allows no extension.")
    with transaction.atomic():
        # Reminders count down to the new date: forget those sent for the old one.
        kept = [m for m in request.reminders_sent or [] if not m.startswith(("due:", "overdue"))]
        updated = DataSubjectRequest.objects.filter(pk=request.pk, extended_due_on__isnull=True).update(
            extended_due_on=new_date, extension_reason=reason.strip(), reminders_sent=kept
        )
        if not updated:
            return False
        request.extended_due_on, request.extension_reason = new_date, reason.strip()
        audit.record("request.extended", actor=actor, request=request,
                     details={"from": request.due_on.isoformat(), "to": new_date.isoformat()})
        _send(request, "extended")
    return True


def outcome_context(request: DataSubjectRequest) -> dict[str, Any]:
    """What every outcome email may mention: no records, only what the person asked and got."""
    item = current_bundle(request)
    return {
        "request": request,
        "exceptions": exceptions_cited(request),
        **notices.split(request),
        "changes": request.changes or [],
        "bundle": item,
        "withheld": (item.manifest.get("withheld") if item else []) or [],
        "skipped": list(request.jobs.filter(status=JobStatus.SKIPPED).select_related("system")),
        "own_records": own_records.kept(request),
    }
