"""The domain (DESIGN §4): requests, their verification, and the audit trail.

Status changes never happen here: ``dsr.lifecycle`` owns them.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from .fields import EncryptedJSONField

# Crockford's base32 without the look-alikes (I, L, O, U): easy to read out on a call.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"DSR-{chars[:4]}-{chars[4:]}"


class Kind(models.TextChoices):
    ACCESS = "access", "Access (a copy of my data)"
    PORTABILITY = "portability", "Portability (my data in a reusable format)"
    RECTIFICATION = "rectification", "Rectification (correct my data)"
    ERASURE = "erasure", "Erasure (delete my data)"


class Regime(models.TextChoices):
    GDPR = "gdpr", "EU GDPR"
    UK_GDPR = "uk_gdpr", "UK GDPR"
    CCPA = "ccpa", "California CCPA/CPRA"
    VCDPA = "vcdpa", "Virginia VCDPA"
    CPA = "cpa", "Colorado CPA"
    CTDPA = "ctdpa", "Connecticut CTDPA"
    UCPA = "ucpa", "Utah UCPA"
    LGPD = "lgpd", "Brazil LGPD"
    PIPEDA = "pipeda", "Canada PIPEDA"


class Status(models.TextChoices):
    RECEIVED = "received", "Received"
    AWAITING_VERIFICATION = "awaiting_verification", "Awaiting verification"
    VERIFIED = "verified", "Verified"
    APPROVED = "approved", "Approved"
    IN_PROGRESS = "in_progress", "In progress"
    REVIEW = "review", "In review"
    COMPLETED = "completed", "Completed"
    DENIED = "denied", "Denied"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


TERMINAL_STATUSES = frozenset({Status.COMPLETED, Status.DENIED, Status.CANCELLED, Status.EXPIRED})
OPEN_STATUSES = frozenset(set(Status) - TERMINAL_STATUSES)
# The same set in a fixed order, so the queue's filter matches its partial index exactly.
OPEN_STATUS_LIST = sorted(s.value for s in OPEN_STATUSES)


class RequesterType(models.TextChoices):
    SUBJECT = "subject", "The person the data is about"
    AGENT = "agent", "An authorized agent acting for them"


class DataSubjectRequest(models.Model):
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
    clock_started_on = models.DateField()
    due_on = models.DateField()
    extended_due_on = models.DateField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    acknowledge_by = models.DateField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True, help_text="identifiers removed after retention")
    notified_recipients = models.JSONField(default=list, blank=True, help_text="Art. 19 notifications")
    reminders_sent = models.JSONField(default=list, blank=True, help_text="deadline reminders sent")
    outcome = models.CharField(max_length=32, blank=True)
    denial_reason = models.TextField(blank=True)
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


class ConnectorAction(models.TextChoices):
    LOCATE = "locate", "Locate"
    EXPORT = "export", "Export"
    ERASE = "erase", "Erase"
    RECTIFY = "rectify", "Rectify"


def _all_actions() -> list[str]:
    return [a.value for a in ConnectorAction]


class SystemConnection(models.Model):
    """A connected system: which connector reaches it, how, and what it holds (for Art. 15)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(max_length=64, unique=True)
    connector = models.CharField(max_length=64, help_text="connector kind, e.g. postgres")
    config = models.JSONField(default=dict, blank=True)
    secrets = EncryptedJSONField(null=True, blank=True, help_text="encrypted at rest")
    enabled = models.BooleanField(default=True)
    actions = models.JSONField(default=_all_actions, help_text="which actions this system takes")
    identity_source = models.BooleanField(
        default=False, help_text="asked first; identifiers it finds are passed to the others"
    )
    max_attempts = models.PositiveSmallIntegerField(default=5)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Privacy metadata for the access response (GDPR Art. 15(1)).
    description = models.TextField(blank=True)
    purposes = models.JSONField(default=list, blank=True)
    data_categories = models.JSONField(default=list, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    retention = models.TextField(blank=True)
    source = models.TextField(blank=True)
    automated_decisions = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for the system or a person"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


TERMINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SKIPPED})


class ConnectorJob(models.Model):
    """One action for one request in one system; claimed, run, retried, never lost."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="jobs")
    system = models.ForeignKey(SystemConnection, on_delete=models.PROTECT, related_name="jobs")
    action = models.CharField(max_length=16, choices=ConnectorAction.choices)
    phase = models.PositiveSmallIntegerField(default=1, help_text="0: identity lookup first")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    found = models.IntegerField(null=True, blank=True)
    affected = models.IntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="counts and receipt; no identifiers")
    learned = EncryptedJSONField(null=True, blank=True, help_text="identifiers found (identity sources)")
    error = models.TextField(blank=True)
    export_file = models.CharField(max_length=255, blank=True)
    export_sha256 = models.CharField(max_length=64, blank=True)
    export_records = models.IntegerField(null=True, blank=True)
    callback_token_hash = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["phase", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "system", "action"], name="job_once_per_action")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="job_status_next"),
            models.Index(fields=["system", "status"], name="job_system_status"),
        ]

    def __str__(self) -> str:
        return f"{self.action} @ {self.system_id}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_JOB_STATUSES


class IntegrationToken(models.Model):
    """A trusted integration (the company's own site) filing pre-verified requests."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(max_length=64, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    auto_approve = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class ResultBundle(models.Model):
    """The access/portability ZIP, encrypted at rest, delivered through an expiring link."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="bundles")
    file = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0, help_text="size of the ZIP before encryption")
    sha256 = models.CharField(max_length=64, help_text="of the ZIP before encryption")
    manifest = models.JSONField(default=dict, help_text="counts and withholdings; no personal data")
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    downloads = models.PositiveIntegerField(default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def available(self) -> bool:
        return (
            self.released_at is not None
            and self.deleted_at is None
            and self.expires_at is not None
            and self.expires_at > timezone.now()
        )


class Withholding(models.Model):
    """Data kept out of the bundle: a category or one record, with the reason the person is told."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="withholdings")
    job = models.ForeignKey(ConnectorJob, on_delete=models.PROTECT, related_name="withholdings")
    category = models.CharField(max_length=100)
    record_index = models.PositiveIntegerField(null=True, blank=True, help_text="empty: the whole category")
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)


class ErasureGround(models.TextChoices):
    """GDPR Art. 17(3): why some data may be kept despite an erasure request."""

    EXPRESSION = "expression", "Art. 17(3)(a): freedom of expression and information"
    LEGAL_OBLIGATION = "legal_obligation", "Art. 17(3)(b): a legal obligation or a public task"
    PUBLIC_HEALTH = "public_health", "Art. 17(3)(c): public health"
    ARCHIVING = "archiving", "Art. 17(3)(d): archiving, research or statistics"
    LEGAL_CLAIMS = "legal_claims", "Art. 17(3)(e): legal claims"


class ErasureException(models.Model):
    """A system whose data is kept despite the erasure, on a recorded ground told to the person."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="exceptions")
    system = models.ForeignKey(SystemConnection, on_delete=models.PROTECT, related_name="+")
    ground = models.CharField(max_length=32, choices=ErasureGround.choices)
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "system"], name="one_exception_per_system")]


class Suppression(models.Model):
    """A keyed hash of an erased person's identifier, so re-imports and restores can skip them."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "digest"], name="suppress_once")]


class ApiToken(models.Model):
    """An officer's personal token for scripts (``Authorization: Token <key>``), stored hashed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)


class Note(models.Model):
    """An officer's internal note on a request (never shown to the person)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    # Officers write about the person here (a phone call, an ID document seen...): encrypted.
    text = EncryptedJSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class ReplyTemplate(models.Model):
    """Editable wording for answers (e.g. denial reasons), kept by administrators."""

    name = models.CharField(max_length=100, unique=True)
    purpose = models.CharField(max_length=16, choices=[("deny", "Denial"), ("extend", "Extension")])
    text = models.TextField()

    class Meta:
        ordering = ["purpose", "name"]

    def __str__(self) -> str:
        return self.name
