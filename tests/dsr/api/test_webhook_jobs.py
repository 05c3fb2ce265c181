"""The engine with a push (webhook) system, served for real on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from dsr.core.audit import Actor
from dsr.core.models import ConnectorJob, Status, SystemConnection
from dsr.engine import fanout
from tests.connectors.webhook_server import WebhookServer
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db
SECRET = "vendor-signing-secret"


@pytest.fixture
def vendor():
    with WebhookServer(SECRET) as server:
        yield server


@pytest.fixture
def webhook_system(vendor):
    return SystemConnection.objects.create(
        name="vendor",
        connector="webhook",
        config={"url": vendor.url, "send_identifiers": ["email"], "timeout": 2},
        secrets={"signing_secret": SECRET},
        max_attempts=3,
    )


@pytest.fixture
def approved(django_capture_on_commit_callbacks, settings):
    settings.DSR_RETRY_BASE_SECONDS = 0

    def approve(kind="erasure"):
        request = RequestFactory(
            kind=kind, status=Status.VERIFIED, identifiers={"email": "alice@example.com", "phone": "+1 555"}
        )
        with django_capture_on_commit_callbacks(execute=True):
            fanout.approve(request, actor=Actor.scheduler())
        request.refresh_from_db()
        return request

    return approve


def test_a_webhook_system_that_answers_at_once_completes_the_job(vendor, webhook_system, approved):
    vendor.answer((200, {"status": "completed", "affected": 2, "by_category": {"contacts": 2}}))
    request = approved()
    job = request.jobs.get()
    assert (job.status, job.affected) == ("succeeded", 2)
    assert request.status == Status.COMPLETED
    sent = vendor.last
    assert sent.signature_error is None
    assert sent.body["action"] == "erase"
    assert sent.body["identifiers"] == {"email": "alice@example.com"}  # not the phone
    assert sent.headers["idempotency-key"] == job.idempotency_key
    assert sent.body["callback_url"].endswith(f"/api/v1/systems/jobs/{job.pk}/result/")
    assert sent.body["deadline"].startswith((request.due_on - timedelta(days=7)).isoformat())


def test_an_accepted_job_waits_for_the_one_time_callback(
    api, vendor, webhook_system, approved, django_capture_on_commit_callbacks
):
    vendor.answer((202, {"status": "accepted"}))
    request = approved()
    job = request.jobs.get()
    assert job.status == "waiting"
    callback = vendor.last.body
    url = callback["callback_url"].split("localhost:8000", 1)[1]
    wrong = api.post(url, {"status": "completed"}, format="json", HTTP_AUTHORIZATION="Bearer guessed")
    assert wrong.status_code == 401
    body = {"status": "completed", "affected": 1}
    auth = {"HTTP_AUTHORIZATION": f"Bearer {callback['callback_token']}"}
    with django_capture_on_commit_callbacks(execute=True):
        done = api.post(url, body, format="json", **auth)
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    replay = api.post(url, body, format="json", **auth)
    assert replay.status_code == 401
    request.refresh_from_db()
    assert request.status == Status.COMPLETED


def _callback(vendor) -> tuple[str, dict]:
    body = vendor.last.body
    return body["callback_url"].split("localhost:8000", 1)[1], {"HTTP_AUTHORIZATION": f"Bearer {body['callback_token']}"}


def test_a_malformed_result_does_not_use_up_the_callback_token(
    api, vendor, webhook_system, approved, django_capture_on_commit_callbacks
):
    vendor.answer((202, {"status": "accepted"}))
    request = approved()
    url, auth = _callback(vendor)
    bad = api.post(url, {"status": "finished", "affected": -1}, format="json", **auth)
    assert bad.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        retry = api.post(url, {"status": "completed", "affected": 1}, format="json", **auth)
    assert retry.status_code == 200 and retry.json()["status"] == "succeeded"
    request.refresh_from_db()
    assert request.status == Status.COMPLETED


def test_a_callback_token_dies_with_the_requests_deadline(api, vendor, webhook_system, approved):
    vendor.answer((202, {"status": "accepted"}))
    request = approved()
    url, auth = _callback(vendor)
    after = timezone.make_aware(datetime.combine(request.effective_due_on + timedelta(days=1), time(9, 0)))
    with time_machine.travel(after, tick=False):
        late = api.post(url, {"status": "completed", "affected": 1}, format="json", **auth)
    assert late.status_code == 401
    assert request.jobs.get().status == "waiting"  # an officer sees it overdue and acts


def test_a_callback_token_opens_only_its_own_job(api, vendor, webhook_system, approved):
    vendor.answer((202, None))
    first = approved().jobs.get()
    first_token = vendor.last.body["callback_token"]
    request_b = RequestFactory(kind="erasure", status=Status.IN_PROGRESS)
    other = ConnectorJob.objects.create(
        request=request_b, system=webhook_system, action="erase", idempotency_key="other", status="waiting"
    )
    response = api.post(
        f"/api/v1/systems/jobs/{other.pk}/result/", {"status": "completed"}, format="json",
        HTTP_AUTHORIZATION=f"Bearer {first_token}",
    )
    assert response.status_code == 401
    other.refresh_from_db()
    first.refresh_from_db()
    assert other.status == "waiting" and first.status == "waiting"


def test_a_webhook_system_that_keeps_failing_is_retried_then_failed(vendor, webhook_system, approved):
    vendor.default = (500, {"error": "down"})
    request = approved()
    job = request.jobs.get()
    assert (job.status, job.attempts) == ("failed", 3)
    assert len(vendor.received) == 3
    assert {r.headers["idempotency-key"] for r in vendor.received} == {job.idempotency_key}
    assert request.status == Status.IN_PROGRESS


def test_a_webhook_signed_with_the_wrong_secret_is_refused_and_fails_permanently(
    vendor, webhook_system, approved
):
    webhook_system.secrets = {"signing_secret": "wrong"}
    webhook_system.save()
    request = approved()
    job = request.jobs.get()
    assert vendor.last.signature_error
    assert (job.status, job.attempts) == ("failed", 1)
    assert "401" in job.error
