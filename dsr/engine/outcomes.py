"""A job's outcome, recorded while its claim still holds: success, retry with backoff, or failure.

Every outcome is one conditional UPDATE and one audit event; a terminal outcome
moves the request on (``fanout.advance_locked``) in the same transaction.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.base import Action, Deferred
from dsr.core import audit, storage
from dsr.core.audit import Actor
from dsr.core.models import TERMINAL_JOB_STATUSES, ConnectorJob, DataSubjectRequest, JobStatus

from .fanout import advance_locked, enqueue_jobs

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    found: int | None = None
    affected: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    learned: dict[str, str] | None = None
    export: storage.WriteSummary | None = None


def receipt_of(receipt: Any) -> dict[str, Any]:
    return {
        "action": str(receipt.action),
        "affected": receipt.affected,
        "by_category": receipt.by_category,
        "detail": receipt.detail,
        "at": timezone.now().isoformat(),
    }


def residual_message(residual: Any) -> str:
    categories = ", ".join(f"{k}: {v}" for k, v in sorted(residual.by_category.items()))
    return f"residual data: {residual.found} records still found after erasure ({categories})"


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
    return settle(job, JobStatus.SUCCEEDED, actor=actor, details=details, **fields)


def fail_or_retry(job: ConnectorJob, message: str, *, permanent: bool, actor: Actor | None = None) -> str | None:
    message = audit.redact(message)[:2000]
    if permanent or job.attempts >= job.system.max_attempts:
        return settle(job, JobStatus.FAILED, actor=actor, error=message,
                       details={"error": message, "attempts": job.attempts})
    delay = backoff(job.attempts)
    status = settle(
        job,
        JobStatus.PENDING,
        actor=actor,
        error=message,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        details={"error": message, "attempts": job.attempts, "retry_in_seconds": round(delay, 2)},
    )
    if status == JobStatus.PENDING:
        transaction.on_commit(lambda: enqueue_jobs([str(job.pk)], countdown=delay))
    return status


def poll_later(job: ConnectorJob, waiting: Deferred) -> str | None:
    """The system works on its own clock (a vendor's deletion): ask it again later.

    The job goes back to pending with the connector's ``state`` kept for the next call,
    and its attempt is given back: asking how far the vendor has got is not a failure,
    so a long deletion never uses up the system's ``max_attempts``. A deletion still
    unfinished ``DSR_POLL_MAX_DAYS`` after the first answer fails, for an officer.
    """
    now = timezone.now()
    result = dict(job.result or {})
    since = result.get("polling_since") or now.isoformat()
    if now - datetime.fromisoformat(since) > timedelta(days=settings.DSR_POLL_MAX_DAYS):
        return fail_or_retry(job, f"still not finished after {settings.DSR_POLL_MAX_DAYS} days: "
                                  f"{waiting.message}", permanent=True)
    delay = min(max(float(waiting.poll_after or 0), 1.0), 86400.0)
    result.update(waiting=waiting.message, state=waiting.state or {}, polling_since=since)
    status = settle(
        job,
        JobStatus.PENDING,
        verb="job.poll_scheduled",
        result=result,
        attempts=job.attempts - 1,
        next_attempt_at=now + timedelta(seconds=delay),
        details={"waiting": audit.redact(waiting.message)[:500], "poll_in_seconds": round(delay)},
    )
    if status == JobStatus.PENDING:
        transaction.on_commit(lambda: enqueue_jobs([str(job.pk)], countdown=delay))
    return status


def backoff(attempts: int) -> float:
    """Exponential backoff with jitter: base × 2^(n-1), capped, times a random 0.5–1."""
    base = settings.DSR_RETRY_BASE_SECONDS
    ceiling = min(settings.DSR_RETRY_MAX_SECONDS, base * 2 ** max(attempts - 1, 0))
    return ceiling * random.uniform(0.5, 1.0)  # jitter, not a secret


_VERBS = {
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.PENDING: "job.retry_scheduled",
    JobStatus.WAITING: "job.waiting",
}


def settle(
    job: ConnectorJob,
    status: str,
    *,
    actor: Actor | None = None,
    details: dict[str, Any] | None = None,
    verb: str | None = None,
    **fields: Any,
) -> str | None:
    """Record the outcome while our claim still holds (same attempt, still running or waiting).

    A terminal outcome moves the request on in the same transaction (``advance_locked``):
    one commit, and the job's and the request's audit events appended together. The
    request row is locked first, before the job's, in the order every other writer of
    both takes them (an officer's action, intake), so two never wait on each other.
    """
    now = timezone.now()
    terminal = status in TERMINAL_JOB_STATUSES
    if terminal:
        fields["finished_at"] = now
    with audit.batch():
        request = None
        if terminal:
            request = DataSubjectRequest.objects.locked().filter(pk=job.request_id).first()
        changed = ConnectorJob.objects.filter(
            pk=job.pk, status__in=[JobStatus.RUNNING, JobStatus.WAITING], attempts=job.attempts
        ).update(status=status, lease_expires_at=None, updated_at=now, **fields)
        if not changed:
            log.warning("job %s: claim lost before its outcome was recorded", job.pk)
            return None
        audit.record(
            verb or _VERBS[JobStatus(status)],
            actor=actor or Actor.worker(),
            request=job.request,
            details={"system": job.system.name, "action": job.action, **(details or {})},
        )
        if request is not None:
            advance_locked(request)
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
