"""Erasure evidence: exceptions kept under Art. 17(3), the certificate, and replays after restores."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from dsr.core import audit, law, queue
from dsr.core.audit import Actor
from dsr.core.models import (
    ConnectorJob,
    DataSubjectRequest,
    ErasureException,
    ErasureGround,
    JobStatus,
    Kind,
    Status,
    SystemConnection,
)
from dsr.core.queue import Task

from . import own_records


class ExceptionRefused(Exception):
    pass


def add_exception(
    request: DataSubjectRequest, system: SystemConnection, *, ground: str, reason: str, actor: Actor,
    user: Any = None,
) -> ErasureException:
    """Keep one system's data despite the erasure, on a ground the person will be told."""
    if request.kind != Kind.ERASURE:
        raise ExceptionRefused("Exceptions apply to erasure requests only.")
    if ground not in ErasureGround.values:
        raise ExceptionRefused(f"Unknown ground {ground!r}; use one of {', '.join(ErasureGround.values)}.")
    if not reason.strip():
        raise ExceptionRefused("Give the reason the person will be told.")
    if request.status not in (Status.VERIFIED, Status.APPROVED, Status.IN_PROGRESS):
        raise ExceptionRefused("Add exceptions before the erasure has finished.")
    with transaction.atomic():
        job = ConnectorJob.objects.filter(request=request, system=system, action="erase").first()
        if job is not None and job.status not in (JobStatus.PENDING,):
            raise ExceptionRefused(f"The erase job in {system.name} has already run ({job.status}).")
        item = ErasureException.objects.create(
            request=request, system=system, ground=ground, reason=reason.strip(), created_by=user
        )
        if job is not None:
            skip_for_exception(job, item)
        audit.record("erasure.exception", actor=actor, request=request,
                     details={"system": system.name, "ground": ground})
    return item


def skip_for_exception(job: ConnectorJob, item: ErasureException) -> None:
    ConnectorJob.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
        status=JobStatus.SKIPPED, finished_at=timezone.now(),
        result={"exception": item.ground, "reason": item.reason},
    )


def exceptions_cited(request: DataSubjectRequest) -> list[ErasureException]:
    """The request's exceptions, each with ``cite``: its ground's provision in the request's law."""
    applied = law.for_request(request)
    exceptions = list(request.exceptions.select_related("system"))
    for item in exceptions:
        item.cite = applied.ground(item.ground)
    return exceptions


def certificate_context(request: DataSubjectRequest) -> dict[str, Any]:
    jobs = list(request.jobs.select_related("system").order_by("system__name", "phase"))
    exceptions = {e.system_id: e for e in exceptions_cited(request)}
    rows = []
    for job in jobs:
        receipt = (job.result or {}).get("receipt", {})
        tables = (receipt.get("detail") or {}).get("tables", {})
        rows.append({
            "job": job,
            "system": job.system,
            "receipt": receipt,
            "tables": tables,
            "exception": exceptions.get(job.system_id),
        })
    last = request.audit_events.order_by("-seq").first()
    return {
        "request": request,
        "law": law.for_request(request),
        "rows": rows,
        "exceptions": list(exceptions.values()),
        "notices": list(request.notices.select_related("system")),
        "own_records": own_records.kept(request),
        "last_event": last,
        "generated_at": timezone.now(),
    }


def replay(system: SystemConnection, *, since: Any = None, actor: Actor) -> list[str]:
    """Run the erasures again in a system restored from a backup (erase is idempotent)."""
    jobs = ConnectorJob.objects.filter(
        system=system, action="erase", status=JobStatus.SUCCEEDED,
        request__status=Status.COMPLETED, request__purged_at__isnull=True,
    )
    if since is not None:
        jobs = jobs.filter(finished_at__gte=since)
    ids = []
    with transaction.atomic():
        for job in jobs.select_related("request"):
            if ConnectorJob.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).update(
                status=JobStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
            ):
                audit.record("job.replayed", actor=actor, request=job.request,
                             details={"system": system.name, "reason": "restored from backup"})
                ids.append(str(job.pk))
        for job_id in ids:
            queue.on_commit(Task.RUN_JOB, job_id, queue=queue.job_queue(system.connector))
    return ids
