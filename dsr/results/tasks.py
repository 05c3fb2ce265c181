"""Celery tasks of results: tell the person the outcome, release and expire bundles, purge.

Thin: each takes ids and calls services; services queue these by name (``dsr.core.queue``).
"""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from dsr.core import audit, emails
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Message
from dsr.core.queue import Task, mail_task
from dsr.core.tokens import status_path

from . import access, messaging, notices, retention
from .closing import outcome_context


@mail_task(name=Task.SEND_OUTCOME)
def send_outcome(request_id: str, outcome: str) -> None:
    """Tell the person how their request ended (or that it was extended)."""
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or not request.email:
        return
    context = {
        **outcome_context(request),
        "status_url": emails.absolute(status_path(request, fresh=True)),  # loaded just above
        "outcome": outcome,
    }
    # Each outcome is told once; a reissued download link may be sent again on a later reissue.
    once = "" if outcome == "reissued" else f"outcome_{outcome}"
    emails.send(f"outcome_{outcome}", to=request.email, context=context, request=request, once=once,
                on_sent=lambda: audit.record("outcome.sent", actor=Actor.scheduler(), request=request,
                                             details={"outcome": outcome, "channel": "email"}))


@mail_task(name=Task.NOTIFY_RECIPIENT)
def notify_recipient(notice_id: str) -> None:
    """Email a recipient of the person's data about an erasure or a correction."""
    notices.send(notice_id)


@mail_task(name=Task.SEND_MESSAGE)
def send_message(message_id: str) -> None:
    """Email an officer's message to the person, in the request's thread; once."""
    message = Message.objects.select_related("request").filter(pk=message_id, sent_at__isnull=True).first()
    if message is None or not message.request.email or not message.text:
        return
    request = message.request
    emails.send("message", to=request.email, request=request, once=f"message:{message.pk}", context={
        "request": request, "text": message.text,
        "status_url": emails.absolute(status_path(request)),
    }, on_sent=lambda: messaging.mark_sent(message))


@shared_task(name=Task.RELEASE_RESULTS, acks_late=True)
def release_results(request_id: str, user_id: int | None = None) -> str:
    """Build and release an access/portability bundle (can take a while for a large export).

    Without ``user_id`` the system releases it (DSR_AUTO_RELEASE_KINDS), and is audited so.
    """
    request = DataSubjectRequest.objects.get(pk=request_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    actor = Actor.officer(user) if user else Actor.scheduler()
    try:
        return str(access.release(request, actor=actor, user=user).pk)
    except access.NotReady:  # released meanwhile (by an officer, or an earlier run): nothing to do
        return ""


@shared_task(name=Task.EXPIRE_BUNDLES)
def expire_bundles() -> int:
    return access.expire_bundles()


@shared_task(name=Task.PURGE_RETAINED)
def purge_retained() -> int:
    return retention.purge()
