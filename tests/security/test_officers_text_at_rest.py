"""What officers and systems write about the person is encrypted at rest and purged with them.

Denial and extension reasons, job errors and results (a receipt's note, a skip or waiting
reason, an exception's reason), exception and withholding reasons, withheld categories,
recipients' notes and bundle manifests: the raw column (plain SQL, not the models) never
holds the words, the app reads them back, and the retention purge empties them, so the
desk API no longer returns them. Migrations 0017/0018 encrypt rows that were in clear.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from dsr.core.models import (
    ApiToken,
    ConnectorJob,
    DataSubjectRequest,
    ErasureException,
    RecipientNotice,
    ResultBundle,
    Status,
    SystemConnection,
    Withholding,
)
from dsr.desk.auth import token_hash
from dsr.results import retention
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

# One word per field, so a failure names the field that leaked.
WORDS = {
    ("dsr_datasubjectrequest", "denial_reason"): "Denialword Quimby's passport was expired",
    ("dsr_datasubjectrequest", "extension_reason"): "Extensionword Quimby sent 40 boxes",
    ("dsr_connectorjob", "error"): "Errorword quimby@example.net bounced",
    ("dsr_connectorjob", "result"): "Receiptword Quimby's account 7781 closed",
    ("dsr_erasureexception", "reason"): "Exceptionword Quimby owes an invoice",
    ("dsr_withholding", "category"): "Categoryword complaints about Quimby",
    ("dsr_withholding", "reason"): "Withheldword names Quimby's neighbour",
    ("dsr_recipientnotice", "note"): "Noticeword phoned Acme about Quimby",
    ("dsr_resultbundle", "manifest"): "Manifestword Quimby's neighbour",
}


def word(table: str, column: str) -> str:
    return WORDS[(table, column)]


def raw(table: str, column: str) -> list[str]:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CAST({quote(column)} AS TEXT) FROM {quote(table)}")  # names from WORDS
        return [value for (value,) in cursor.fetchall() if value is not None]


@pytest.fixture
def written() -> DataSubjectRequest:
    """A closed request with every kind of officer's or system's words about the person."""
    request = RequestFactory(kind="erasure", status=Status.DENIED, identifiers={"email": "quimby@example.net"},
                             denial_reason=word("dsr_datasubjectrequest", "denial_reason"),
                             extension_reason=word("dsr_datasubjectrequest", "extension_reason"))
    shop = SystemConnection.objects.create(name="shop", connector="manual")
    crm = SystemConnection.objects.create(name="crm", connector="manual")
    job = ConnectorJob.objects.create(
        request=request, system=shop, action="erase", idempotency_key=f"{request.pk}:shop",
        status="succeeded", error=word("dsr_connectorjob", "error"),
        result={"receipt": {"action": "erase", "affected": 2, "by_category": {"orders": 2},
                            "detail": {"mode": "remote", "note": word("dsr_connectorjob", "result"),
                                       "tables": {"orders": 2}}, "at": "2026-01-02T03:04:05+00:00"}},
    )
    skipped = ConnectorJob.objects.create(
        request=request, system=crm, action="erase", idempotency_key=f"{request.pk}:crm", status="skipped",
        result={"exception": "legal_claims", "reason": word("dsr_connectorjob", "result")},
    )
    ErasureException.objects.create(request=request, system=crm, ground="legal_claims",
                                    reason=word("dsr_erasureexception", "reason"))
    Withholding.objects.create(request=request, job=job, category=word("dsr_withholding", "category"),
                               reason=word("dsr_withholding", "reason"))
    RecipientNotice.objects.create(request=request, system=shop, name="Acme", way="manual", status="done",
                                   note=word("dsr_recipientnotice", "note"))
    ResultBundle.objects.create(request=request, file="x/bundle.zip.enc", sha256="0" * 64, manifest={
        "total_records": 2, "systems": [{"name": "shop", "records": {"orders": 2}}], "schema_version": 1,
        "withheld": [{"system": "shop", "category": "orders", "scope": "category",
                      "reason": word("dsr_resultbundle", "manifest")}]})
    assert skipped.result["reason"]
    return request


def api_body(request: DataSubjectRequest, officer) -> str:
    ApiToken.objects.get_or_create(user=officer, key_hash=token_hash("officer-key"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token officer-key")
    response = api.get(f"/api/v1/desk/requests/{request.pk}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(("table", "column"), list(WORDS))
def test_the_raw_column_holds_no_clear_text(written, table, column):
    cells = raw(table, column)
    assert cells, f"{table}.{column} holds nothing: the test wrote nothing there"
    leaked = [cell for cell in cells if "word" in cell.lower() or "quimby" in cell.lower()]
    assert not leaked, f"{table}.{column} in clear: {leaked}"


def test_the_app_reads_them_back(written, desk_login):
    request = DataSubjectRequest.objects.get(pk=written.pk)
    assert request.denial_reason == word("dsr_datasubjectrequest", "denial_reason")
    assert request.extension_reason == word("dsr_datasubjectrequest", "extension_reason")
    job = request.jobs.get(system__name="shop")
    assert job.error == word("dsr_connectorjob", "error")
    assert job.result["receipt"]["detail"]["note"] == word("dsr_connectorjob", "result")
    assert request.exceptions.get().reason == word("dsr_erasureexception", "reason")
    withheld = request.withholdings.get()
    assert (withheld.category, withheld.reason) == (word("dsr_withholding", "category"),
                                                    word("dsr_withholding", "reason"))
    assert request.notices.get().note == word("dsr_recipientnotice", "note")
    assert request.bundles.get().manifest["withheld"][0]["reason"] == word("dsr_resultbundle", "manifest")
    # The desk API shows the officer the words, and the job's result as JSON, not as a string.
    body = api_body(request, desk_login("officer"))
    for key in [("dsr_datasubjectrequest", "denial_reason"), ("dsr_connectorjob", "error"),
                ("dsr_recipientnotice", "note")]:
        assert WORDS[key] in body
    assert '"receipt":{"action":"erase"' in body.replace(" ", "")


def test_the_purge_empties_them_and_the_api_no_longer_returns_them(written, desk_login):
    DataSubjectRequest.objects.filter(pk=written.pk).update(closed_at=timezone.now() - timedelta(days=900))
    assert retention.purge() == 1
    request = DataSubjectRequest.objects.get(pk=written.pk)
    assert (request.denial_reason, request.extension_reason, request.outcome) == ("", "", "")
    jobs = {job.system.name: job for job in request.jobs.select_related("system")}
    assert jobs["shop"].error == ""
    # Counts and codes stay, to show what was done (GDPR Art. 5(2)); the words go.
    assert jobs["shop"].result == {"receipt": {"action": "erase", "affected": 2, "by_category": {"orders": 2},
                                               "detail": {"tables": {"orders": 2}},
                                               "at": "2026-01-02T03:04:05+00:00"}}
    assert jobs["crm"].result == {"exception": "legal_claims"}
    exception = request.exceptions.get()
    assert (exception.ground, exception.reason) == ("legal_claims", "")
    withheld = request.withholdings.get()
    assert (withheld.category, withheld.reason) == ("", "")
    assert request.notices.get().note == ""
    bundle = request.bundles.get()
    assert bundle.manifest["withheld"] == [{"system": "shop", "scope": "category"}]
    assert bundle.manifest["total_records"] == 2 and bundle.file == ""
    assert request.audit_events.filter(verb="request.purged").exists()
    body = api_body(request, desk_login("officer"))
    for text in WORDS.values():
        assert text.split()[0] not in body and "Quimby" not in body and "quimby" not in body


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_rows_kept_in_clear_and_decrypts_them_on_the_way_back():
    before, after = [("dsr", "0016_status_revocations")], [("dsr", "0018_officers_text_encrypt_rows")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        template = RequestFactory.build()
        request = old.get_model("dsr", "DataSubjectRequest").objects.create(
            kind="access", regime="gdpr", status="denied", identifiers={}, email_hash="",
            clock_started_on=template.clock_started_on, due_on=template.due_on,
            denial_reason=word("dsr_datasubjectrequest", "denial_reason"),
            extension_reason=word("dsr_datasubjectrequest", "extension_reason"))
        system = old.get_model("dsr", "SystemConnection").objects.create(name="shop", connector="manual")
        old.get_model("dsr", "ConnectorJob").objects.create(
            request=request, system=system, action="erase", idempotency_key="k", status="skipped",
            result={"skipped": word("dsr_connectorjob", "result")}, error=word("dsr_connectorjob", "error"))
        assert raw("dsr_connectorjob", "error") == [word("dsr_connectorjob", "error")]  # in clear before

        MigrationExecutor(connection).migrate(after)
        for table, column in [("dsr_datasubjectrequest", "denial_reason"),
                              ("dsr_datasubjectrequest", "extension_reason"),
                              ("dsr_connectorjob", "result"), ("dsr_connectorjob", "error")]:
            assert not [c for c in raw(table, column) if "word" in c.lower()], f"{table}.{column} in clear"
        migrated = DataSubjectRequest.objects.get(pk=request.pk)
        assert migrated.denial_reason == word("dsr_datasubjectrequest", "denial_reason")
        assert migrated.extension_reason == word("dsr_datasubjectrequest", "extension_reason")
        job = migrated.jobs.get()
        assert (job.result, job.error) == ({"skipped": word("dsr_connectorjob", "result")},
                                           word("dsr_connectorjob", "error"))

        MigrationExecutor(connection).migrate(before)
        assert raw("dsr_datasubjectrequest", "denial_reason") == [word("dsr_datasubjectrequest", "denial_reason")]
        assert json.loads(raw("dsr_connectorjob", "result")[0]) == {"skipped": word("dsr_connectorjob", "result")}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
