"""The audit trail at the desk: a request's events in words with their actors (the page and
``GET /api/v1/desk/requests/{id}/audit/``), and the auditor's page that checks the chain."""

from __future__ import annotations

import pytest
from django.db import connection

from dsr.core import audit
from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, ConnectorJob, Status, SystemConnection
from dsr.desk import actions
from dsr.engine import fanout
from tests.dsr.desk.users import issue_key, make_user
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def erased(django_capture_on_commit_callbacks):
    """An erasure approved by officer pat and run by the worker in a memory system holding 3 records."""
    SystemConnection.objects.create(name="billing", connector="memory", config={"records": [
        {"category": "invoices", "fields": {"email": "e@example.com", "n": i}} for i in range(3)]})
    pat = make_user("pat", "officer")
    request = RequestFactory(kind="erasure", status=Status.VERIFIED, identifiers={"email": "e@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.officer(pat))
    request.refresh_from_db()
    assert request.status == Status.COMPLETED
    return request, pat


def test_the_timeline_tells_who_did_what_in_words(client, desk_login, erased):
    request, pat = erased
    desk_login("officer", username="sam")
    actions.assign(request, pat, actor=Actor.officer(make_user("lee", "officer", device=False)))
    page = client.get(f"/desk/requests/{request.pk}/").content.decode()
    for sentence in ("pat approved the request.",
                     "The worker erased 3 records in billing.",
                     "The system completed the request.",
                     "lee assigned the request to pat."):
        assert sentence in page, sentence
    # The receipt is a table in words, not the job's JSON.
    assert '<th scope="row">Records affected</th><td>3</td>' in page
    assert '<th scope="row">invoices</th><td>3</td>' in page and "{&#x27;" not in page
    job = ConnectorJob.objects.get(request=request)
    event = AuditEvent.objects.get(request=request, verb="job.succeeded")
    assert (event.actor_type, event.actor_id, job.affected) == ("scheduler", "worker", 3)


def test_the_officer_api_gives_a_requests_audit_trail_in_words(api, erased):
    request, _ = erased
    make_user("reader", "auditor")
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_key('reader')}")
    for key in (request.pk, request.reference):  # the id or the reference
        lines = api.get(f"/api/v1/desk/requests/{key}/audit/").json()
        approved = next(line for line in lines if line["verb"] == "status.approved")
        assert (approved["actor"], approved["event"], approved["text"]) == (
            "pat", "Approved", "pat approved the request.")
        erased_line = next(line for line in lines if line["verb"] == "job.succeeded")
        assert erased_line["text"] == "The worker erased 3 records in billing."
        assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    assert api.get("/api/v1/desk/requests/DSR-0000-0000/audit/").status_code == 404


def test_an_event_the_wording_does_not_know_still_reads_plainly(client, desk_login):
    desk_login("officer")
    request = RequestFactory(status=Status.VERIFIED)
    audit.record("custom.thing_done", actor=Actor.scheduler(), request=request)
    assert "The system recorded custom thing done." in client.get(f"/desk/requests/{request.pk}/").content.decode()


def test_the_auditors_page_checks_the_chain_and_says_it_is_intact(client, desk_login, erased):
    desk_login("auditor")
    page = client.get("/desk/audit/").content.decode()
    count = AuditEvent.objects.count()
    assert f"The chain is intact:</strong> {count} events checked" in page
    assert "The worker erased 3 records in billing." in page
    assert erased[0].reference in page


@pytest.mark.skipif(connection.vendor != "postgresql", reason="tampering goes around PostgreSQL's trigger")
def test_the_auditors_page_names_the_first_tampered_event(client, desk_login, erased):
    desk_login("auditor")
    victim = AuditEvent.objects.get(request=erased[0], verb="job.succeeded")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE dsr_auditevent SET details = %s WHERE seq = %s", ['{"affected": 0}', victim.seq])
    page = client.get("/desk/audit/").content.decode()
    assert "The chain is broken." in page and f"The first bad event is #{victim.seq}." in page
    assert "content does not match its hash" in page
