"""Retention of request records (CCPA §7101: at least 24 months).

After the configured period, a closed request keeps what the law asks for (dates,
kind, channel, outcome, basis of any denial) and loses the person's identifiers,
free text and exported records.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dsr.core import audit, storage
from dsr.core.audit import Actor
from dsr.core.models import TERMINAL_STATUSES, ConnectorJob, DataSubjectRequest, Message, Note


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
        ConnectorJob.objects.filter(request=request).update(learned=None, export_file="")
        Message.objects.filter(request=request).update(text=None)  # written about the person
        Note.objects.filter(request=request).update(text="")
        request.bundles.update(file="", deleted_at=timezone.now())
        audit.record("request.purged", actor=Actor.scheduler(), request=request, details={"reason": reason})
    return True
