"""Answering the person: complete, deny, extend; and what completion leaves behind.

Completing an erasure keeps a suppression hash of each identifier; completing an
erasure or a rectification records the recipients told of it (GDPR Art. 19).
Each outcome is emailed from a template, after commit.
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
    SystemConnection,
)
from dsr.core.queue import Task
from dsr.core.selectors import current_bundle
from dsr.results import suppression
from dsr.results.erasure import exceptions_cited


class CannotClose(Exception):
    """The action is not possible now; the message says why."""


def _send(request: DataSubjectRequest, outcome: str) -> None:
    queue.on_commit(Task.SEND_OUTCOME, str(request.pk), outcome)


def recipients_to_notify(request: DataSubjectRequest) -> list[dict[str, str]]:
    """Art. 19: who received the data from the systems that changed it, and how they are told."""
    touched = request.jobs.filter(status=JobStatus.SUCCEEDED, action__in=["erase", "rectify"]).select_related("system")
    connected = set(SystemConnection.objects.filter(enabled=True).values_list("name", flat=True))
    seen: dict[str, dict[str, str]] = {}
    for job in touched:
        for name in job.system.recipients or []:
            seen.setdefault(name, {
                "name": name,
                "via": "its own job" if name in connected else "a task for the privacy team",
                "from_system": job.system.name,
            })
    return sorted(seen.values(), key=lambda r: r["name"])


def complete(request: DataSubjectRequest, *, actor: Actor, outcome: str = "completed") -> bool:
    """Close the request as done (or partly done), with what the law asks us to keep and tell."""
    with audit.batch():
        extra: dict[str, Any] = {"outcome": outcome}
        if request.kind in (Kind.ERASURE, Kind.RECTIFICATION):
            extra["notified_recipients"] = recipients_to_notify(request)
        if request.kind == Kind.ERASURE and request.exceptions.exists():
            extra["outcome"] = outcome = "partial"
        changed = lifecycle.transition(
            request, Status.COMPLETED, actor=actor, details={"outcome": outcome}, fields=extra
        )
        if not changed:
            return False
        for recipient in extra.get("notified_recipients", []):
            # A connected recipient was told by its own job; any other is a task for the team.
            verb = "recipient.notified" if recipient["via"] == "its own job" else "recipient.to_notify"
            audit.record(verb, actor=actor, request=request,
                         details={"recipient": recipient["name"], "via": recipient["via"]})
        if request.kind == Kind.ERASURE:
            suppression.record(request)
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
        "recipients": request.notified_recipients or [],
        "changes": request.changes or [],
        "bundle": item,
        "withheld": (item.manifest.get("withheld") if item else []) or [],
        "skipped": list(request.jobs.filter(status=JobStatus.SKIPPED).select_related("system")),
    }
