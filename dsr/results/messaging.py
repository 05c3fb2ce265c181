"""Writing to the person: an officer's message, emailed in the request's thread.

The message is stored encrypted and audited when the officer writes it; the email
is a retried task, and its delivery (or failure) is in the request's email log.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from dsr.core import audit, queue
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Message, ReplyTemplate
from dsr.core.queue import Task

MAX_LENGTH = 10_000


class MessageRefused(Exception):
    """The message cannot be sent; the text says why."""


def write(
    request: DataSubjectRequest, *, text: str, actor: Actor, author: Any = None,
    template: ReplyTemplate | None = None,
) -> Message:
    """Store the officer's message, audit it, and email it to the person once committed."""
    text = text.strip()
    if not text:
        raise MessageRefused("Write the message first.")
    if len(text) > MAX_LENGTH:
        raise MessageRefused(f"A message may be {MAX_LENGTH:,} characters at most.")
    if "\x00" in text:
        raise MessageRefused("The message holds a NUL character.")
    if not request.email:
        raise MessageRefused("This request no longer holds the person's email address (its record was purged).")
    with transaction.atomic():
        message = Message.objects.create(request=request, author=author, template=template, text=text)
        audit.record("message.written", actor=actor, request=request,
                     details={"message": str(message.pk), "template": template.pk if template else None})
        queue.on_commit(Task.SEND_MESSAGE, str(message.pk))
    return message


def mark_sent(message: Message) -> bool:
    """Record that the email went out; False if it already had (a repeated task sends nothing twice)."""
    return bool(Message.objects.filter(pk=message.pk, sent_at__isnull=True).update(sent_at=timezone.now()))
