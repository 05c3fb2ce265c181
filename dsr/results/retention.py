"""Retention of request records (CCPA §7101: at least 24 months).

After the configured period, a closed request keeps what the law asks for to show how
it was handled (GDPR Art. 5(2)): dates, kind, outcome, which systems did what and how
many records, the legal ground of any erasure exception, and the audit chain, which
records that a denial or an extension happened. It loses the person's identifiers, their
free text, the exported records and bundle, and everything officers and systems wrote in
words about the person: denial and extension reasons (no ground code exists for those:
the words are the reason), notes, messages, exception and withholding reasons, withheld
categories, recipients' notes, job errors, receipts' details and waiting or skip reasons.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dsr.core import audit, storage
from dsr.core.audit import Actor
from dsr.core.models import (
    TERMINAL_STATUSES,
    ConnectorJob,
    DataSubjectRequest,
    ErasureException,
    Message,
    Note,
    RecipientNotice,
    ResultBundle,
    Withholding,
)

# What a job's result keeps once purged: counts and codes, never words.
_RESULT_KEPT = ("by_category", "exception", "verified", "batch")
_RECEIPT_KEPT = ("action", "affected", "by_category", "at", "confirmed_at")


def counts_of_result(result: dict[str, Any] | None) -> dict[str, Any]:
    """A job's result without anything written in words (receipt notes, skip or waiting reasons)."""
    result = result or {}
    kept = {key: result[key] for key in _RESULT_KEPT if key in result}
    receipt = result.get("receipt")
    if isinstance(receipt, dict):
        kept["receipt"] = {key: receipt[key] for key in _RECEIPT_KEPT if key in receipt}
        detail = receipt.get("detail")
        tables = detail.get("tables") if isinstance(detail, dict) else None
        if tables:  # table names and counts: the erasure certificate's evidence
            kept["receipt"]["detail"] = {"tables": tables}
    return kept


def counts_of_manifest(manifest: dict[str, Any] | None) -> dict[str, Any]:
    """A bundle's manifest without the withheld categories and reasons (only which system, how)."""
    manifest = dict(manifest or {})
    manifest["withheld"] = [{"system": w.get("system"), "scope": w.get("scope")}
                            for w in manifest.get("withheld") or []]
    return manifest


def purge() -> int:
    cutoff = timezone.now() - timedelta(days=30 * settings.DSR_RECORD_RETENTION_MONTHS)
    due = DataSubjectRequest.objects.filter(
        status__in=TERMINAL_STATUSES, closed_at__lt=cutoff, purged_at__isnull=True
    )
    reason = f"after {settings.DSR_RECORD_RETENTION_MONTHS} months"
    return sum(purge_one(request, reason=reason) for request in due.iterator(chunk_size=200))


def purge_one(request: DataSubjectRequest, *, reason: str) -> bool:
    """One closed request keeps its record and loses the person's identifiers and exports."""
    for job in request.jobs.exclude(export_file=""):
        storage.delete(job.export_file)
    for item in request.bundles.exclude(file=""):
        storage.delete(item.file)
    with transaction.atomic():
        changed = DataSubjectRequest.objects.filter(pk=request.pk, purged_at__isnull=True).update(
            identifiers={}, email_hash="", agent=None, changes=None, details=None,
            denial_reason="", extension_reason="",  # officers write about the person there too
            purged_at=timezone.now(),
        )
        if not changed:
            return False
        ConnectorJob.objects.filter(request=request).update(learned=None, export_file="", error="")
        # Results and manifests are encrypted: each is rewritten in Python, keeping only counts.
        for job in ConnectorJob.objects.filter(request=request).only("pk", "result"):
            ConnectorJob.objects.filter(pk=job.pk).update(result=counts_of_result(job.result))
        for item in ResultBundle.objects.filter(request=request).only("pk", "manifest"):
            ResultBundle.objects.filter(pk=item.pk).update(
                manifest=counts_of_manifest(item.manifest), file="", deleted_at=timezone.now()
            )
        # Written about the person: the officers' and systems' words go with the identifiers.
        Message.objects.filter(request=request).update(text=None)
        Note.objects.filter(request=request).update(text="")
        ErasureException.objects.filter(request=request).update(reason="")  # the ground stays
        Withholding.objects.filter(request=request).update(category="", reason="")
        RecipientNotice.objects.filter(request=request).update(note="")
        audit.record("request.purged", actor=Actor.scheduler(), request=request, details={"reason": reason})
    return True
