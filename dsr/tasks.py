"""Celery entry points: thin, take ids, call services (HackSoft style)."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from . import audit, emails, lifecycle, verification
from .audit import Actor
from .models import AuditEvent, DataSubjectRequest, Status

log = logging.getLogger(__name__)


def mail_task(**options):
    """A task that sends mail: a failing mail server is retried with backoff, never lost."""
    return shared_task(
        autoretry_for=(smtplib.SMTPException, OSError),
        retry_backoff=5,
        retry_backoff_max=600,
        max_retries=10,
        acks_late=True,
        **options,
    )


def enqueue(task, *args: str) -> bool:
    """Queue a task; if the broker is unreachable, log it and let a sweep catch up.

    Called after commit, so the data is already safe: a broker outage must not turn
    a stored request into an error page.
    """
    try:
        task.delay(*args)
    except Exception:  # noqa: BLE001 - any broker failure; the periodic sweeps re-queue
        log.warning("could not queue %s; the periodic sweep will retry", task.name, exc_info=True)
        return False
    return True


@mail_task(bind=True)
def send_verification(self, request_id: str) -> None:
    """Acknowledge the request and send a fresh code and link.

    A failed send raises, so Celery retries; the request itself was stored
    before this task was queued, so a mail-server outage never loses it.
    """
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or request.status != Status.AWAITING_VERIFICATION:
        return
    issued = verification.issue_code(request)
    token = verification.status_token(request)
    context = {
        "request": request,
        "code": issued.code,
        "ttl_minutes": settings.DSR_CODE_TTL_MINUTES,
        "verify_url": emails.absolute(
            reverse("dsr:verify-link", args=[request.reference, issued.link_token])
        ),
        "code_url": emails.absolute(reverse("dsr:verify", args=[request.reference])),
        "status_url": emails.absolute(reverse("dsr:status", args=[request.reference]))
        + f"?t={token}",
        "duplicate_of": request.duplicate_of,
    }
    emails.send("acknowledgement", to=request.email, context=context)
    with transaction.atomic():
        first = DataSubjectRequest.objects.filter(pk=request.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now()
        )
        audit.record(
            "acknowledgement.sent" if first else "verification.code_resent",
            actor=Actor.scheduler(),
            request=request,
            details={"channel": "email", "attempt": self.request.retries + 1},
        )
    log.info("verification email sent for %s", request.reference)


@mail_task()
def send_receipt(request_id: str) -> None:
    """Acknowledge a request that needs no code (filed by a trusted integration)."""
    request = DataSubjectRequest.objects.filter(pk=request_id, acknowledged_at__isnull=True).first()
    if request is None:
        return
    token = verification.status_token(request)
    status_url = emails.absolute(reverse("dsr:status", args=[request.reference])) + f"?t={token}"
    emails.send("received", to=request.email, context={"request": request, "status_url": status_url})
    with transaction.atomic():
        if DataSubjectRequest.objects.filter(pk=request.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now()
        ):
            audit.record(
                "acknowledgement.sent", actor=Actor.scheduler(), request=request,
                details={"channel": "email"},
            )


@shared_task
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


@shared_task
def resend_unacknowledged() -> int:
    """Re-queue the person's emails whose task was lost (broker outage, killed worker).

    A request waiting for its code gets the verification email again; one a trusted
    integration filed (verified at once, so never sent a code) gets its receipt again;
    a closed request whose outcome email was never sent gets that again. Nothing is
    queued while the queue still holds messages: the lost one may be among them.
    """
    if waiting_job_messages():
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
    for outcome in ("completed", "partial", "denied"):
        told = AuditEvent.objects.filter(request=OuterRef("pk"), verb="outcome.sent", details__outcome=outcome)
        for pk in closed.filter(outcome=outcome).exclude(Exists(told)).values_list("pk", flat=True).iterator():
            send_outcome.delay(str(pk), outcome)
            count += 1
    return count


def enqueue_job(job_id: str, *, countdown: float = 0) -> bool:
    try:
        run_job.apply_async((job_id,), countdown=countdown or None)
    except Exception:  # noqa: BLE001 - the reconciler re-queues pending jobs
        log.warning("could not queue job %s; the reconciler will", job_id, exc_info=True)
        return False
    return True


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: str) -> str | None:
    from .jobs import run

    return run(job_id)


def waiting_job_messages() -> int | None:
    """How many messages wait in the jobs' queue; None if the broker cannot tell."""
    app = run_job.app
    if app.conf.task_always_eager:
        return 0
    name = getattr(run_job, "queue", None) or app.conf.task_default_queue
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            queue = app.amqp.queues[name](connection.default_channel)
            return queue.queue_declare(passive=True).message_count
    except Exception as exc:  # noqa: BLE001 - any broker failure: the caller plays safe
        if "NOT_FOUND" in str(exc) or getattr(exc, "code", None) in (404, "404"):
            return 0  # the queue does not exist (Redis drops an empty list): nothing waits
        log.warning("could not count the jobs' queue: %s", exc)
        return None


@shared_task
def reconcile() -> dict[str, int]:
    from .execution import reconcile as reconcile_jobs

    return reconcile_jobs()


@shared_task
def escalate_waiting() -> int:
    from .execution import escalate_waiting as escalate

    return escalate()


@mail_task()
def send_outcome(request_id: str, outcome: str) -> None:
    """Tell the person how their request ended (or that it was extended)."""
    from .bundle import supervisory_authority
    from .closing import outcome_context

    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or not request.email:
        return
    token = verification.status_token(request)
    context = {
        **outcome_context(request),
        "status_url": emails.absolute(reverse("dsr:status", args=[request.reference])) + f"?t={token}",
        "authority": supervisory_authority(request.regime),
        "outcome": outcome,
    }
    emails.send(f"outcome_{outcome}", to=request.email, context=context)
    audit.record("outcome.sent", actor=Actor.scheduler(), request=request,
                 details={"outcome": outcome, "channel": "email"})


@shared_task(acks_late=True)
def release_results(request_id: str, user_id: int | None = None) -> str:
    """Build and release an access/portability bundle (can take a while for a large export)."""
    from django.contrib.auth import get_user_model

    from .results import release

    request = DataSubjectRequest.objects.get(pk=request_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    actor = Actor.officer(user) if user else Actor.scheduler()
    return str(release(request, actor=actor, user=user).pk)


@shared_task
def expire_bundles() -> int:
    from .results import expire_bundles as expire

    return expire()


@shared_task
def purge_retained() -> int:
    from .retention import purge

    return purge()


@mail_task()
def send_download_code(request_id: str) -> None:
    """A fresh code before each download: whoever holds the link must still hold the mailbox."""
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or not request.email:
        return
    issued = verification.issue_code(request, purpose="download")
    emails.send("download_code", to=request.email,
                context={"request": request, "code": issued.code, "ttl_minutes": settings.DSR_CODE_TTL_MINUTES})


@shared_task
def watch_deadlines() -> int:
    from .watch import remind

    return remind()


@mail_task()
def deliver(to: str, subject: str, text: str, html: str) -> None:
    """Send an already rendered email, retrying while the mail server is away."""
    emails.deliver(to, subject, text, html)
