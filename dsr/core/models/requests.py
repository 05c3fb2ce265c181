"""A data-subject request and its identity verification.

Status changes never happen here: ``dsr.core.lifecycle`` owns them.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..fields import EncryptedJSONField, EncryptedTextField

# Crockford's base32 without the look-alikes (I, L, O, U): easy to read out on a call.

REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _position in range(8))
    return f"DSR-{chars[:4]}-{chars[4:]}"


class Kind(models.TextChoices):
    ACCESS = "access", _("Access (a copy of my data)")
    PORTABILITY = "portability", _("Portability (my data in a reusable format)")
    RECTIFICATION = "rectification", _("Rectification (correct my data)")
    ERASURE = "erasure", _("Erasure (delete my data)")


class Regime(models.TextChoices):
    GDPR = "gdpr", _("EU GDPR")
    UK_GDPR = "uk_gdpr", _("UK GDPR")
    CCPA = "ccpa", _("California CCPA/CPRA")
    VCDPA = "vcdpa", _("Virginia VCDPA")
    CPA = "cpa", _("Colorado CPA")
    CTDPA = "ctdpa", _("Connecticut CTDPA")
    UCPA = "ucpa", _("Utah UCPA")
    LGPD = "lgpd", _("Brazil LGPD")
    PIPEDA = "pipeda", _("Canada PIPEDA")


class Status(models.TextChoices):
    RECEIVED = "received", _("Received")
    AWAITING_VERIFICATION = "awaiting_verification", _("Awaiting verification")
    VERIFIED = "verified", _("Verified")
    APPROVED = "approved", _("Approved")
    IN_PROGRESS = "in_progress", _("In progress")
    REVIEW = "review", _("In review")
    COMPLETED = "completed", _("Completed")
    DENIED = "denied", _("Denied")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


TERMINAL_STATUSES = frozenset({Status.COMPLETED, Status.DENIED, Status.CANCELLED, Status.EXPIRED})
OPEN_STATUSES = frozenset(set(Status) - TERMINAL_STATUSES)
# The same set in a fixed order, so the queue's filter matches its partial index exactly.
OPEN_STATUS_LIST = sorted(s.value for s in OPEN_STATUSES)


class RequesterType(models.TextChoices):
    SUBJECT = "subject", _("The person the data is about")
    AGENT = "agent", _("An authorized agent acting for them")


class RequestQuerySet(models.QuerySet):
    def locked(self, **options: object) -> RequestQuerySet:
        """The rows locked for a change in this transaction: FOR NO KEY UPDATE, never FOR UPDATE.

        An audit event's INSERT checks its foreign key to the request with FOR KEY SHARE,
        which FOR UPDATE blocks: a transaction holding the audit chain's head would wait for
        the request while the request's holder waited for the head, a deadlock. FOR NO KEY
        UPDATE lets that check through and still orders the changes to one request.
        ``options`` are select_for_update's (``skip_locked``, ``of``...).
        """
        return self.select_for_update(no_key=True, **options)


class DataSubjectRequest(models.Model):
    objects = RequestQuerySet.as_manager()

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=14, unique=True, default=new_reference)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    regime = models.CharField(max_length=16, choices=Regime.choices)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.RECEIVED)

    # Personal data: encrypted at rest; found through keyed hashes only.
    identifiers = EncryptedJSONField(help_text="email, and optionally phone, customer_id, name")
    email_hash = models.CharField(max_length=64, db_index=True)
    requester_type = models.CharField(
        max_length=8, choices=RequesterType.choices, default=RequesterType.SUBJECT
    )
    agent = EncryptedJSONField(null=True, blank=True)
    changes = EncryptedJSONField(null=True, blank=True, help_text="rectification items")
    details = EncryptedJSONField(null=True, blank=True, help_text="the person's free text")

    country = models.CharField(max_length=2, blank=True)
    subdivision = models.CharField(max_length=8, blank=True)
    language = models.CharField(max_length=8, default="en")

    received_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    status_revocations = models.PositiveIntegerField(
        default=0, help_text="how many times an officer revoked the status links: each revocation voids all before"
    )
    clock_started_on = models.DateField()
    due_on = models.DateField()
    extended_due_on = models.DateField(null=True, blank=True)
    extension_reason = EncryptedTextField(blank=True, help_text="the officer's words to the person")
    acknowledge_by = models.DateField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True, help_text="identifiers removed after retention")
    reminders_sent = models.JSONField(default=list, blank=True, help_text="deadline reminders sent")
    outcome = models.CharField(max_length=32, blank=True)
    denial_reason = EncryptedTextField(blank=True, help_text="the officer's words to the person")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_on", "received_at"]
        indexes = [
            models.Index(fields=["status", "due_on"], name="dsr_status_due"),
            # The open queue, in due-date order: what officers look at all day.
            models.Index(
                Coalesce("extended_due_on", "due_on"),
                "received_at",
                name="dsr_open_by_due",
                condition=models.Q(status__in=OPEN_STATUS_LIST),
            ),
            models.Index(fields=["email_hash", "kind", "status"], name="dsr_email_kind_status"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def email(self) -> str:
        return (self.identifiers or {}).get("email", "")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def effective_due_on(self):
        return self.extended_due_on or self.due_on

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.effective_due_on < timezone.localdate()


class Verification(models.Model):
    """One emailed code and link; a new one supersedes the old."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(
        DataSubjectRequest, on_delete=models.PROTECT, related_name="verifications"
    )
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    superseded = models.BooleanField(default=False)
    purpose = models.CharField(max_length=16, default="verify", help_text="verify, or download")

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"
