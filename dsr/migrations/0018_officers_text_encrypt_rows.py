"""Officers' and systems' words about the person are encrypted at rest (2/2: the rows).

Encrypts in place what 0017's columns already held in clear, and decrypts it again on the
way back (before 0017 turns the JSON columns back into jsonb).
"""

import json

from django.db import migrations

from dsr.core import crypto

TEXTS = [
    ("dsr_datasubjectrequest", "denial_reason"),
    ("dsr_datasubjectrequest", "extension_reason"),
    ("dsr_connectorjob", "error"),
    ("dsr_erasureexception", "reason"),
    ("dsr_withholding", "category"),
    ("dsr_withholding", "reason"),
    ("dsr_recipientnotice", "note"),
]
JSONS = [
    ("dsr_connectorjob", "result"),
    ("dsr_resultbundle", "manifest"),
]


def _rewrite(schema_editor, table: str, column: str, change) -> None:
    quote = schema_editor.quote_name
    select = f"SELECT id, {quote(column)} FROM {quote(table)}"  # nosec B608: names from the lists above
    update = f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s"  # nosec B608: likewise; values bound
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(select)
        for row_id, value in cursor.fetchall():
            if value:  # empty stays empty, as the field writes it
                cursor.execute(update, [change(value), row_id])


def encrypt(apps, schema_editor) -> None:
    for table, column in TEXTS:
        _rewrite(schema_editor, table, column, crypto.encrypt_text)
    for table, column in JSONS:
        _rewrite(schema_editor, table, column, lambda raw: crypto.encrypt_json(json.loads(raw)))


def decrypt(apps, schema_editor) -> None:
    for table, column in TEXTS:
        _rewrite(schema_editor, table, column, crypto.decrypt_text)
    for table, column in JSONS:
        _rewrite(schema_editor, table, column,
                 lambda token: json.dumps(crypto.decrypt_json(token), ensure_ascii=False))


class Migration(migrations.Migration):
    dependencies = [("dsr", "0017_officers_text_encrypted")]

    operations = [migrations.RunPython(encrypt, decrypt)]
