"""Leave a fifth of each page of the requests table free (PostgreSQL only).

Many updates of a request touch no indexed column: the deadline sweep's markers, notes
of who was told, acknowledgements. With room on the page, PostgreSQL writes the new row
version beside the old one and leaves every index alone (a HOT update). On a page
filled to the brim, each such update writes a new entry in every index instead: the
deadline sweep's first pass over 1,000,000 requests spent most of its database time
there. Pages written from now on keep the room; existing ones are left as they are
until rewritten (VACUUM FULL or pg_repack), which an operator may do at a quiet hour.
"""

from django.db import migrations

TABLE = "dsr_datasubjectrequest"


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 80)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ("dsr", "0008_open_queue_index"),
    ]

    operations = [
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
