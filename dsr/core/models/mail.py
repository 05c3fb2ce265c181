"""What we wrote to a person about their request: officers' messages, and every email sent."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..fields import EncryptedJSONField
from .desk import ReplyTemplate
from .requests import DataSubjectRequest


class Message(models.Model):
    """An officer's message to the person, emailed in the request's thread.

    The text is about the person (a question about their identity, say), so it is
    encrypted, and emptied with their identifiers when the request's record is purged.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    template = models.ForeignKey(ReplyTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", help_text="the reply template it started from")
    text = EncryptedJSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]


class EmailStatus(models.TextChoices):
    SENT = "sent", "Sent: accepted by the mail server"
    FAILED = "failed", "Failed: the mail server did not take it"


class EmailLog(models.Model):
    """One attempt to send one email about a request: which, when, and how it went.

    "Sent" means our mail server accepted it; a later bounce is not seen here. A failed
    attempt is retried by its task, and each attempt has its row. No address is kept:
    the person's email is the request's own.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="emails")
    template = models.CharField(max_length=64, help_text="which email: acknowledgement, outcome_denied, message…")
    subject = models.CharField(max_length=200)
    message_id = models.CharField(max_length=255, blank=True, help_text="the email's Message-ID header")
    status = models.CharField(max_length=8, choices=EmailStatus.choices)
    error = models.CharField(max_length=500, blank=True, help_text="why it failed, without identifiers")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["request", "created_at"], name="email_log_by_request")]


class EmailSent(models.Model):
    """The sent marker of an email a request gets once (its receipt, its outcome, a message).

    Claimed in the database *before* the email is sent: two tasks that both set out to send
    it (a sweep that re-queued it while a slow mail server still held the first) meet on the
    unique (request, kind), and only the one that claimed it sends. A claim never marked sent
    (the worker died mid-send) may be taken over once it is ``DSR_EMAIL_CLAIM_SECONDS`` old;
    if the log holds its email as sent (the worker died after sending it), the email is
    marked sent then, not sent again.
    """

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=80, help_text="which email: receipt, outcome_completed, message:<id>…")
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "kind"], name="email_sent_once")]
