"""Telling recipients of a change (GDPR Art. 19 and its likes): tasks, emails, ticks.

When an erasure or a rectification completes, each recipient of a system that changed
the person's data gets a notice. How it is done comes from the system's metadata
(``dsr.core.recipients``): an email sent by a task, the recipient's own connected
system (told by the job it ran), or a task an officer ticks off on the request's page.
A notice counts as told only once that has happened; texts say "we will tell" before.

The moves, like a request's (``dsr.core.lifecycle``), are one table and one function.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from dsr.core import audit, emails, law, queue
from dsr.core.audit import Actor
from dsr.core.models import (
    DataSubjectRequest,
    JobStatus,
    NoticeStatus,
    NoticeWay,
    RecipientNotice,
)
from dsr.core.queue import Task
from dsr.core.recipients import parse
from dsr.results.rectification import accepted_changes

ALLOWED: dict[str, frozenset[str]] = {
    NoticeStatus.TO_DO: frozenset({NoticeStatus.DONE}),
    NoticeStatus.SENDING: frozenset({NoticeStatus.DONE, NoticeStatus.TO_DO}),
}


class NoticeRefused(Exception):
    pass


def create_for(request: DataSubjectRequest, *, actor: Actor) -> list[RecipientNotice]:
    """A notice for each recipient of each system whose erase or rectify job changed something.

    A system that reported no record changed (``affected`` 0) held nothing of the person's
    to pass on; one that could not say (``None``) is counted as changed.
    """
    touched = list(
        request.jobs.filter(status=JobStatus.SUCCEEDED, action__in=["erase", "rectify"])
        .exclude(affected=0).select_related("system").order_by("system__name")
    )
    finished = {job.system.name: job for job in touched}
    notices: dict[str, RecipientNotice] = {}
    for job in touched:
        for recipient in parse(job.system.recipients):
            if recipient.name in notices:
                continue
            notice = RecipientNotice(request=request, system=job.system, name=recipient.name,
                                     way=recipient.notify, address=recipient.email, target=recipient.system)
            own_job = finished.get(recipient.system) if recipient.notify == NoticeWay.SYSTEM else None
            if own_job is not None:  # their own system carried out the change: that was the telling
                notice.status, notice.done_at = NoticeStatus.DONE, own_job.finished_at
                notice.note = f"its own {own_job.action} job in {own_job.system.name}"
            elif recipient.notify == NoticeWay.EMAIL:
                notice.status = NoticeStatus.SENDING
            notices[recipient.name] = notice
    created = RecipientNotice.objects.bulk_create(notices.values())
    for notice in created:
        verb = "recipient.notified" if notice.told else "recipient.to_notify"
        audit.record(verb, actor=actor, request=request,
                     details={"recipient": notice.name, "way": notice.way, "status": notice.status})
        if notice.status == NoticeStatus.SENDING:
            queue.on_commit(Task.NOTIFY_RECIPIENT, str(notice.pk))
    return created


def move(notice: RecipientNotice, target: str, *, actor: Actor, user: Any = None, note: str = "") -> bool:
    """Move a notice on (a conditional UPDATE with its audit event); False if already there."""
    if target not in ALLOWED.get(notice.status, ()):
        if notice.status == target:
            return False
        raise NoticeRefused(f"{notice.name}: already {notice.get_status_display().lower()}.")
    fields: dict[str, Any] = {"status": target}
    if target == NoticeStatus.DONE:
        fields.update(done_at=timezone.now(), done_by=user, note=note)
    with transaction.atomic():
        if not RecipientNotice.objects.filter(pk=notice.pk, status=notice.status).update(**fields):
            return False
        verb = "recipient.notified" if target == NoticeStatus.DONE else "recipient.to_notify"
        audit.record(verb, actor=actor, request=notice.request,
                     details={"recipient": notice.name, "way": notice.way, "status": target})
    for key, value in fields.items():
        setattr(notice, key, value)
    return True


def mark_told(notice: RecipientNotice, *, actor: Actor, user: Any = None, note: str) -> bool:
    """An officer has told the recipient (a manual task, or an email that could not be sent)."""
    if not note.strip():
        raise NoticeRefused("Say how the recipient was told (e.g. 'phoned their DPO, confirmed by letter').")
    return move(notice, NoticeStatus.DONE, actor=actor, user=user, note=note.strip())


def send(notice_id: str) -> None:
    """Email one recipient (the task's body), then record them as told."""
    notice = RecipientNotice.objects.select_related("request", "system").filter(
        pk=notice_id, status=NoticeStatus.SENDING).first()
    if notice is None:
        return
    request = notice.request
    identifiers = {k: v for k, v in (request.identifiers or {}).items() if k in ("email", "customer_id", "name")}
    context = {
        "request": request, "notice": notice, "identifiers": identifiers,
        "changes": accepted_changes(request) if request.kind == "rectification" else {},
        "law": law.for_request(request),
    }
    emails.send("recipient_notice", to=notice.address, context=context)
    move(notice, NoticeStatus.DONE, actor=Actor.scheduler(), note=f"emailed {notice.address}")


def split(request: DataSubjectRequest) -> dict[str, list[RecipientNotice]]:
    """Who has been told, and who will be: what the texts may say about recipients."""
    notices = list(request.notices.select_related("system"))
    return {"told": [n for n in notices if n.told], "to_tell": [n for n in notices if not n.told]}

