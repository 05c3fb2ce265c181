"""What requests leave behind: bundles, withheld records, erasure exceptions, notices, suppression."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..fields import EncryptedJSONField, EncryptedTextField
from .requests import DataSubjectRequest
from .systems import ConnectorJob, SystemConnection


class ResultBundle(models.Model):
    """The access/portability ZIP, encrypted at rest, delivered through an expiring link."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="bundles")
    file = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0, help_text="size of the ZIP before encryption")
    sha256 = models.CharField(max_length=64, help_text="of the ZIP before encryption")
    manifest = EncryptedJSONField(default=dict, help_text="counts and withholdings with their reasons; no records")
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
    category = EncryptedTextField()
    record_index = models.PositiveIntegerField(null=True, blank=True, help_text="empty: the whole category")
    reason = EncryptedTextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)


class ErasureGround(models.TextChoices):
    """Why some data may be kept despite an erasure request (GDPR Art. 17(3) and its likes).

    Each regime's own provision for a ground is in ``dsr.core.law`` (``Law.grounds``).
    """

    EXPRESSION = "expression", _("freedom of expression and information")
    LEGAL_OBLIGATION = "legal_obligation", _("a legal obligation or a public task")
    PUBLIC_HEALTH = "public_health", _("public health")
    ARCHIVING = "archiving", _("archiving, research or statistics")
    LEGAL_CLAIMS = "legal_claims", _("legal claims")


class ErasureException(models.Model):
    """A system whose data is kept despite the erasure, on a recorded ground told to the person."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="exceptions")
    system = models.ForeignKey(SystemConnection, on_delete=models.PROTECT, related_name="+")
    ground = models.CharField(max_length=32, choices=ErasureGround.choices)
    reason = EncryptedTextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "system"], name="one_exception_per_system")]


class NoticeWay(models.TextChoices):
    EMAIL = "email", "by email, sent by a task"
    SYSTEM = "system", "by its own connected system's job"
    MANUAL = "manual", "by the privacy team"


class NoticeStatus(models.TextChoices):
    TO_DO = "to_do", "Not yet told: a task for the privacy team"
    SENDING = "sending", "Not yet told: the email is on its way"
    DONE = "done", "Told"


class RecipientNotice(models.Model):
    """Telling one recipient of a system's data about an erasure or a correction (GDPR Art. 19).

    Only ``done`` means told; the texts say "we told X on <done_at>" for those and "we will
    tell X" for the others. Moves between statuses: ``dsr.results.notices``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="notices")
    system = models.ForeignKey(
        SystemConnection, null=True, on_delete=models.SET_NULL, related_name="+",
        help_text="the system whose data they received",
    )
    name = models.CharField(max_length=200)
    way = models.CharField(max_length=8, choices=NoticeWay.choices)
    address = models.EmailField(blank=True, help_text="the recipient's own address, for way=email")
    target = models.CharField(max_length=64, blank=True, help_text="the connected system, for way=system")
    status = models.CharField(max_length=8, choices=NoticeStatus.choices, default=NoticeStatus.TO_DO)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = EncryptedTextField(blank=True, help_text="how they were told")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["request", "name"], name="notice_once_per_recipient")]

    @property
    def told(self) -> bool:
        return self.status == NoticeStatus.DONE


class Suppression(models.Model):
    """A keyed hash of an erased person's identifier, so re-imports and restores can skip them."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "digest"], name="suppress_once")]
