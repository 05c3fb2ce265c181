"""The audit trail's rows: append-only events, hash-chained, and the chain's tip."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from .requests import DataSubjectRequest


class ActorType(models.TextChoices):
    SUBJECT = "subject", "Subject"
    AGENT = "agent", "Authorized agent"
    OFFICER = "officer", "Officer"
    SYSTEM = "system", "Connected system"
    SCHEDULER = "scheduler", "Scheduler"


class AuditEvent(models.Model):
    """Append-only and hash-chained: each event's hash covers the previous one's.

    Updates and deletes are refused here and, in the database, by triggers.
    Details never hold a subject's identifiers in clear.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=150, blank=True)
    verb = models.CharField(max_length=64)
    request = models.ForeignKey(
        DataSubjectRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    details = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.verb}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("audit events are append-only")


class AuditChainHead(models.Model):
    """A single row holding the chain's tip; locking it serialises appends."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
