"""Connected systems as code (load_systems) and their health table (check_systems)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from dsr.core.models import SystemConnection

pytestmark = pytest.mark.django_db

SYSTEMS = """
systems:
  - name: crm
    connector: memory
    description: Customer relationship management
    purposes: [customer service]
    data_categories: [contact details]
    recipients: [Support outsourcing Ltd (UK)]
    retention: 3 years after the last order
    source: the person
    config:
      records: []
    secrets:
      api_key: ${CRM_API_KEY}
  - name: paper
    connector: manual
    actions: [erase]
    config:
      instructions: Shred the paper file
"""


def write(tmp_path, text):
    path = tmp_path / "systems.yaml"
    path.write_text(text)
    return str(path)


def test_load_systems_creates_then_updates_idempotently(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CRM_API_KEY", "s3cret-value")
    path = write(tmp_path, SYSTEMS)
    call_command("load_systems", path)
    assert "created: crm, paper" in capsys.readouterr().out
    crm = SystemConnection.objects.get(name="crm")
    assert crm.secrets == {"api_key": "s3cret-value"}
    assert crm.recipients == ["Support outsourcing Ltd (UK)"]
    assert SystemConnection.objects.get(name="paper").actions == ["erase"]
    call_command("load_systems", path)
    assert "unchanged: crm, paper" in capsys.readouterr().out
    write(tmp_path, SYSTEMS.replace("3 years", "5 years"))
    call_command("load_systems", path)
    assert "updated: crm" in capsys.readouterr().out
    assert SystemConnection.objects.get(name="crm").retention.startswith("5 years")


def test_secrets_are_encrypted_at_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_API_KEY", "s3cret-value")
    call_command("load_systems", write(tmp_path, SYSTEMS))
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM dsr_systemconnection WHERE name = 'crm'")
        raw = cursor.fetchone()[0]
    assert "s3cret" not in raw


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SYSTEMS.replace("${CRM_API_KEY}", "inline-secret"), "must be an environment reference"),
        (SYSTEMS, "refers to ${CRM_API_KEY}, which is not set"),
        (SYSTEMS.replace("connector: memory", "connector: cobol"), "unknown connector 'cobol'"),
        (SYSTEMS.replace("actions: [erase]", "actions: [shred]"), "actions must be a list"),
        (SYSTEMS.replace("records: []", "records: 7"), "records must be a list"),
        (SYSTEMS.replace("name: paper", "name: crm"), "must be a unique slug"),
        (SYSTEMS.replace("retention:", "retension:"), "unknown field(s) retension"),
        ("systems: [", "not valid YAML"),
        ("- just a list", "must be a mapping with a 'systems' list"),
    ],
)
def test_a_bad_systems_file_is_refused_with_a_clear_message(tmp_path, monkeypatch, text, message):
    if "refers to" not in message:
        monkeypatch.setenv("CRM_API_KEY", "x")
    else:
        monkeypatch.delenv("CRM_API_KEY", raising=False)
    with pytest.raises(CommandError) as excinfo:
        call_command("load_systems", write(tmp_path, text))
    assert message in str(excinfo.value)
    assert not SystemConnection.objects.exists()


def test_check_systems_prints_a_table_and_fails_when_one_is_broken(capsys):
    SystemConnection.objects.create(name="crm", connector="memory")
    SystemConnection.objects.create(name="legacy", connector="cobol")
    with pytest.raises(CommandError, match="1 of 2 systems failed: legacy"):
        call_command("check_systems")
    out = capsys.readouterr().out
    assert "crm" in out and "ok" in out
    assert "legacy" in out and "unknown connector 'cobol'" in out


def test_check_systems_passes_when_all_answer(capsys):
    SystemConnection.objects.create(name="crm", connector="memory")
    call_command("check_systems")
    assert "crm" in capsys.readouterr().out


def test_the_connectors_command_lists_the_kinds(capsys):
    call_command("connectors")
    out = capsys.readouterr().out
    for key in ("postgres", "mysql", "django", "redis", "webhook", "pull", "manual", "memory"):
        assert key in out


PG_TABLES = {"tables": [{"table": "customer", "identifiers": {"email": "emial"}, "erase": {"mode": "delete"}}]}


def _postgres(name, dsn, config=PG_TABLES):
    return SystemConnection.objects.create(name=name, connector="postgres", config=config, secrets={"dsn": dsn})


def test_check_systems_names_a_missing_table_and_an_unreachable_database(capsys):
    _postgres("shop", "postgresql://postgres@127.0.0.1:5432/postgres")
    _postgres("offline", "postgresql://postgres@127.0.0.1:1/postgres")
    with pytest.raises(CommandError, match="2 of 2 systems failed"):
        call_command("check_systems")
    out = capsys.readouterr().out
    assert "system 'shop' (postgres): table customer does not exist" in out
    assert "system 'offline' (postgres): cannot connect to the database server" in out


@pytest.fixture
def scratch_table():
    """A committed table in the server's maintenance database, dropped afterwards."""
    import uuid

    import psycopg

    name = f"dsr_scratch_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(MAINTENANCE_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, email varchar(200))")
    yield name
    with psycopg.connect(MAINTENANCE_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


MAINTENANCE_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def test_a_wrong_column_fails_the_job_with_a_clear_message_not_the_worker(
    scratch_table, django_capture_on_commit_callbacks, capsys
):
    from dsr.core.audit import Actor
    from dsr.core.models import Status
    from dsr.engine import fanout
    from tests.factories import RequestFactory

    config = {"tables": [{"table": scratch_table, "identifiers": {"email": "emial"}, "erase": {"mode": "delete"}}]}
    _postgres("shop", MAINTENANCE_DSN, config)
    with pytest.raises(CommandError):
        call_command("check_systems")
    assert f"table {scratch_table} has no column emial" in capsys.readouterr().out
    request = RequestFactory(kind="erasure", status=Status.VERIFIED)
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    job = request.jobs.get()
    assert (job.status, job.attempts) == ("failed", 1)  # permanent: no pointless retries
    assert "emial" in job.error


TEMPLATED = """
systems:
  - name: newsletter
    template: mailchimp
    description: Newsletter audience
    config:
      dc: us21
      list_id: a1b2c3d4e5
      base_url: http://127.0.0.1:9/3.0
    secrets:
      api_key: ${MAILCHIMP_KEY}
  - name: analytics
    template: segment
    secrets:
      token: ${SEGMENT_TOKEN}
"""


def test_a_system_is_configured_from_a_template_with_its_base_url_and_the_templates_actions(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MAILCHIMP_KEY", "key-us21")
    monkeypatch.setenv("SEGMENT_TOKEN", "sgp_token")
    call_command("load_systems", write(tmp_path, TEMPLATED))
    assert "created: newsletter, analytics" in capsys.readouterr().out  # in file order
    newsletter = SystemConnection.objects.get(name="newsletter")
    assert newsletter.connector == "saas"
    assert newsletter.config == {"template": "mailchimp", "dc": "us21", "list_id": "a1b2c3d4e5",
                                 "base_url": "http://127.0.0.1:9/3.0"}
    assert newsletter.secrets == {"api_key": "key-us21"}
    assert newsletter.actions == ["locate", "export", "erase", "rectify"]
    assert SystemConnection.objects.get(name="analytics").actions == ["erase"]  # all Segment can do


@pytest.mark.parametrize(("entry", "message"), [
    ("template: no-such-vendor", "unknown SaaS template 'no-such-vendor'"),
    ("template: mailchimp\n    connector: postgres", "template must name a SaaS template, without a connector"),
    ("template: mailchimp\n    config: {list_id: x}", "dc"),  # a setting the template needs
])
def test_a_bad_template_entry_is_refused_with_a_clear_message(tmp_path, monkeypatch, entry, message):
    monkeypatch.setenv("MAILCHIMP_KEY", "key-us21")
    text = f"systems:\n  - name: newsletter\n    {entry}\n    secrets:\n      api_key: ${{MAILCHIMP_KEY}}\n"
    with pytest.raises(CommandError, match=message):
        call_command("load_systems", write(tmp_path, text))
    assert not SystemConnection.objects.exists()


def test_connectors_lists_every_template_one_per_line_name_first(capsys):
    call_command("connectors", "--templates")
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert {"stripe", "hubspot", "mailchimp", "zendesk", "segment", "intercom", "sendgrid", "klaviyo",
            "braze", "shopify", "salesforce", "auth0"} <= set(names)
    assert len(names) == len(set(names)) == len(lines)
    assert not [line for line in lines if "cannot load" in line]
