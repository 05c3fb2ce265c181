"""Officers' actions that have no other home: assign, note, skip, correct the regime, tick off a task."""

from __future__ import annotations

import base64
import mimetypes
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dsr.core import audit, deadlines, tokens
from dsr.core.audit import Actor
from dsr.core.models import OPEN_STATUSES, ConnectorJob, DataSubjectRequest, JobStatus, Note, Regime
from dsr.engine import outcomes


class ActionRefused(Exception):
    pass


def assign(request: DataSubjectRequest, user: Any, *, actor: Actor) -> None:
    with transaction.atomic():
        DataSubjectRequest.objects.filter(pk=request.pk).update(assignee=user)
        request.assignee = user
        audit.record("request.assigned", actor=actor, request=request,
                     details={"assignee": str(user.pk) if user else None})


def add_note(request: DataSubjectRequest, text: str, *, author: Any, actor: Actor) -> Note:
    if not text.strip():
        raise ActionRefused("A note needs some text.")
    with transaction.atomic():
        note = Note.objects.create(request=request, author=author, text=text.strip()[:10_000])
        audit.record("note.added", actor=actor, request=request, details={"note": str(note.pk)})
    return note


def revoke_status_links(request: DataSubjectRequest, *, actor: Actor) -> None:
    """Every status link sent so far stops working (one was forwarded, or a mailbox was lost).
    The person's next email carries a new one."""
    with transaction.atomic():
        tokens.revoke(request)
        audit.record("status_links.revoked", actor=actor, request=request,
                     details={"revocations": request.status_revocations})


def skip_job(job: ConnectorJob, *, reason: str, actor: Actor) -> bool:
    """An officer decides a system need not act (e.g. it never held this person's data)."""
    if not reason.strip():
        raise ActionRefused("Skipping a system needs a reason.")
    with transaction.atomic():
        changed = ConnectorJob.objects.filter(
            pk=job.pk, status__in=[JobStatus.PENDING, JobStatus.WAITING, JobStatus.FAILED]
        ).update(status=JobStatus.SKIPPED, finished_at=timezone.now(), result={"skipped": reason.strip()})
        if not changed:
            raise ActionRefused(f"The job is {job.get_status_display().lower()}; it cannot be skipped now.")
        audit.record("job.skipped", actor=actor, request=job.request,
                     details={"system": job.system.name, "action": job.action})
        from dsr.engine.fanout import advance

        request_id = str(job.request_id)
        transaction.on_commit(lambda: advance(request_id))
    return True


def correct_regime(request: DataSubjectRequest, regime: str, *, actor: Actor) -> None:
    """The law that applies was guessed from where the person lives; an officer may correct it."""
    if regime not in Regime.values:
        raise ActionRefused(f"Unknown regime {regime!r}.")
    if request.status not in OPEN_STATUSES:
        raise ActionRefused("Only an open request's regime can be corrected.")
    rule = deadlines.rule_for(regime)
    received = timezone.localdate(request.received_at)
    start = received
    if rule.clock_starts == "verification" and request.verified_at:
        start = timezone.localdate(request.verified_at)
    fields = {
        "regime": regime,
        "clock_started_on": start,
        "due_on": deadlines.due_date(regime, start),
        "acknowledge_by": deadlines.acknowledge_by(regime, received),
        "extended_due_on": deadlines.extended_due_date(regime, start) if request.extended_due_on else None,
    }
    with transaction.atomic():
        DataSubjectRequest.objects.filter(pk=request.pk).update(**fields)
        audit.record("request.regime_corrected", actor=actor, request=request,
                     details={"from": request.regime, "to": regime, "due_on": fields["due_on"].isoformat()})
        for key, value in fields.items():
            setattr(request, key, value)


def document_record(filename: str, content: bytes, content_type: str | None = None) -> dict[str, Any]:
    """A found document (e.g. a scanned letter), kept as one encrypted record of the export."""
    limit = settings.DSR_MAX_UPLOAD_BYTES
    if len(content) > limit:
        raise ActionRefused(f"The file is larger than {limit / (1024 * 1024):g} MB.")
    safe_name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "document"
    return {
        "category": "documents",
        "fields": {
            "filename": safe_name[:200],
            "content_type": content_type or mimetypes.guess_type(safe_name)[0] or "application/octet-stream",
            "size": len(content),
            "content_base64": base64.b64encode(content).decode("ascii"),
        },
    }


def complete_task(
    job: ConnectorJob, *, note: str, actor: Actor, affected: int = 0, documents: list[dict] | None = None,
    failed: bool = False,
) -> str | None:
    """Tick off a waiting job by hand (a manual task, or a system that answered by other means)."""
    if job.status != JobStatus.WAITING:
        raise ActionRefused(f"The job is {job.get_status_display().lower()}, not waiting.")
    if not note.strip():
        raise ActionRefused("Say what was done.")
    payload: dict[str, Any] = {
        "status": "failed" if failed else "completed", "affected": affected, "note": note.strip(),
        "error": note.strip() if failed else "", "permanent": failed,
    }
    if documents:
        payload["records"] = documents
    return outcomes.report(job, payload, actor=actor)
