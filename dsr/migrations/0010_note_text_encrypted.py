"""Officers' notes are encrypted at rest like the rest of a person's data.

The column stays text; existing notes are encrypted in place (and decrypted again on
the way back).
"""

from django.db import migrations

import dsr.core.fields
from dsr.core import crypto


def _rewrite(apps, schema_editor, change) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, text FROM dsr_note")
        for note_id, text in cursor.fetchall():
            cursor.execute("UPDATE dsr_note SET text = %s WHERE id = %s", [change(text), note_id])


def encrypt(apps, schema_editor) -> None:
    _rewrite(apps, schema_editor, crypto.encrypt_json)


def decrypt(apps, schema_editor) -> None:
    _rewrite(apps, schema_editor, crypto.decrypt_json)


class Migration(migrations.Migration):
    dependencies = [("dsr", "0009_request_fillfactor")]

    operations = [
        migrations.AlterField(
            model_name="note",
            name="text",
            field=dsr.core.fields.EncryptedJSONField(),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
