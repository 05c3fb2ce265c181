"""The officers' own records: personal API tokens, notes and reply templates."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ..fields import EncryptedJSONField
from .requests import DataSubjectRequest


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
    """Editable wording for answers (denial reasons, extensions, messages), kept by administrators."""

    name = models.CharField(max_length=100, unique=True)
    purpose = models.CharField(max_length=16, choices=[
        ("deny", "Denial"), ("extend", "Extension"), ("message", "Message to the person")])
    text = models.TextField()

    class Meta:
        ordering = ["purpose", "name"]

    def __str__(self) -> str:
        return self.name
