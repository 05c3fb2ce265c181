"""Recovery: what a lost message, a killed worker or a silent system left behind.

The reconciler (every minute, from beat) re-queues jobs whose lease ran out or
whose message was lost, and moves on requests whose jobs are all done; the
escalation tells officers about jobs still waiting as the due date nears.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from dsr.core import audit, emails, queue
from dsr.core.audit import Actor
from dsr.core.models import ConnectorJob, DataSubjectRequest, JobStatus, Status
from dsr.core.roles import acting_staff

from .fanout import advance, enqueue_jobs
from .outcomes import fail_or_retry


def reconcile() -> dict[str, int]:
    """Re-queue jobs a lost message or a killed worker left behind; finish stuck requests.

    A running job whose lease ran out lost its worker: it goes back to pending and is
    queued again, or fails (visibly, for an officer) once it has used the system's
    ``max_attempts``, so a job that kills its worker is not run forever.

    A pending job due for longer than ``DSR_JOB_REQUEUE_AFTER_SECONDS`` lost its
    message, unless the message still waits behind others: so while the jobs' queue
    holds messages nothing more is added to it, and a job queued again is not queued
    again within the next period (its due time moves to now).
    """
    now = timezone.now()
    grace = timedelta(seconds=settings.DSR_JOB_REQUEUE_AFTER_SECONDS)
    lapsed = ConnectorJob.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    for job in lapsed.filter(attempts__gte=models.F("system__max_attempts")).select_related("request", "system"):
        fail_or_retry(job, f"its worker stopped before it finished, {job.attempts} times", permanent=True)
    expired = list(lapsed.values_list("id", flat=True))
    lapsed.filter(pk__in=expired).update(status=JobStatus.PENDING, lease_expires_at=None, next_attempt_at=now)
    backlog = queue.waiting_job_messages()
    stale: list[tuple] = []
    if not backlog:  # empty, or the broker cannot tell
        overdue = ConnectorJob.objects.filter(status=JobStatus.PENDING, next_attempt_at__lt=now - grace)
        stale = list(overdue.values_list("id", "request_id"))
        overdue.filter(pk__in=[i for i, _ in stale]).update(next_attempt_at=now)
    # A job of a later phase is refused by its claim until the earlier phase is done.
    enqueue_jobs([str(i) for i in expired] + [str(i) for i, _ in stale])
    finished = (
        DataSubjectRequest.objects.filter(status=Status.IN_PROGRESS)
        .exclude(jobs__status__in=[JobStatus.PENDING, JobStatus.RUNNING, JobStatus.WAITING])
        .exclude(jobs__status=JobStatus.FAILED)  # those wait for an officer, already told
        .values_list("id", flat=True)
    )
    moved = 0
    for request_id in finished:
        if advance(str(request_id)) != Status.IN_PROGRESS:
            moved += 1
    return {"expired_leases": len(expired), "stale_jobs": len(stale),
            "stale_requests": len({r for _, r in stale}), "backlog": backlog or 0, "advanced": moved}


def escalate_waiting() -> int:
    """Tell officers about jobs still waiting on a system or a person as the due date nears.

    Once a day per job at most; returns how many jobs were escalated.
    """
    now = timezone.now()
    horizon = timezone.localdate(now) + timedelta(days=settings.DSR_ESCALATE_WAITING_DAYS)
    waiting = list(
        ConnectorJob.objects.filter(status=JobStatus.WAITING, request__status=Status.IN_PROGRESS)
        .filter(models.Q(escalated_at__isnull=True) | models.Q(escalated_at__lt=now - timedelta(days=1)))
        .filter(
            models.Q(request__extended_due_on__lte=horizon)
            | models.Q(request__extended_due_on__isnull=True, request__due_on__lte=horizon)
        )
        .select_related("request", "system")
        .order_by("request__due_on")
    )
    if not waiting:
        return 0
    officers = list(acting_staff().exclude(email="").values_list("email", flat=True))
    with transaction.atomic():
        ConnectorJob.objects.filter(pk__in=[j.pk for j in waiting]).update(escalated_at=now)
        for job in waiting:
            audit.record(
                "job.escalated",
                actor=Actor.scheduler(),
                request=job.request,
                details={"system": job.system.name, "action": job.action,
                         "due_on": job.request.effective_due_on.isoformat()},
            )
    for address in officers:
        emails.send("escalation", to=address, context={"jobs": waiting, "days": settings.DSR_ESCALATE_WAITING_DAYS})
    return len(waiting)
