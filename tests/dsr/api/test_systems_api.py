"""Connected systems talking to us: pulling and reporting jobs; trusted integrations filing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from connectors.memory import MemoryConnector
from dsr.core import storage
from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, ConnectorJob, DataSubjectRequest, Status, SystemConnection
from dsr.engine import fanout
from dsr.engine.connections import token_hash
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pull_system():
    system = SystemConnection.objects.create(
        name="billing", connector="pull", config={"send_identifiers": ["email"]}
    )
    system.token = "billing-token-" + "x" * 30
    SystemConnection.objects.filter(pk=system.pk).update(token_hash=token_hash(system.token))
    return system


@pytest.fixture
def other_system():
    system = SystemConnection.objects.create(name="warehouse", connector="pull")
    system.token = "warehouse-token-" + "y" * 30
    SystemConnection.objects.filter(pk=system.pk).update(token_hash=token_hash(system.token))
    return system


def approve(request, capture):
    with capture(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    return request


def auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_pull_system_lists_claims_and_reports_its_job(
    api, pull_system, django_capture_on_commit_callbacks
):
    request = approve(
        RequestFactory(
            kind="access", status=Status.VERIFIED,
            identifiers={"email": "alice@example.com", "phone": "+44 1234", "customer_id": "C1"},
        ),
        django_capture_on_commit_callbacks,
    )
    job = request.jobs.get()
    assert job.status == "waiting"
    listing = api.get("/api/v1/systems/jobs/", **auth(pull_system.token))
    assert listing.status_code == 200
    [item] = listing.json()
    assert item["id"] == str(job.pk) and item["action"] == "export"
    assert item["identifiers"] == {"email": "alice@example.com"}  # only what it may see
    assert item["request_reference"] == request.reference
    claimed = api.post(f"/api/v1/systems/jobs/{job.pk}/claim/", **auth(pull_system.token))
    assert claimed.status_code == 200 and claimed.json()["claimed_at"]
    body = {"status": "completed", "records": [{"category": "invoices", "fields": {"total": "9.99"}}]}
    with django_capture_on_commit_callbacks(execute=True):
        result = api.post(
            f"/api/v1/systems/jobs/{job.pk}/result/", body, format="json", **auth(pull_system.token)
        )
    assert result.status_code == 200 and result.json()["status"] == "succeeded"
    job.refresh_from_db()
    request.refresh_from_db()
    assert job.export_records == 1
    assert list(storage.read_records(job.export_file)) == body["records"]
    assert request.status == Status.REVIEW
    event = AuditEvent.objects.get(request=request, verb="job.succeeded")
    assert (event.actor_type, event.actor_id) == ("system", "billing")
    again = api.post(f"/api/v1/systems/jobs/{job.pk}/result/", body, format="json", **auth(pull_system.token))
    assert again.status_code == 409


def test_a_system_token_never_opens_another_systems_job(
    api, pull_system, other_system, django_capture_on_commit_callbacks
):
    request = approve(RequestFactory(kind="erasure", status=Status.VERIFIED), django_capture_on_commit_callbacks)
    billing_job = request.jobs.get(system=pull_system)
    theirs = [j["id"] for j in api.get("/api/v1/systems/jobs/", **auth(other_system.token)).json()]
    assert str(billing_job.pk) not in theirs
    for path in ("claim", "result"):
        response = api.post(
            f"/api/v1/systems/jobs/{billing_job.pk}/{path}/", {"status": "completed"}, format="json",
            **auth(other_system.token),
        )
        assert response.status_code == 404, path
    billing_job.refresh_from_db()
    assert billing_job.status == "waiting"


def test_the_jobs_api_needs_a_valid_system_token(api, pull_system):
    assert api.get("/api/v1/systems/jobs/").status_code == 401
    assert api.get("/api/v1/systems/jobs/", **auth("nope")).status_code == 401
    assert api.get("/api/v1/systems/jobs/", HTTP_AUTHORIZATION="Token abc").status_code == 401
    SystemConnection.objects.filter(pk=pull_system.pk).update(enabled=False)
    assert api.get("/api/v1/systems/jobs/", **auth(pull_system.token)).status_code == 401


def test_a_claim_holds_for_its_lease_and_a_second_claim_gets_409(
    api, pull_system, django_capture_on_commit_callbacks, settings
):
    request = approve(RequestFactory(kind="erasure", status=Status.VERIFIED), django_capture_on_commit_callbacks)
    job = request.jobs.get()
    url = f"/api/v1/systems/jobs/{job.pk}/claim/"
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = api.post(url, **auth(pull_system.token))
        second = api.post(url, **auth(pull_system.token))
        assert first.status_code == 200
        assert second.status_code == 409 and second.json()["error"] == "claimed"
        clock.shift(timedelta(seconds=settings.DSR_JOB_LEASE_SECONDS + 1))  # the first claimer went away
        assert api.post(url, **auth(pull_system.token)).status_code == 200


def test_a_reported_failure_is_retried_then_shown(api, pull_system, django_capture_on_commit_callbacks, settings):
    settings.DSR_RETRY_BASE_SECONDS = 0
    SystemConnection.objects.filter(pk=pull_system.pk).update(max_attempts=2)
    request = approve(RequestFactory(kind="erasure", status=Status.VERIFIED), django_capture_on_commit_callbacks)
    job = request.jobs.get()
    for expected in ("waiting", "failed"):
        with django_capture_on_commit_callbacks(execute=True):
            api.post(
                f"/api/v1/systems/jobs/{job.pk}/result/",
                {"status": "failed", "error": "database locked"}, format="json", **auth(pull_system.token),
            )
        job.refresh_from_db()
        assert job.status == expected
    assert job.error == "database locked"
    request.refresh_from_db()
    assert request.status == Status.IN_PROGRESS


def test_a_malformed_result_is_a_400(api, pull_system, django_capture_on_commit_callbacks):
    request = approve(RequestFactory(kind="erasure", status=Status.VERIFIED), django_capture_on_commit_callbacks)
    job = request.jobs.get()
    for body in [{"status": "done"}, {"status": "completed", "affected": -1}, {"status": "completed", "records": "x"}]:
        response = api.post(f"/api/v1/systems/jobs/{job.pk}/result/", body, format="json", **auth(pull_system.token))
        assert response.status_code == 400, body
        assert response.json()["error"] == "invalid"
    assert api.post("/api/v1/systems/jobs/not-a-uuid/result/", {}, format="json").status_code == 404


def test_a_manual_task_waits_until_someone_reports_it(django_capture_on_commit_callbacks):
    SystemConnection.objects.create(name="paper-archive", connector="manual",
                                    config={"instructions": "Shred the paper file"})
    request = approve(RequestFactory(kind="erasure", status=Status.VERIFIED), django_capture_on_commit_callbacks)
    job = request.jobs.get()
    assert job.status == "waiting" and job.result == {"waiting": "Shred the paper file"}
    with django_capture_on_commit_callbacks(execute=True):
        call_command("complete_task", str(job.pk), "--note", "shredded 2 folders", "--affected", "2",
                     "--officer", "records-clerk")
    job.refresh_from_db()
    request.refresh_from_db()
    assert (job.status, job.affected) == ("succeeded", 2)
    assert job.result["receipt"]["detail"]["note"] == "shredded 2 folders"
    assert request.status == Status.COMPLETED


# --- trusted integrations --------------------------------------------------------------


def test_a_trusted_integration_files_a_verified_auto_approved_request(
    api, django_capture_on_commit_callbacks, capsys
):
    SystemConnection.objects.create(
        name="crm", connector="memory",
        config={"records": [{"category": "profile", "fields": {"email": "dee@example.com"}}]},
    )
    MemoryConnector.reset()
    call_command("issue_integration_token", "website")
    token = capsys.readouterr().out.strip()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/requests/", {"kind": "erasure", "email": "dee@example.com", "country": "DE"},
            format="json", **auth(token),
        )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "in_progress" and "code" not in body["next_step"]  # no code was emailed
    request = DataSubjectRequest.objects.get(reference=body["reference"])
    assert request.status == Status.COMPLETED
    assert request.verified_at is not None and request.acknowledged_at is not None
    event = AuditEvent.objects.get(request=request, verb="status.verified")
    assert (event.actor_id, event.details["method"]) == ("integration:website", "trusted_integration")
    assert MemoryConnector(name="crm").store == []
    MemoryConnector.reset()
    # The 201 carries the status token: the integration follows the request without the email.
    followed = api.get(f"/api/v1/requests/{body['reference']}/", HTTP_AUTHORIZATION=f"Bearer {body['status_token']}")
    assert followed.status_code == 200 and followed.json()["status"] == "completed"


def test_an_integration_filing_twice_for_one_person_gets_one_request_worked(
    api, django_capture_on_commit_callbacks, capsys
):
    SystemConnection.objects.create(name="paper-archive", connector="manual", config={"instructions": "Find it"})
    call_command("issue_integration_token", "website")
    token = capsys.readouterr().out.strip()
    body = {"kind": "access", "email": "dee@example.com", "country": "DE"}

    def file() -> DataSubjectRequest:
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("/api/v1/requests/", body, format="json", **auth(token))
        assert response.status_code == 201
        return DataSubjectRequest.objects.get(reference=response.json()["reference"])

    first = file()
    assert first.status == Status.IN_PROGRESS  # the manual task waits
    second = file()
    assert (second.status, second.outcome, second.duplicate_of) == (Status.CANCELLED, "duplicate", first)
    assert second.jobs.count() == 0
    DataSubjectRequest.objects.filter(pk=first.pk).update(status=Status.COMPLETED)
    third = file()
    assert third.status == Status.IN_PROGRESS and third.duplicate_of is None and third.jobs.count() == 1


def test_only_an_integrations_filing_answers_with_the_status_token(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/requests/", {"kind": "erasure", "email": "pub@example.com", "country": "DE"},
                            format="json")
    assert response.status_code == 201 and response.json()["status_token"] is None


def test_a_wrong_integration_token_is_refused(api):
    response = api.post(
        "/api/v1/requests/", {"kind": "erasure", "email": "dee@example.com", "country": "DE"},
        format="json", **auth("forged"),
    )
    assert response.status_code == 401
    assert not DataSubjectRequest.objects.exists()


def test_a_subjects_status_token_does_not_open_the_jobs_api(api, verified_request, pull_system):
    _, verified = verified_request()
    assert api.get("/api/v1/systems/jobs/", **auth(verified["status_token"])).status_code == 401


def test_a_system_token_for_a_job_id_of_a_nonexistent_job_is_a_404(api, pull_system):
    import uuid

    response = api.post(f"/api/v1/systems/jobs/{uuid.uuid4()}/claim/", **auth(pull_system.token))
    assert response.status_code == 404
    assert ConnectorJob.objects.count() == 0


def test_officers_hear_of_jobs_still_waiting_as_the_due_date_nears(django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.core import mail
    from django.utils import timezone

    from dsr.core.roles import Role, grant
    from dsr.engine.recovery import escalate_waiting

    grant(get_user_model().objects.create_user("pat", "pat@corp.example", "x"), Role.OFFICER)
    grant(get_user_model().objects.create_user("aud", "aud@corp.example", "x"), Role.AUDITOR)  # reads only
    get_user_model().objects.create_user("clerk", "clerk@corp.example", "x", is_staff=True)  # no desk role
    SystemConnection.objects.create(name="paper-archive", connector="manual")
    soon = approve(RequestFactory(kind="erasure", status=Status.VERIFIED), django_capture_on_commit_callbacks)
    later = approve(RequestFactory(kind="access", status=Status.VERIFIED), django_capture_on_commit_callbacks)
    today = timezone.localdate()
    DataSubjectRequest.objects.filter(pk=soon.pk).update(due_on=today + timedelta(days=3))
    DataSubjectRequest.objects.filter(pk=later.pk).update(due_on=today + timedelta(days=20))
    mail.outbox.clear()
    assert escalate_waiting() == 1
    [message] = mail.outbox
    assert message.to == ["pat@corp.example"]
    assert soon.reference in message.body and later.reference not in message.body
    assert AuditEvent.objects.filter(request=soon, verb="job.escalated").count() == 1
    assert escalate_waiting() == 0  # not again the same day


def test_a_manual_access_task_can_attach_a_found_document(tmp_path, django_capture_on_commit_callbacks):
    import base64

    SystemConnection.objects.create(name="paper-archive", connector="manual")
    request = approve(RequestFactory(kind="access", status=Status.VERIFIED), django_capture_on_commit_callbacks)
    job = request.jobs.get()
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(b"%PDF-1.4 a scanned letter")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("complete_task", str(job.pk), "--note", "found one letter", "--officer", "pat",
                     "--file", str(letter))
    job.refresh_from_db()
    [record] = list(storage.read_records(job.export_file))
    assert record["category"] == "documents"
    assert record["fields"]["filename"] == "letter.pdf"
    assert record["fields"]["content_type"] == "application/pdf"
    assert base64.b64decode(record["fields"]["content_base64"]) == b"%PDF-1.4 a scanned letter"
    request.refresh_from_db()
    assert request.status == Status.REVIEW
