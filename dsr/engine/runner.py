"""Running one job: claim it, call the connector, record the outcome (or retry, or fail).

The claim is a conditional UPDATE, so two workers never run the same job; a
worker that dies mid-job leaves a lease that runs out, and the job is claimed
again. Results are recorded only while the claim still holds (``outcomes``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from connectors.base import Action, Connector, ConnectorError, Deferred
from dsr.core import storage
from dsr.core.models import TERMINAL_JOB_STATUSES, ConnectorJob, JobStatus
from dsr.results import rectification

from .batch import batches, run_erase_batch
from .connections import connector_for, context_for, requested_changes, subject_for
from .current import NeedsDecision, read_values, readable
from .outcomes import (
    Outcome,
    fail_or_retry,
    poll_later,
    receipt_of,
    residual_message,
    settle,
    succeed,
)

log = logging.getLogger(__name__)


# The claim: due (or its lease ran out) and no earlier phase still open (identity lookups
# first). Written out rather than built by the ORM: it runs once per job, and building the
# same statement with its subqueries cost more than running it. Plain SQL that PostgreSQL and
# SQLite (3.35+, for RETURNING) both run; ``has_learned``: an earlier phase found identifiers.
# The three placeholders after NOT IN take TERMINAL_JOB_STATUSES (a change in their number
# fails every claim, loudly).
_CLAIM = """
UPDATE dsr_connectorjob
SET status = %s, attempts = attempts + 1, lease_expires_at = %s, started_at = COALESCE(started_at, %s)
WHERE id = %s
  AND ((status = %s AND next_attempt_at <= %s) OR (status = %s AND lease_expires_at < %s))
  AND NOT EXISTS (
    SELECT 1 FROM dsr_connectorjob AS e
    WHERE e.request_id = dsr_connectorjob.request_id AND e.phase < dsr_connectorjob.phase
      AND e.status NOT IN (%s, %s, %s))
RETURNING EXISTS (
    SELECT 1 FROM dsr_connectorjob AS k
    WHERE k.request_id = dsr_connectorjob.request_id AND k.phase < dsr_connectorjob.phase
      AND k.status = %s AND k.learned IS NOT NULL)
"""


def _claim(job_id: str) -> ConnectorJob | None:
    """Take the job if it is due (or its lease ran out) and no earlier phase is still open.

    One conditional UPDATE decides it, so two workers never both win; then one SELECT
    loads the job with its request and system.
    """
    fields = ConnectorJob._meta
    at = timezone.now()
    now = fields.get_field("next_attempt_at").get_db_prep_value(at, connection)
    lease = fields.get_field("lease_expires_at").get_db_prep_value(
        at + timedelta(seconds=settings.DSR_JOB_LEASE_SECONDS), connection
    )
    statuses = [str(s) for s in sorted(TERMINAL_JOB_STATUSES)]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, [
            str(JobStatus.RUNNING), lease, now, fields.pk.get_db_prep_value(job_id, connection),
            str(JobStatus.PENDING), now, str(JobStatus.RUNNING), now, *statuses, str(JobStatus.SUCCEEDED),
        ])
        row = cursor.fetchone()
    if row is None:
        return None
    job = ConnectorJob.objects.select_related("request", "system").get(pk=job_id)
    job.has_learned = bool(row[0])
    return job


def run(job_id: str) -> str | None:
    """Run one job if it can be claimed; returns its status afterwards (None if not claimed)."""
    job = _claim(job_id)
    if job is None:
        return None
    if job.action == Action.ERASE and batches(job.system):
        return run_erase_batch(job)
    try:
        with connector_for(job.system) as connector:
            try:
                outcome = _perform(connector, job)
            except NeedsDecision as stop:  # nothing wrong with the connector: keep it
                return _stop_for_decision(job, stop)
    except Deferred as waiting:
        if waiting.poll_after is not None:
            return poll_later(job, waiting)
        return settle(job, JobStatus.WAITING, result={"waiting": waiting.message})
    except ConnectorError as exc:
        return fail_or_retry(job, exc.message, permanent=exc.permanent)
    except Exception as exc:  # a connector bug must not lose the job
        log.exception("job %s (%s) crashed", job.pk, job.system.name)
        return fail_or_retry(job, f"unexpected error in the connector: {type(exc).__name__}", permanent=False)
    return succeed(job, outcome)


def _stop_for_decision(job: ConnectorJob, stop: NeedsDecision) -> str | None:
    """Keep the values found (encrypted, with the request) and wait for an officer's new decision."""
    rectification.record_current(job.request_id, job.system.name, stop.now, every=set(requested_changes(job)))
    fields = sorted(stop.fields)  # names only: the values are personal data
    return settle(job, JobStatus.WAITING, details={"stale": fields},
                  result={"waiting": f"changed since the decision: {', '.join(fields)}; decide again",
                          "stale": fields})


def _perform(connector: Connector, job: ConnectorJob) -> Outcome:
    subject = subject_for(job)
    context = context_for(job, external=connector.external)
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
        result = {"receipt": receipt_of(receipt), "verified": False}
        if Action.LOCATE in connector.actions and not connector.external:
            residual = connector.locate(subject)
            if residual.found:
                raise ConnectorError(residual_message(residual))
            result["verified"] = True
        return Outcome(affected=receipt.affected, result=result)
    if job.action == Action.RECTIFY:
        changes = requested_changes(job)
        if readable(connector):  # never overwrite a value changed since the officer decided
            now = read_values(connector, subject, list(changes))
            if conflicts := rectification.stale(job.request, job.system.name, now):
                raise NeedsDecision(conflicts, now)
        receipt = connector.rectify(subject, changes, job=context)
        return Outcome(affected=receipt.affected, result={"receipt": receipt_of(receipt)})
    raise ConnectorError(f"unknown action {job.action!r}", permanent=True)
