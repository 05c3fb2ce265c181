"""Fan-out: an approved request becomes one job per (system, action); jobs run as tasks.

Approval creates the job rows and, on commit, queues a task per ready job. A
request moves on only when every job is terminal; a failed job keeps it open
and visible. A periodic reconciler re-queues whatever a lost message or a
killed worker left behind.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from connectors import registry
from connectors.base import ConnectorError

from . import audit, lifecycle
from .audit import Actor
from .erasure import skip_for_exception
from .models import (
    TERMINAL_JOB_STATUSES,
    ConnectorAction,
    ConnectorJob,
    DataSubjectRequest,
    JobStatus,
    Kind,
    Status,
    SystemConnection,
)

log = logging.getLogger(__name__)

KIND_ACTIONS = {
    Kind.ACCESS: ConnectorAction.EXPORT,
    Kind.PORTABILITY: ConnectorAction.EXPORT,
    Kind.ERASURE: ConnectorAction.ERASE,
    Kind.RECTIFICATION: ConnectorAction.RECTIFY,
}


def _supports(system: SystemConnection, action: str) -> bool:
    """Whether to give ``system`` this job; an unloadable connector still gets it (and fails visibly)."""
    if action not in system.actions:
        return False
    try:
        return action in registry.load(system.connector).actions
    except ConnectorError:
        return True


class NotReadyToApprove(Exception):
    pass


def approve(request: DataSubjectRequest, *, actor: Actor, reason: str = "") -> bool:
    """verified → approved → in progress, with the jobs created and queued."""
    from .rectification import undecided

    if request.kind == Kind.RECTIFICATION:
        request.refresh_from_db()  # the decisions may have been made through another object
    if request.kind == Kind.RECTIFICATION and request.status == Status.VERIFIED and undecided(request):
        numbers = ", ".join(str(i + 1) for i in undecided(request))
        raise NotReadyToApprove(f"Accept or reject each correction first (undecided: {numbers}).")
    with audit.batch():
        changed = lifecycle.transition(
            request, Status.APPROVED, actor=actor, details={"reason": reason} if reason else None
        )
        if changed:
            start(request, actor=actor)
    return changed


def start(request: DataSubjectRequest, *, actor: Actor) -> list[ConnectorJob]:
    action = KIND_ACTIONS[Kind(request.kind)]
    jobs: list[ConnectorJob] = []
    with audit.batch():
        for system in SystemConnection.objects.filter(enabled=True):
            if system.identity_source and _supports(system, ConnectorAction.LOCATE):
                jobs.append(_job(request, system, ConnectorAction.LOCATE, phase=0))
            if _supports(system, action) and not (
                action == ConnectorAction.LOCATE and system.identity_source
            ):
                jobs.append(_job(request, system, action, phase=1))
        ConnectorJob.objects.bulk_create(jobs, ignore_conflicts=True)
        exceptions = list(request.exceptions.all())
        for item in exceptions:
            job = ConnectorJob.objects.filter(request=request, system=item.system_id, action="erase").first()
            if job is not None:
                skip_for_exception(job, item)
        lifecycle.transition(
            request,
            Status.IN_PROGRESS,
            actor=actor,
            details={"jobs": len(jobs), "systems": sorted({j.system.name for j in jobs})},
        )
        if jobs and not exceptions:
            # The first phase's jobs are ready: queue them without another look at the request.
            first = min(j.phase for j in jobs)
            ready = [str(j.pk) for j in jobs if j.phase == first]
            transaction.on_commit(lambda: enqueue_jobs(ready))
        else:
            request_id = str(request.pk)
            transaction.on_commit(lambda: advance(request_id))
    return jobs


def _job(request: DataSubjectRequest, system: SystemConnection, action: str, *, phase: int) -> ConnectorJob:
    return ConnectorJob(
        request=request,
        system=system,
        action=action,
        phase=phase,
        idempotency_key=f"{request.pk}:{system.pk}:{action}",
    )


def enqueue_jobs(job_ids: list[str], *, countdown: float = 0) -> None:
    from .tasks import enqueue_job

    for job_id in job_ids:
        enqueue_job(job_id, countdown=countdown)


def advance(request_id: str) -> str | None:
    """Queue the next ready jobs, or move the request on when every job is terminal.

    Safe to call any number of times; returns the request's status afterwards.
    """
    with audit.batch():
        request = DataSubjectRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None or request.status != Status.IN_PROGRESS:
            return request.status if request else None
        jobs = list(request.jobs.values_list("id", "phase", "status"))
        open_jobs = [j for j in jobs if j[2] not in TERMINAL_JOB_STATUSES]
        if open_jobs:
            phase = min(p for _, p, _ in open_jobs)
            ready = [str(i) for i, p, s in open_jobs if p == phase and s == JobStatus.PENDING]
            transaction.on_commit(lambda: enqueue_jobs(ready))
            return request.status
        failed = [j for j in jobs if j[2] == JobStatus.FAILED]
        if failed:
            audit.record(
                "request.needs_attention",
                actor=Actor.scheduler(),
                request=request,
                details={"failed_jobs": len(failed)},
            )
            return request.status
        if request.kind == Kind.ERASURE and jobs:
            from .closing import complete

            complete(request, actor=Actor.scheduler())
            return Status.COMPLETED
        lifecycle.transition(request, Status.REVIEW, actor=Actor.scheduler(), details={"jobs": len(jobs)})
        return Status.REVIEW


def retry_job(job: ConnectorJob, *, actor: Actor) -> bool:
    """An officer's retry of a failed job: back to pending, attempts reset."""
    with transaction.atomic():
        changed = ConnectorJob.objects.filter(pk=job.pk, status=JobStatus.FAILED).update(
            status=JobStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), error=""
        )
        if changed:
            audit.record(
                "job.retry_requested",
                actor=actor,
                request=job.request,
                details={"system": job.system.name, "action": job.action},
            )
            transaction.on_commit(lambda: enqueue_jobs([str(job.pk)]))
    return bool(changed)


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
    from .jobs import fail_or_retry
    from .tasks import waiting_job_messages

    now = timezone.now()
    grace = timedelta(seconds=settings.DSR_JOB_REQUEUE_AFTER_SECONDS)
    lapsed = ConnectorJob.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    for job in lapsed.filter(attempts__gte=models.F("system__max_attempts")).select_related("request", "system"):
        fail_or_retry(job, f"its worker stopped before it finished, {job.attempts} times", permanent=True)
    expired = list(lapsed.values_list("id", flat=True))
    lapsed.filter(pk__in=expired).update(status=JobStatus.PENDING, lease_expires_at=None, next_attempt_at=now)
    backlog = waiting_job_messages()
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
    from django.contrib.auth import get_user_model

    from . import emails

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
    officers = list(
        get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="").values_list("email", flat=True)
    )
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
