"""Connected systems, their jobs per (request, system, action), and integration tokens."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from ..fields import EncryptedJSONField, EncryptedTextField
from ..recipients import validate as validate_recipients
from ..transfers import validate as validate_transfers
from ..transfers import validate_country
from .requests import DataSubjectRequest


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
    # Privacy metadata for the access response (GDPR Art. 15(1) and (2)). What is not given
    # (empty, or None where empty means "none") is told to the person as being checked.
    public_name = models.CharField(max_length=100, blank=True, help_text="the name a person reads, e.g. Our web shop")
    description = models.TextField(blank=True)
    purposes = models.JSONField(default=list, blank=True)
    data_categories = models.JSONField(default=list, blank=True)
    recipients = models.JSONField(
        null=True, blank=True, default=None, validators=[validate_recipients],
        help_text="who receives this data and how they are told of a change (dsr/core/recipients.py); "
        "[] for no one, empty for not yet stated",
    )
    retention = models.TextField(blank=True)
    source = models.TextField(blank=True)
    automated_decisions = models.TextField(blank=True, help_text="say so in words where there are none")
    country = models.CharField(max_length=2, blank=True, validators=[validate_country],
                               help_text="where the system keeps the data (ISO 3166 alpha-2)")
    transfers = models.JSONField(
        null=True, blank=True, default=None, validators=[validate_transfers],
        help_text="every other country the data goes to, with its safeguard (dsr/core/transfers.py); "
        "[] for none, empty for not yet stated",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def shown_name(self) -> str:
        """What a person reads: the plain name, else the description; the internal name last."""
        return self.public_name or self.description or self.name


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
    result = EncryptedJSONField(
        default=dict, blank=True, help_text="counts, the receipt, why it waits or was skipped or kept"
    )
    learned = EncryptedJSONField(null=True, blank=True, help_text="identifiers found (identity sources)")
    error = EncryptedTextField(blank=True, help_text="what went wrong, in the system's or an officer's words")
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
