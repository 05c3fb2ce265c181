"""Model fields that keep personal data encrypted at rest."""

from __future__ import annotations

from typing import Any

from django.db import models

from dsr.core import crypto


class EncryptedJSONField(models.TextField):
    """JSON stored as AES-GCM ciphertext (base64 text); decrypted on load.

    The database, its backups and its logs only ever see ciphertext. Lookups
    by value are impossible by design: search through a keyed hash column.
    """

    description = "JSON encrypted at rest"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return crypto.decrypt_json(value)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return crypto.encrypt_json(value)

    def value_to_string(self, obj: Any) -> str:
        return "<encrypted>"


class EncryptedTextField(models.TextField):
    """Free text stored as AES-GCM ciphertext (base64 text); decrypted on load.

    An empty text stays empty, so a blank field and a purged one read as "" in the
    database too, and ``field=""`` still finds them; any other lookup by value is
    impossible by design (each encryption has its own nonce).
    """

    description = "Text encrypted at rest"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return crypto.decrypt_text(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt_text(value)

    def value_to_string(self, obj: Any) -> str:
        return "<encrypted>"
