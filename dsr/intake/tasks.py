"""Celery tasks of intake: the person's acknowledgement, codes, and the sweeps that keep them sent.

Thin: each takes ids and calls services; services queue these by name (``dsr.core.queue``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from dsr.core import audit, emails, lifecycle, queue
from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, DataSubjectRequest, Message, Status
from dsr.core.queue import Task, mail_task
from dsr.core.tokens import status_path

from . import verification

log = logging.getLogger(__name__)


@mail_task(name=Task.SEND_VERIFICATION, bind=True)
def send_verification(self, request_id: str) -> None:
    """Acknowledge the request and send a fresh code and link.

    A failed send raises, so Celery retries; the request itself was stored
    before this task was queued, so a mail-server outage never loses it.
    """
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or request.status != Status.AWAITING_VERIFICATION:
        return

    def context() -> dict:
        issued = verification.issue_code(request)  # only once we send: a new code voids the last
        return {
            "request": request,
            "code": issued.code,
            "ttl_minutes": settings.DSR_CODE_TTL_MINUTES,
            "verify_url": emails.absolute(
                reverse("dsr:verify-link", args=[request.reference, issued.link_token])
            ),
            "code_url": emails.absolute(reverse("dsr:verify", args=[request.reference])),
            "status_url": emails.absolute(status_path(request)),
            "duplicate_of": request.duplicate_of,
            # Sent before: this code replaces that one (issue_code has superseded it), and the email says so.
            "resent": request.acknowledged_at is not None,
        }

    # The first email (the acknowledgement) goes once, however many tasks set out to send it;
    # a code the person asks for again afterwards is sent each time.
    once = "acknowledgement" if request.acknowledged_at is None else ""

    def sent() -> None:
        first = DataSubjectRequest.objects.filter(pk=request.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now()
        )
        audit.record(
            "acknowledgement.sent" if first else "verification.code_resent",
            actor=Actor.scheduler(),
            request=request,
            details={"channel": "email", "attempt": self.request.retries + 1},
        )

    if emails.send("acknowledgement", to=request.email, context=context, request=request, once=once, on_sent=sent):
        log.info("verification email sent for %s", request.reference)


@mail_task(name=Task.SEND_RECEIPT)
def send_receipt(request_id: str) -> None:
    """Acknowledge a request that needs no code (filed by a trusted integration)."""
    request = DataSubjectRequest.objects.filter(pk=request_id, acknowledged_at__isnull=True).first()
    if request is None:
        return
    status_url = emails.absolute(status_path(request, fresh=True))  # loaded just above

    def sent() -> None:
        if DataSubjectRequest.objects.filter(pk=request.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now()
        ):
            audit.record(
                "acknowledgement.sent", actor=Actor.scheduler(), request=request,
                details={"channel": "email"},
            )

    emails.send("received", to=request.email, context={"request": request, "status_url": status_url},
                request=request, once="receipt", on_sent=sent)


@mail_task(name=Task.SEND_DOWNLOAD_CODE)
def send_download_code(request_id: str) -> None:
    """A fresh code before each download: whoever holds the link must still hold the mailbox."""
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or not request.email:
        return
    issued = verification.issue_code(request, purpose="download")
    emails.send("download_code", to=request.email, request=request,
                context={"request": request, "code": issued.code, "ttl_minutes": settings.DSR_CODE_TTL_MINUTES})


@shared_task(name=Task.EXPIRE_UNVERIFIED)
def expire_unverified() -> int:
    """Requests never verified within the configured period are closed as expired."""
    cutoff = timezone.now() - timedelta(days=settings.DSR_UNVERIFIED_EXPIRY_DAYS)
    expired = 0
    stale = DataSubjectRequest.objects.filter(
        status__in=[Status.RECEIVED, Status.AWAITING_VERIFICATION], received_at__lt=cutoff
    )
    for request in stale.iterator(chunk_size=500):
        if lifecycle.transition(
            request,
            Status.EXPIRED,
            actor=Actor.scheduler(),
            details={"reason": "not verified", "after_days": settings.DSR_UNVERIFIED_EXPIRY_DAYS},
            fields={"outcome": "unverified"},
        ):
            expired += 1
    return expired


@shared_task(name=Task.RESEND_UNACKNOWLEDGED)
def resend_unacknowledged() -> int:
    """Re-queue the person's emails whose task was lost (broker outage, killed worker).

    A request waiting for its code gets the verification email again; one a trusted
    integration filed (verified at once, so never sent a code) gets its receipt again;
    a closed request whose outcome email was never sent gets that again, and so does an
    officer's message never emailed. Queuing one that is in fact still on its way is
    harmless: each of these emails has a sent marker claimed before sending
    (``emails.send(once=...)``), so only one task sends it. Still, nothing is queued while
    the queues hold messages, so that the sweep never crowds out the jobs.
    """
    if queue.waiting_mail_messages():
        return 0
    now = timezone.now()
    wait, window = timedelta(seconds=settings.DSR_EMAIL_RESEND_AFTER_SECONDS), timedelta(
        days=settings.DSR_UNVERIFIED_EXPIRY_DAYS
    )
    unacknowledged = DataSubjectRequest.objects.filter(
        acknowledged_at__isnull=True, received_at__lt=now - wait, received_at__gte=now - window
    )
    count = 0
    for task, statuses in (
        (send_verification, [Status.AWAITING_VERIFICATION]),
        (send_receipt, [Status.VERIFIED, Status.APPROVED, Status.IN_PROGRESS, Status.REVIEW]),
    ):
        for pk in unacknowledged.filter(status__in=statuses).values_list("pk", flat=True).iterator():
            task.delay(str(pk))
            count += 1
    closed = DataSubjectRequest.objects.filter(
        status__in=[Status.COMPLETED, Status.DENIED], closed_at__lt=now - wait, closed_at__gte=now - window
    )
    unsent = Message.objects.filter(sent_at__isnull=True, created_at__lt=now - wait, created_at__gte=now - window)
    for pk in unsent.values_list("pk", flat=True).iterator():  # an officer's message whose task was lost
        queue.enqueue(Task.SEND_MESSAGE, str(pk))
        count += 1
    for outcome in ("completed", "partial", "denied"):
        told = AuditEvent.objects.filter(request=OuterRef("pk"), verb="outcome.sent", details__outcome=outcome)
        for pk in closed.filter(outcome=outcome).exclude(Exists(told)).values_list("pk", flat=True).iterator():
            queue.enqueue(Task.SEND_OUTCOME, str(pk), outcome)
            count += 1
    return count
