"""Access and portability results: officer review, release, delivery, expiry, re-issue.

The officer sees counts and a preview per system, may withhold a category or a
record with a reason, and releases. Release builds the encrypted bundle, closes
the request and emails the person a link to their status page, where each
download asks for a fresh emailed code.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from dsr.core import audit, queue, storage
from dsr.core.audit import Actor
from dsr.core.models import (
    ConnectorJob,
    DataSubjectRequest,
    JobStatus,
    Kind,
    ResultBundle,
    Status,
    Withholding,
)
from dsr.core.queue import Task
from dsr.core.selectors import current_bundle
from dsr.results import bundle, closing

EXPORT_KINDS = {Kind.ACCESS, Kind.PORTABILITY}


class NotReady(Exception):
    """The request is not at the step this action needs; the message says why."""


def preview(request: DataSubjectRequest, *, per_system: int = 5) -> list[dict[str, Any]]:
    """Per system: the counts by category and the first few records, for the officer's review."""
    rows = []
    for job in request.jobs.filter(action="export").select_related("system").order_by("system__name"):
        records: list[dict[str, Any]] = []
        if job.status == JobStatus.SUCCEEDED and job.export_file:
            records = [
                {"index": i, **record}
                for i, record in islice(enumerate(storage.read_records(job.export_file)), per_system)
            ]
        rows.append({
            "job": job,
            "system": job.system.name,
            "status": job.status,
            "counts": (job.result or {}).get("by_category", {}),
            "total": job.export_records or 0,
            "records": records,
        })
    return rows


def withhold(
    request: DataSubjectRequest, job: ConnectorJob, *, category: str, reason: str, actor: Actor,
    record_index: int | None = None, user: Any = None,
) -> Withholding:
    if request.status != Status.REVIEW or job.request_id != request.pk:
        raise NotReady("Records can be withheld only while the request is in review.")
    if not reason.strip():
        raise NotReady("Give the reason the person will be told (e.g. Art. 15(4): others' data).")
    found = (job.result or {}).get("by_category") or {}
    if category not in found:
        # Only a category the export holds can be withheld; the audit trail names it, so a
        # made-up one (which might be anything, an email address included) is refused here.
        listed = ", ".join(sorted(found)) or "none: this export found nothing"
        raise NotReady(f"{job.system.name} exported no category of that name. Its categories: {listed}.")
    if record_index is not None and record_index >= (job.export_records or 0):
        raise NotReady(f"{job.system.name} exported {job.export_records or 0} records, numbered from 0; "
                       f"there is no record #{record_index}.")
    with transaction.atomic():
        item = Withholding.objects.create(
            request=request, job=job, category=category, record_index=record_index,
            reason=reason.strip(), created_by=user,
        )
        audit.record(
            "results.withheld", actor=actor, request=request,
            details={"system": job.system.name, "category": audit.redact(category),
                     "scope": "category" if record_index is None else "record"},
        )
    return item


def release(request: DataSubjectRequest, *, actor: Actor, user: Any = None) -> ResultBundle:
    """Build the bundle, close the request, tell the person. Only from review."""
    if request.kind not in EXPORT_KINDS:
        raise NotReady("Only access and portability requests have a bundle to release.")
    if request.status != Status.REVIEW:
        raise NotReady(f"The request is {request.get_status_display().lower()}, not in review.")
    item = _build(request, actor=actor, user=user)
    partial = bool(item.manifest.get("withheld"))
    closing.complete(request, actor=actor, outcome="partial" if partial else "completed")
    return item


def _build(request: DataSubjectRequest, *, actor: Actor, user: Any = None) -> ResultBundle:
    item = ResultBundle(request=request)
    relative = f"{request.pk}/bundle-{item.pk}.zip.enc"
    info, sha256, size = bundle.build(request, relative)
    now = timezone.now()
    with transaction.atomic():
        item.file, item.sha256, item.size, item.manifest = relative, sha256, size, _counts_only(info)
        item.released_at, item.released_by = now, user
        item.expires_at = now + timedelta(days=settings.DSR_BUNDLE_DAYS)
        item.save(force_insert=True)
        audit.record(
            "bundle.released", actor=actor, request=request,
            details={"sha256": sha256, "size": size, "records": info["total_records"],
                     "withheld": len(info["withheld"]), "expires_at": item.expires_at.isoformat()},
        )
    return item


def _counts_only(info: dict[str, Any]) -> dict[str, Any]:
    """What the database keeps of the manifest: counts and reasons, never records."""
    return {"systems": info["systems"], "total_records": info["total_records"],
            "withheld": info["withheld"], "schema_version": info["schema_version"]}


def open_download(request: DataSubjectRequest) -> tuple[ResultBundle, Iterator[bytes]]:
    """Count and audit a download; the caller has checked a fresh code."""
    item = current_bundle(request)
    if item is None or not item.available:
        raise NotReady(_("There is no download for this request, or its link has expired."))
    with transaction.atomic():
        ResultBundle.objects.filter(pk=item.pk).update(downloads=F("downloads") + 1)
        audit.record("bundle.downloaded", actor=Actor.subject(), request=request,
                     details={"bundle": str(item.pk)})
    return item, storage.read_decrypted(item.file)


def expire_bundles() -> int:
    """Delete expired bundle files; the record stays, and an officer can re-issue."""
    now = timezone.now()
    expired = 0
    for item in ResultBundle.objects.filter(deleted_at__isnull=True, expires_at__lt=now).select_related("request"):
        storage.delete(item.file)
        with transaction.atomic():
            if ResultBundle.objects.filter(pk=item.pk, deleted_at__isnull=True).update(deleted_at=now):
                audit.record("bundle.expired", actor=Actor.scheduler(), request=item.request,
                             details={"bundle": str(item.pk), "downloads": item.downloads})
                expired += 1
    return expired


def reissue(request: DataSubjectRequest, *, actor: Actor, user: Any = None) -> ResultBundle:
    """A fresh bundle (and link) for a completed request whose download expired or was lost."""
    if request.kind not in EXPORT_KINDS or request.status != Status.COMPLETED:
        raise NotReady("Only a completed access or portability request can be re-issued.")
    old = current_bundle(request)
    if old is not None:
        storage.delete(old.file)
        ResultBundle.objects.filter(pk=old.pk).update(deleted_at=timezone.now())
    item = _build(request, actor=actor, user=user)
    queue.on_commit(Task.SEND_OUTCOME, str(request.pk), "reissued")
    return item
