"""Batch erasure: gather a system's ready erase jobs and erase them in one round trip.

Only for connectors with a real ``erase_many``; each job is still settled on its own
(its outcome, audit event and retry), all of them in one transaction.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors import registry
from connectors.base import Action, Connector, ConnectorError
from dsr.core import audit
from dsr.core.models import TERMINAL_JOB_STATUSES, ConnectorJob, JobStatus, SystemConnection

from .connections import connector_for, subject_for
from .outcomes import Outcome, fail_or_retry, receipt_of, residual_message, succeed

log = logging.getLogger(__name__)


def batches(system: SystemConnection) -> bool:
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
                        outcomes[request_id] = ConnectorError(residual_message(residual))
                        continue
                    outcome.result["verified"] = True
                outcomes[request_id] = outcome
    except ConnectorError as exc:
        outcomes = {request_id: exc for request_id in subjects}
    except Exception as exc:  # a connector bug must not lose the jobs
        log.exception("batch erase in %s crashed", first.system.name)
        error = ConnectorError(f"unexpected error in the connector: {type(exc).__name__}")
        outcomes = {request_id: error for request_id in subjects}
    status_of_first = None
    # Every outcome, and every request it moves on, in one transaction with one audit
    # append. Requests are locked in the order of their ids, as every batch does, so two
    # batches settling jobs of the same requests never wait on each other in a circle.
    with audit.batch():
        for job in sorted(batch, key=lambda job: str(job.request_id)):
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
            job.result = {**(job.result or {}), "receipt": receipt_of(receipt)}
            kept.append(job)
    if len(kept) == 1:  # one statement, which needs no transaction around it
        ConnectorJob.objects.filter(pk=kept[0].pk).update(result=kept[0].result)
    else:
        ConnectorJob.objects.bulk_update(kept, ["result"])


def _earliest(job: ConnectorJob, receipt: Any) -> dict[str, Any]:
    """This attempt's receipt, or an earlier attempt's if that one erased and this found nothing."""
    now = receipt_of(receipt)
    earlier = (job.result or {}).get("receipt")
    if not receipt.affected and earlier and earlier.get("affected"):
        return {**earlier, "confirmed_at": now["at"]}
    return now
