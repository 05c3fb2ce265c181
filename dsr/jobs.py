"""Running one job: claim it, call the connector, record the outcome (or retry, or fail).

The claim is a conditional UPDATE, so two workers never run the same job; a
worker that dies mid-job leaves a lease that runs out, and the job is claimed
again. Results are recorded only while the claim still holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from connectors import registry
from connectors.base import Action, Connector, ConnectorError, Deferred, JobContext, Subject

from . import audit, storage
from .audit import Actor
from .models import TERMINAL_JOB_STATUSES, ConnectorJob, JobStatus, SystemConnection

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    found: int | None = None
    affected: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    learned: dict[str, str] | None = None
    export: storage.WriteSummary | None = None


def build_connector(system: SystemConnection) -> Connector:
    cls = registry.load(system.connector)
    return cls(name=system.name, config=system.config, secrets=system.secrets or {})


# A worker process keeps one connector per system, so its database connection is reused
# from job to job instead of opened for each. Any change to the system makes a new one.
_CONNECTORS: dict[Any, Connector] = {}


def _fingerprint(system: SystemConnection) -> Any:
    return (system.pk, system.connector, json.dumps(system.config, sort_keys=True, default=str),
            json.dumps(system.secrets or {}, sort_keys=True))


@contextmanager
def connector_for(system: SystemConnection) -> Iterator[Connector]:
    """The process's connector for ``system``; dropped (and closed) if a job fails with it."""
    key = _fingerprint(system)
    connector = _CONNECTORS.get(key)
    if connector is None:
        for stale in [k for k in _CONNECTORS if k[0] == system.pk]:
            _CONNECTORS.pop(stale).close()
        connector = _CONNECTORS[key] = build_connector(system)
    try:
        yield connector
    except Deferred:
        raise  # the system will answer later: nothing wrong with the connector
    except BaseException:
        _CONNECTORS.pop(key, None)
        connector.close()  # a broken connection must not serve the next job
        raise


def subject_for(job: ConnectorJob) -> Subject:
    """The person as this job sees them: what they gave, plus what identity sources found."""
    identifiers = dict(job.request.identifiers or {})
    if job.phase > 0 and getattr(job, "has_learned", True):  # known when the claim loaded the job
        for learned in ConnectorJob.objects.filter(
            request_id=job.request_id, phase__lt=job.phase, status=JobStatus.SUCCEEDED
        ).values_list("learned", flat=True):
            for kind, value in (learned or {}).items():
                identifiers.setdefault(kind, value)
    return Subject(request_id=str(job.request_id), identifiers=identifiers)


def requested_changes(job: ConnectorJob) -> dict[str, str]:
    """The corrections the officer accepted; rejected ones never reach a system."""
    from .rectification import accepted_changes

    return accepted_changes(job.request)


def _context(job: ConnectorJob, *, external: bool) -> JobContext:
    token = ""
    if external:
        token = secrets.token_urlsafe(32)
        ConnectorJob.objects.filter(pk=job.pk).update(callback_token_hash=token_hash(token))
    due = job.request.effective_due_on
    return JobContext(
        job_id=str(job.pk),
        idempotency_key=job.idempotency_key,
        callback_url=settings.DSR_PUBLIC_URL + reverse("dsr:api-job-result", args=[job.pk]),
        callback_token=token,
        # The system should be done well before the legal deadline: a week before where possible.
        deadline=timezone.make_aware(
            datetime.combine(max(due - timedelta(days=7), timezone.localdate()), time(0, 0))
        ),
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _claim(job_id: str) -> ConnectorJob | None:
    """Take the job if it is due (or its lease ran out) and no earlier phase is still open.

    One conditional UPDATE decides it, so two workers never both win; then one SELECT
    loads the job with its request and system.
    """
    now = timezone.now()
    earlier_open = ConnectorJob.objects.filter(
        request_id=OuterRef("request_id"), phase__lt=OuterRef("phase")
    ).exclude(status__in=TERMINAL_JOB_STATUSES)
    claimed = (
        ConnectorJob.objects.filter(pk=job_id)
        .filter(
            Q(status=JobStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)
        )
        .filter(~Exists(earlier_open))  # identity lookups first
        .update(
            status=JobStatus.RUNNING,
            attempts=F("attempts") + 1,
            lease_expires_at=now + timedelta(seconds=settings.DSR_JOB_LEASE_SECONDS),
            started_at=Coalesce(F("started_at"), now),
        )
    )
    if not claimed:
        return None
    learned = ConnectorJob.objects.filter(
        request_id=OuterRef("request_id"), phase__lt=OuterRef("phase"), status=JobStatus.SUCCEEDED,
        learned__isnull=False,
    )
    return (
        ConnectorJob.objects.select_related("request", "system")
        .annotate(has_learned=Exists(learned))
        .get(pk=job_id)
    )


def run(job_id: str) -> str | None:
    """Run one job if it can be claimed; returns its status afterwards (None if not claimed)."""
    job = _claim(job_id)
    if job is None:
        return None
    if job.action == Action.ERASE and _batches(job.system):
        return run_erase_batch(job)
    try:
        with connector_for(job.system) as connector:
            outcome = _perform(connector, job)
    except Deferred as waiting:
        return _settle(job, JobStatus.WAITING, result={"waiting": waiting.message})
    except ConnectorError as exc:
        return fail_or_retry(job, exc.message, permanent=exc.permanent)
    except Exception as exc:  # noqa: BLE001 - a connector bug must not lose the job
        log.exception("job %s (%s) crashed", job.pk, job.system.name)
        return fail_or_retry(job, f"unexpected error in the connector: {type(exc).__name__}", permanent=False)
    return succeed(job, outcome)


def _batches(system: SystemConnection) -> bool:
    """Whether this system's connector has a real batch erase worth gathering jobs for."""
    try:
        cls = registry.load(system.connector)
    except ConnectorError:
        return False
    return not cls.external and cls.erase_many is not Connector.erase_many


def _claim_more(first: ConnectorJob) -> list[ConnectorJob]:
    """Claim other ready erase jobs for the same system, to erase them in one round trip."""
    now = timezone.now()
    candidates = list(
        ConnectorJob.objects.filter(
            system_id=first.system_id, action=Action.ERASE, status=JobStatus.PENDING, next_attempt_at__lte=now
        )
        .exclude(pk=first.pk)
        .order_by("next_attempt_at")
        .values_list("id", "request_id", "phase")[: settings.DSR_ERASE_BATCH_SIZE - 1]
    )
    blocked = set(
        ConnectorJob.objects.filter(
            request_id__in={r for _, r, p in candidates if p > 0}, phase=0
        ).exclude(status__in=TERMINAL_JOB_STATUSES).values_list("request_id", flat=True)
    )
    ids = [i for i, r, _ in candidates if r not in blocked]
    if not ids:
        return []
    lease = now + timedelta(seconds=settings.DSR_JOB_LEASE_SECONDS, microseconds=secrets.randbelow(10**6))
    ConnectorJob.objects.filter(pk__in=ids, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING, attempts=F("attempts") + 1, lease_expires_at=lease,
        started_at=Coalesce(F("started_at"), now),
    )
    return list(
        ConnectorJob.objects.select_related("request", "system").filter(
            pk__in=ids, status=JobStatus.RUNNING, lease_expires_at=lease
        )
    )


def run_erase_batch(first: ConnectorJob) -> str | None:
    """Erase many subjects in one call (``erase_many``), then settle each job on its own."""
    batch = [first, *_claim_more(first)]
    subjects = {str(job.request_id): subject_for(job) for job in batch}
    try:
        with connector_for(first.system) as connector:
            receipts = connector.erase_many(list(subjects.values()))
            _keep_receipts(batch, receipts)
            outcomes: dict[str, Outcome | ConnectorError] = {}
            for job in batch:
                request_id, subject = str(job.request_id), subjects[str(job.request_id)]
                receipt = receipts.get(request_id)
                if receipt is None:
                    outcomes[request_id] = ConnectorError("the batch erase returned no receipt for this job")
                    continue
                kept = _earliest(job, receipt)
                outcome = Outcome(affected=kept["affected"], result={"receipt": kept, "verified": False})
                if Action.LOCATE in connector.actions:
                    residual = connector.locate(subject)
                    if residual.found:
                        outcomes[request_id] = ConnectorError(_residual_message(residual))
                        continue
                    outcome.result["verified"] = True
                outcomes[request_id] = outcome
    except ConnectorError as exc:
        outcomes = {request_id: exc for request_id in subjects}
    except Exception as exc:  # noqa: BLE001 - a connector bug must not lose the jobs
        log.exception("batch erase in %s crashed", first.system.name)
        error = ConnectorError(f"unexpected error in the connector: {type(exc).__name__}")
        outcomes = {request_id: error for request_id in subjects}
    status_of_first = None
    for job in batch:
        outcome = outcomes[str(job.request_id)]
        if isinstance(outcome, ConnectorError):
            status = fail_or_retry(job, outcome.message, permanent=outcome.permanent)
        else:
            outcome.result["batch"] = len(batch)
            status = succeed(job, outcome)
        if job is first:
            status_of_first = status
    return status_of_first


def _keep_receipts(batch: list[ConnectorJob], receipts: dict[str, Any]) -> None:
    """Store what the erase did as soon as the system has done it.

    The batch takes a while to check and settle; should the worker die meanwhile, the
    retry finds nothing left to erase, and this receipt is the one that says what was.
    """
    kept = []
    for job in batch:
        receipt = receipts.get(str(job.request_id))
        if receipt is not None and receipt.affected:
            job.result = {**(job.result or {}), "receipt": _receipt(receipt)}
            kept.append(job)
    ConnectorJob.objects.bulk_update(kept, ["result"])


def _earliest(job: ConnectorJob, receipt: Any) -> dict[str, Any]:
    """This attempt's receipt, or an earlier attempt's if that one erased and this found nothing."""
    now = _receipt(receipt)
    earlier = (job.result or {}).get("receipt")
    if not receipt.affected and earlier and earlier.get("affected"):
        return {**earlier, "confirmed_at": now["at"]}
    return now


def _residual_message(residual: Any) -> str:
    categories = ", ".join(f"{k}: {v}" for k, v in sorted(residual.by_category.items()))
    return f"residual data: {residual.found} records still found after erasure ({categories})"


def _perform(connector: Connector, job: ConnectorJob) -> Outcome:
    subject = subject_for(job)
    context = _context(job, external=connector.external)
    if job.action == Action.LOCATE:
        located = connector.locate(subject, job=context)
        return Outcome(found=located.found, result={"by_category": located.by_category},
                       learned=located.identifiers or None)
    if job.action == Action.EXPORT:
        records = (
            {"category": r.category, "fields": dict(r.fields)} for r in connector.export(subject, job=context)
        )
        summary = storage.write_records(f"{job.request_id}/{job.pk}.jsonl.enc", records)
        return Outcome(found=summary.records, result={"by_category": summary.by_category}, export=summary)
    if job.action == Action.ERASE:
        receipt = connector.erase(subject, job=context)
        result = {"receipt": _receipt(receipt), "verified": False}
        if Action.LOCATE in connector.actions and not connector.external:
            residual = connector.locate(subject)
            if residual.found:
                raise ConnectorError(_residual_message(residual))
            result["verified"] = True
        return Outcome(affected=receipt.affected, result=result)
    if job.action == Action.RECTIFY:
        receipt = connector.rectify(subject, requested_changes(job), job=context)
        return Outcome(affected=receipt.affected, result={"receipt": _receipt(receipt)})
    raise ConnectorError(f"unknown action {job.action!r}", permanent=True)


def _receipt(receipt: Any) -> dict[str, Any]:
    return {
        "action": str(receipt.action),
        "affected": receipt.affected,
        "by_category": receipt.by_category,
        "detail": receipt.detail,
        "at": timezone.now().isoformat(),
    }


def succeed(job: ConnectorJob, outcome: Outcome, *, actor: Actor | None = None) -> str | None:
    fields: dict[str, Any] = {
        "found": outcome.found,
        "affected": outcome.affected,
        "result": outcome.result,
        "error": "",
    }
    if outcome.learned:
        fields["learned"] = outcome.learned
    if outcome.export is not None:
        fields.update(
            export_file=outcome.export.path,
            export_sha256=outcome.export.sha256,
            export_records=outcome.export.records,
        )
    details = {"found": outcome.found, "affected": outcome.affected}
    return _settle(job, JobStatus.SUCCEEDED, actor=actor, details=details, **fields)


def fail_or_retry(job: ConnectorJob, message: str, *, permanent: bool, actor: Actor | None = None) -> str | None:
    message = audit.redact(message)[:2000]
    if permanent or job.attempts >= job.system.max_attempts:
        return _settle(job, JobStatus.FAILED, actor=actor, error=message,
                       details={"error": message, "attempts": job.attempts})
    delay = backoff(job.attempts)
    status = _settle(
        job,
        JobStatus.PENDING,
        actor=actor,
        error=message,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        details={"error": message, "attempts": job.attempts, "retry_in_seconds": round(delay, 2)},
    )
    if status == JobStatus.PENDING:
        from .execution import enqueue_jobs

        transaction.on_commit(lambda: enqueue_jobs([str(job.pk)], countdown=delay))
    return status


def backoff(attempts: int) -> float:
    """Exponential backoff with jitter: base × 2^(n-1), capped, times a random 0.5–1."""
    base = settings.DSR_RETRY_BASE_SECONDS
    ceiling = min(settings.DSR_RETRY_MAX_SECONDS, base * 2 ** max(attempts - 1, 0))
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


_VERBS = {
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.PENDING: "job.retry_scheduled",
    JobStatus.WAITING: "job.waiting",
}


def _settle(
    job: ConnectorJob,
    status: str,
    *,
    actor: Actor | None = None,
    details: dict[str, Any] | None = None,
    **fields: Any,
) -> str | None:
    """Record the outcome while our claim still holds (same attempt, still running or waiting)."""
    now = timezone.now()
    if status in TERMINAL_JOB_STATUSES:
        fields["finished_at"] = now
    with audit.batch():
        changed = ConnectorJob.objects.filter(
            pk=job.pk, status__in=[JobStatus.RUNNING, JobStatus.WAITING], attempts=job.attempts
        ).update(status=status, lease_expires_at=None, updated_at=now, **fields)
        if not changed:
            log.warning("job %s: claim lost before its outcome was recorded", job.pk)
            return None
        audit.record(
            _VERBS[JobStatus(status)],
            actor=actor or Actor("system", job.system.name),
            request=job.request,
            details={"system": job.system.name, "action": job.action, **(details or {})},
        )
        if status in TERMINAL_JOB_STATUSES:
            from .execution import advance

            request_id = str(job.request_id)
            transaction.on_commit(lambda: advance(request_id))
    job.status = status
    return status


def report(job: ConnectorJob, payload: dict[str, Any], *, actor: Actor) -> str | None:
    """A system (pull or webhook callback) or a person reports the job's result."""
    if payload["status"] == "failed":
        return fail_or_retry(
            job, payload.get("error") or "the system reported a failure",
            permanent=payload.get("permanent", False), actor=actor,
        )
    by_category = payload.get("by_category") or {}
    if job.action == Action.LOCATE:
        outcome = Outcome(found=payload.get("found", 0), result={"by_category": by_category},
                          learned=payload.get("identifiers") or None)
    elif job.action == Action.EXPORT:
        records = ({"category": r.get("category", "records"), "fields": r["fields"]} for r in payload.get("records", []))
        summary = storage.write_records(f"{job.request_id}/{job.pk}.jsonl.enc", records)
        outcome = Outcome(found=summary.records, result={"by_category": summary.by_category}, export=summary)
    else:
        receipt = {
            "action": job.action, "affected": payload.get("affected", 0), "by_category": by_category,
            "detail": {"mode": "remote", "note": payload.get("note", "")}, "at": timezone.now().isoformat(),
        }
        outcome = Outcome(affected=payload.get("affected", 0), result={"receipt": receipt})
    return succeed(job, outcome, actor=actor)
