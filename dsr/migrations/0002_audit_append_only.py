"""PostgreSQL itself refuses to change or delete an audit event.

Only PostgreSQL (production): TRUNCATE, which tests use to reset tables, does not
fire row triggers there, whereas SQLite's flush deletes row by row. On SQLite the
model refuses updates and deletes, and verify_audit catches anything else.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION dsr_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER dsr_auditevent_append_only
  BEFORE UPDATE OR DELETE ON dsr_auditevent
  FOR EACH ROW EXECUTE FUNCTION dsr_audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS dsr_auditevent_append_only ON dsr_auditevent;
DROP FUNCTION IF EXISTS dsr_audit_append_only();
"""

def _run(statements_for):
    def run(apps, schema_editor):
        for sql in statements_for.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("dsr", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": [POSTGRES_UP]}),
            _run({"postgresql": [POSTGRES_DOWN]}),
        )
    ]
