"""Fan-out: an approved request becomes one job per (system, action); jobs run as tasks.

Approval creates the job rows and, on commit, queues a task per ready job. A
request moves on only when every job is terminal; a failed job keeps it open
and visible. What a lost message or a killed worker leaves behind is picked up
by ``dsr.engine.recovery``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.base import ConnectorError
from dsr.core import audit, lifecycle, queue
from dsr.core.audit import Actor
from dsr.core.models import (
    TERMINAL_JOB_STATUSES,
    ConnectorAction,
    ConnectorJob,
    DataSubjectRequest,
    JobStatus,
    Kind,
    Status,
    SystemConnection,
)
from dsr.core.queue import Task
from dsr.core.selectors import same_under_way
from dsr.results.closing import complete
from dsr.results.erasure import skip_for_exception
from dsr.results.rectification import undecided, waiting_for_decision

from .connections import connector_for

log = logging.getLogger(__name__)


KIND_ACTIONS = {
    Kind.ACCESS: ConnectorAction.EXPORT,
    Kind.PORTABILITY: ConnectorAction.EXPORT,
    Kind.ERASURE: ConnectorAction.ERASE,
    Kind.RECTIFICATION: ConnectorAction.RECTIFY,
}


def _supports(system: SystemConnection, action: str) -> bool:
    """Whether to give ``system`` this job; an unusable connector still gets it (and fails visibly).

    Asked of the configured connector, not its class: a SaaS template narrows the actions
    to what that vendor's API can do.
    """
    if action not in system.actions:
        return False
    try:
        with connector_for(system) as connector:
            return action in connector.actions
    except ConnectorError:
        return True
    except Exception:
        log.exception("system %s: its connector cannot be built; its job will fail visibly", system.name)
        return True


class NotReadyToApprove(Exception):
    pass


def approve(
    request: DataSubjectRequest, *, actor: Actor, reason: str = "", alone: bool = False,
    after: Sequence[lifecycle.Move] = (),
) -> bool:
    """verified → approved → in progress, with the jobs created and queued.

    ``alone``: the caller found, in this transaction, no other request of the same person
    and kind under way (``verification.after_verified`` has just looked), so the look is
    not repeated. ``after``: the moves that make the request verified first (a trusted
    integration's filing), made in the same UPDATE as the rest.
    """
    if request.kind == Kind.RECTIFICATION:
        request.refresh_from_db()  # the decisions may have been made through another object
    if request.kind == Kind.RECTIFICATION and request.status == Status.VERIFIED and undecided(request):
        numbers = ", ".join(str(i + 1) for i in undecided(request))
        raise NotReadyToApprove(f"Accept or reject each correction first (undecided: {numbers}).")
    if request.status == Status.VERIFIED and not alone and (
        other := same_under_way(request, (Status.APPROVED, Status.IN_PROGRESS, Status.REVIEW))
    ):
        raise NotReadyToApprove(
            f"The same person's {other.get_kind_display().split(' (')[0].lower()} request {other.reference} "
            "is under way: approve this one once it has closed, so that neither undoes the other."
        )
    approving = lifecycle.Move(Status.APPROVED, actor, {"reason": reason} if reason else None)
    with audit.batch():
        jobs = _planned(request)
        # Exceptions (a legal ground to keep data in one system) only ever bear on erasures.
        exceptions = list(request.exceptions.all()) if request.kind == Kind.ERASURE else []
        if exceptions:  # their jobs are skipped between approval and the start, as an officer reads it
            changed = lifecycle.transition_through(request, [*after, approving])
            if changed:
                ConnectorJob.objects.bulk_create(jobs, ignore_conflicts=True)
                for item in exceptions:
                    job = ConnectorJob.objects.filter(request=request, system=item.system_id, action="erase").first()
                    if job is not None:
                        skip_for_exception(job, item)
                lifecycle.transition_through(request, [_starting(jobs, actor)])
        else:  # every move in one UPDATE, then the jobs
            changed = lifecycle.transition_through(request, [*after, approving, _starting(jobs, actor)])
            if changed:
                ConnectorJob.objects.bulk_create(jobs, ignore_conflicts=True)
        if changed:
            _queue(request, jobs, at_once=not exceptions)
    return changed


def _planned(request: DataSubjectRequest) -> list[ConnectorJob]:
    """The request's jobs, one per enabled system and action, not yet saved."""
    action = KIND_ACTIONS[Kind(request.kind)]
    jobs: list[ConnectorJob] = []
    for system in SystemConnection.objects.filter(enabled=True):
        if system.identity_source and _supports(system, ConnectorAction.LOCATE):
            jobs.append(_job(request, system, ConnectorAction.LOCATE, phase=0))
        if _supports(system, action) and not (action == ConnectorAction.LOCATE and system.identity_source):
            jobs.append(_job(request, system, action, phase=1))
    return jobs


def _starting(jobs: list[ConnectorJob], actor: Actor) -> lifecycle.Move:
    return lifecycle.Move(Status.IN_PROGRESS, actor,
                          {"jobs": len(jobs), "systems": sorted({j.system.name for j in jobs})})


def _queue(request: DataSubjectRequest, jobs: list[ConnectorJob], *, at_once: bool) -> None:
    """Once committed: the first phase's jobs straight to their queues, or the request looked at again."""
    if jobs and at_once:
        # The first phase's jobs are ready: queue them without another look at the request.
        first = min(j.phase for j in jobs)
        ready = {str(j.pk): j.system.connector for j in jobs if j.phase == first}
        transaction.on_commit(lambda: enqueue_jobs(list(ready), connectors=ready))
    else:
        request_id = str(request.pk)
        transaction.on_commit(lambda: advance(request_id))


def _job(request: DataSubjectRequest, system: SystemConnection, action: str, *, phase: int) -> ConnectorJob:
    return ConnectorJob(
        request=request,
        system=system,
        action=action,
        phase=phase,
        idempotency_key=f"{request.pk}:{system.pk}:{action}",
    )


def enqueue_job(job_id: str, *, countdown: float = 0, queue_name: str | None = None) -> bool:
    """Queue one job's task now (the reconciler re-queues it if the broker is away)."""
    return queue.enqueue(Task.RUN_JOB, job_id, countdown=countdown, queue=queue_name)


def enqueue_jobs(job_ids: list[str], *, countdown: float = 0, connectors: dict[str, str] | None = None) -> None:
    """Queue the jobs, each on the queue of its system's class (fast or http).

    ``connectors`` (job id → its system's connector) saves looking them up when the
    caller has them at hand.
    """
    if not job_ids:
        return
    if connectors is None:
        connectors = {
            str(pk): connector
            for pk, connector in ConnectorJob.objects.filter(pk__in=job_ids).values_list("pk", "system__connector")
        }
    for job_id in job_ids:
        enqueue_job(job_id, countdown=countdown, queue_name=queue.job_queue(connectors.get(job_id, "")))


def advance(request_id: str) -> str | None:
    """Queue the next ready jobs, or move the request on when every job is terminal.

    Safe to call any number of times; returns the request's status afterwards.
    """
    with audit.batch():
        request = DataSubjectRequest.objects.locked().filter(pk=request_id).first()
        if request is None:
            return None
        return advance_locked(request)


def advance_locked(request: DataSubjectRequest) -> str:
    """:func:`advance` for a request the caller has locked (``objects.locked()``) in its transaction."""
    if request.status != Status.IN_PROGRESS:
        return request.status
    with audit.batch():
        jobs = list(request.jobs.values_list("id", "phase", "status"))
        open_jobs = [j for j in jobs if j[2] not in TERMINAL_JOB_STATUSES]
        if open_jobs:
            phase = min(p for _, p, _ in open_jobs)
            ready = [str(i) for i, p, s in open_jobs if p == phase and s == JobStatus.PENDING]
            if ready:
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
            complete(request, actor=Actor.scheduler())
            return Status.COMPLETED
        lifecycle.transition(request, Status.REVIEW, actor=Actor.scheduler(), details={"jobs": len(jobs)})
        if request.kind in settings.DSR_AUTO_RELEASE_KINDS:
            # The company reviews nothing by hand: the bundle is built and released by the system.
            audit.record("results.auto_release", actor=Actor.scheduler(), request=request,
                         details={"setting": "DSR_AUTO_RELEASE_KINDS"})
            queue.on_commit(Task.RELEASE_RESULTS, str(request.pk), None)
        return Status.REVIEW


def resume_decided(request: DataSubjectRequest, *, actor: Actor) -> int:
    """Rectify jobs that stopped for a new decision run again once every correction is decided."""
    if undecided(request):
        return 0
    waiting = waiting_for_decision(request)
    with transaction.atomic():
        for job in waiting:
            if ConnectorJob.objects.filter(pk=job.pk, status=JobStatus.WAITING).update(
                status=JobStatus.PENDING, next_attempt_at=timezone.now(), error=""
            ):
                audit.record("job.resumed", actor=actor, request=request,
                             details={"system": job.system.name, "action": job.action, "reason": "decided again"})
        ids = [str(job.pk) for job in waiting]
        transaction.on_commit(lambda: enqueue_jobs(ids))
    return len(waiting)


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
