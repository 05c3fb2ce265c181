"""The public API: filing, verifying and following a request, and every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from dsr.core import deadlines
from dsr.core.models import AuditEvent, DataSubjectRequest, Status, Verification
from tests.conftest import code_from, last_code

pytestmark = pytest.mark.django_db


def test_filing_stores_the_request_and_emails_a_code(file_request):
    created = file_request()
    assert created["status"] == "awaiting_verification"
    assert created["reference"].startswith("DSR-") and len(created["reference"]) == 13
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    assert request.regime == "gdpr" and request.kind == "access"
    assert request.email == "alice@example.com"
    assert request.acknowledged_at is not None
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert created["reference"] in message.subject
    assert len(code_from(message)) == 6
    assert message.alternatives and message.alternatives[0][1] == "text/html"


def test_identifiers_are_encrypted_at_rest_and_codes_stored_hashed(file_request):
    created = file_request(name="Alice Liddell", phone="+49 30 1234567", details="my account at alice")
    code = last_code("alice@example.com")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM dsr_datasubjectrequest")
        request_row = " ".join(str(v) for v in cursor.fetchone())
        cursor.execute("SELECT * FROM dsr_verification")
        verification_row = " ".join(str(v) for v in cursor.fetchone())
        cursor.execute("SELECT details FROM dsr_auditevent")
        audit_rows = " ".join(str(r[0]) for r in cursor.fetchall())
    for secret in ["alice@example.com", "Alice Liddell", "1234567", "my account at alice"]:
        assert secret not in request_row
        assert secret not in audit_rows
    assert code not in verification_row
    assert created["reference"] in request_row


def test_the_code_verifies_and_returns_a_status_token(api, file_request):
    created = file_request()
    response = api.post(
        f"/api/v1/requests/{created['reference']}/verify/",
        {"code": last_code("alice@example.com")},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "verified"
    status = api.get(
        f"/api/v1/requests/{created['reference']}/",
        HTTP_AUTHORIZATION=f"Bearer {body['status_token']}",
    )
    assert status.status_code == 200
    assert status.json()["status"] == "verified"
    assert status.json()["reference"] == created["reference"]


def test_gdpr_clock_starts_at_verification(api, file_request):
    created = file_request()
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    # Received a week ago; verified today: the month runs from today.
    week_ago = timezone.localdate() - timedelta(days=7)
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        received_at=timezone.now() - timedelta(days=7),
        clock_started_on=week_ago,
        due_on=deadlines.due_date("gdpr", week_ago),
    )
    response = api.post(
        f"/api/v1/requests/{created['reference']}/verify/",
        {"code": last_code("alice@example.com")},
        format="json",
    )
    today = timezone.localdate()
    assert response.json()["due_on"] == deadlines.due_date("gdpr", today).isoformat()
    request.refresh_from_db()
    assert request.clock_started_on == today


def test_ccpa_clock_runs_from_receipt_whatever_verification_takes(api, file_request):
    created = file_request(country="US", state="CA", kind="erasure")
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    assert request.regime == "ccpa"
    received = timezone.localdate(request.received_at)
    assert request.due_on == deadlines.due_date("ccpa", received)
    assert request.acknowledge_by == deadlines.acknowledge_by("ccpa", received)
    api.post(
        f"/api/v1/requests/{created['reference']}/verify/",
        {"code": last_code("alice@example.com")},
        format="json",
    )
    request.refresh_from_db()
    assert request.status == Status.VERIFIED
    assert request.due_on == deadlines.due_date("ccpa", received)


@pytest.mark.parametrize(
    ("where", "regime"),
    [
        ({"country": "FR"}, "gdpr"),
        ({"country": "NO"}, "gdpr"),
        ({"country": "GB"}, "uk_gdpr"),
        ({"country": "US", "state": "VA"}, "vcdpa"),
        ({"country": "US", "state": "co"}, "cpa"),
        ({"country": "US", "state": "CT"}, "ctdpa"),
        ({"country": "US", "state": "UT"}, "ucpa"),
        ({"country": "BR"}, "lgpd"),
        ({"country": "CA"}, "pipeda"),
        ({"country": "JP"}, "gdpr"),  # the configured default
        ({"country": "US", "state": "TX", "regime": "ccpa"}, "ccpa"),  # explicit wins
    ],
)
def test_where_the_person_lives_picks_the_regime(file_request, where, regime):
    created = file_request(**where)
    assert created["regime"] == regime


def test_a_rectification_request_keeps_its_items(file_request):
    changes = [{"field": "postal address", "value": "1 New Street, Berlin"}]
    created = file_request(kind="rectification", changes=changes)
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    assert request.changes == changes


def test_an_authorized_agent_can_file_for_someone(file_request):
    agent = {"name": "Agent Smith", "email": "agent@agency.example", "organisation": "Agency"}
    created = file_request(requester_type="agent", agent=agent)
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    assert request.requester_type == "agent"
    assert request.agent == agent
    # The person confirms from their own address.
    assert mail.outbox[-1].to == ["alice@example.com"]
    event = AuditEvent.objects.get(request=request, verb="request.received")
    assert event.actor_type == "agent"


# --- bad input: a clear 4xx, never a 500 ---------------------------------------------


def _post(api, body, **extra):
    return api.post("/api/v1/requests/", body, format="json", **extra)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "telepathy", "email": "a@example.com", "country": "DE"}, "kind"),
        ({"kind": "access", "email": "not-an-email", "country": "DE"}, "email"),
        ({"kind": "access", "country": "DE"}, "email"),
        ({"kind": "access", "email": "a@example.com", "regime": "klingon"}, "regime"),
        ({"kind": "access", "email": "a@example.com", "country": "XX"}, "country"),
        ({"kind": "access", "email": "a@example.com", "country": "US"}, "state"),
        ({"kind": "access", "email": "a@example.com", "country": "US", "state": "ZZ"}, "state"),
        ({"kind": "access", "email": "a@example.com"}, "country"),
        ({"kind": "rectification", "email": "a@example.com", "country": "DE"}, "changes"),
        ({"kind": "access", "email": "a@example.com", "country": "DE", "details": "x" * 5001}, "details"),
        ({"kind": "access", "email": "a@example.com", "country": "DE", "requester_type": "agent"}, "agent"),
        ({"kind": "access", "email": "a@" + "b" * 300 + ".com", "country": "DE"}, "email"),
        ({"kind": ["access"], "email": "a@example.com", "country": "DE"}, "kind"),
        # A number where the schema asks for text is refused, not read as the text "0".
        (
            {"kind": "access", "email": "a@example.com", "country": "DE", "requester_type": "agent",
             "agent": {"name": 0, "email": "agent@example.com"}},
            "agent",
        ),
        ({"kind": "access", "email": "a@example.com", "country": "DE", "name": 0}, "name"),
        ({"kind": "access", "email": "a@example.com", "country": "DE", "details": 1.5}, "details"),
        (
            {"kind": "rectification", "email": "a@example.com", "country": "DE", "changes": "all"},
            "changes",
        ),
    ],
)
def test_invalid_fields_get_a_400_naming_the_field(api, body, field):
    response = _post(api, body)
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["error"] == "invalid"
    assert payload["detail"]
    assert field in payload["fields"], payload
    assert not DataSubjectRequest.objects.exists()


def test_malformed_json_is_a_400(api):
    response = api.post("/api/v1/requests/", '{"kind": "access",', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


def test_a_json_array_body_is_a_400(api):
    response = api.post("/api/v1/requests/", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


def test_bad_utf8_is_a_400(api):
    response = api.post("/api/v1/requests/", b'{"kind": "\xff\xfe"}', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


def test_a_form_encoded_body_is_refused_with_415(api):
    response = api.post("/api/v1/requests/", {"kind": "access"})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_an_oversized_body_is_a_413(api):
    body = '{"kind": "access", "details": "' + "x" * 300_000 + '"}'
    response = api.post("/api/v1/requests/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_unknown_api_paths_and_methods_answer_in_json(api):
    missing = api.get("/api/v1/nothing-here/")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong_method = api.delete("/api/v1/requests/")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"


# --- verification refusals -----------------------------------------------------------


def _verify(api, reference, **body):
    return api.post(f"/api/v1/requests/{reference}/verify/", body, format="json")


def test_a_wrong_code_is_refused_and_counted(api, file_request):
    created = file_request()
    right = last_code("alice@example.com")
    wrong = "000000" if right != "000000" else "111111"
    response = _verify(api, created["reference"], code=wrong)
    assert response.status_code == 400
    assert response.json()["error"] == "code_not_accepted"  # the same for every refusal
    assert Verification.objects.get().attempts == 1
    assert DataSubjectRequest.objects.get().status == Status.AWAITING_VERIFICATION


def test_five_wrong_codes_lock_the_code_even_against_the_right_one(api, file_request):
    created = file_request()
    right = last_code("alice@example.com")
    wrong = "000000" if right != "000000" else "111111"
    answers = [_verify(api, created["reference"], code=wrong).json()["error"] for _ in range(5)]
    assert answers == ["code_not_accepted"] * 5
    assert Verification.objects.get().attempts == 5
    locked = _verify(api, created["reference"], code=right)
    assert locked.status_code == 400
    assert locked.json()["error"] == "code_not_accepted"
    assert DataSubjectRequest.objects.get().status == Status.AWAITING_VERIFICATION


def test_an_expired_code_is_refused(api, file_request):
    created = file_request()
    Verification.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _verify(api, created["reference"], code=last_code("alice@example.com"))
    assert response.status_code == 400
    assert response.json()["error"] == "code_not_accepted"
    assert DataSubjectRequest.objects.get().status == Status.AWAITING_VERIFICATION


def test_a_used_code_cannot_be_used_again(api, file_request):
    created = file_request()
    code = last_code("alice@example.com")
    assert _verify(api, created["reference"], code=code).status_code == 200
    again = _verify(api, created["reference"], code=code)
    assert again.status_code == 400
    assert again.json()["error"] == "code_not_accepted"


def test_a_new_code_replaces_the_old_one(api, file_request, django_capture_on_commit_callbacks):
    created = file_request()
    old = last_code("alice@example.com")
    response = api.post(f"/api/v1/requests/{created['reference']}/resend/")
    assert response.status_code == 202
    new = last_code("alice@example.com")
    assert len(mail.outbox) == 2
    if old != new:
        assert _verify(api, created["reference"], code=old).json()["error"] == "code_not_accepted"
    assert _verify(api, created["reference"], code=new).status_code == 200


def test_resending_is_rate_limited(api, file_request):
    created = file_request()
    answers = [
        api.post(f"/api/v1/requests/{created['reference']}/resend/").status_code for _ in range(4)
    ]
    assert answers == [202, 202, 202, 429]
    assert len(mail.outbox) == 4  # the acknowledgement and three resends


def test_the_signed_link_verifies_once(api, file_request):
    created = file_request()
    token = _link_token(mail.outbox[-1].body)
    assert _verify(api, created["reference"], link_token=token).status_code == 200
    again = _verify(api, created["reference"], link_token=token)
    assert again.status_code == 400 and again.json()["error"] == "code_not_accepted"


def test_a_tampered_link_is_refused(api, file_request):
    created = file_request()
    token = _link_token(mail.outbox[-1].body)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = _verify(api, created["reference"], link_token=tampered)
    assert response.status_code == 400 and response.json()["error"] == "code_not_accepted"
    assert DataSubjectRequest.objects.get().status == Status.AWAITING_VERIFICATION


def test_an_expired_link_is_refused(api, file_request):
    created = file_request()
    token = _link_token(mail.outbox[-1].body)
    with override_settings(DSR_CODE_TTL_MINUTES=0):
        response = _verify(api, created["reference"], link_token=token)
    assert response.status_code == 400 and response.json()["error"] == "code_not_accepted"
    assert DataSubjectRequest.objects.get().status == Status.AWAITING_VERIFICATION


def test_one_requests_link_cannot_verify_another(api, file_request):
    first = file_request(email="alice@example.com")
    file_request(email="bob@example.com", kind="erasure")
    bob_token = _link_token(mail.outbox[-1].body)
    response = _verify(api, first["reference"], link_token=bob_token)
    assert response.status_code == 400 and response.json()["error"] == "code_not_accepted"
    assert DataSubjectRequest.objects.filter(status=Status.VERIFIED).count() == 0


def test_a_code_must_be_six_digits(api, file_request):
    created = file_request()
    for bad in ["12345", "abcdef", "1234567", ""]:
        response = _verify(api, created["reference"], code=bad)
        assert response.status_code == 400 and "code" in response.json()["fields"]
    assert Verification.objects.get().attempts == 0


def test_an_unknown_reference_is_a_404(api):
    response = _verify(api, "DSR-0000-0000", code="123456")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_verification_attempts_are_rate_limited_per_request_and_client(api, file_request):
    first = file_request()
    second = file_request(kind="erasure")  # same person, another request: its own budget
    with override_settings(DSR_RATE_VERIFY_PER_REQUEST="3/h", DSR_CODE_MAX_ATTEMPTS=50):
        answers = [_verify(api, first["reference"], code="999999").status_code for _ in range(4)]
        answers.append(_verify(api, second["reference"], code="999999").status_code)
    assert answers == [400, 400, 400, 429, 400]


def test_verification_attempts_are_rate_limited_per_ip(api, file_request):
    created = [file_request(email=f"p{i}@example.com") for i in range(3)]
    with override_settings(DSR_RATE_VERIFY_PER_IP="2/h"):
        answers = [_verify(api, c["reference"], code="999999").status_code for c in created]
    assert answers == [400, 400, 429]


def _link_token(body: str) -> str:
    import re

    match = re.search(r"/verify/([^/\s]+)/", body)
    assert match, body
    return match.group(1)


# --- status: one subject never reads another's request --------------------------------


def test_subject_a_cannot_read_subject_b_with_their_own_token(api, verified_request):
    _, alice = verified_request(email="alice@example.com")
    bob_created, _bob = verified_request(email="bob@example.com")
    response = api.get(
        f"/api/v1/requests/{bob_created['reference']}/",
        HTTP_AUTHORIZATION=f"Bearer {alice['status_token']}",
    )
    assert response.status_code == 404
    assert "bob" not in response.content.decode()


def test_status_needs_a_token_and_refuses_a_forged_one(api, verified_request):
    created, _ = verified_request()
    url = f"/api/v1/requests/{created['reference']}/"
    assert api.get(url).status_code == 401
    forged = api.get(url, HTTP_AUTHORIZATION="Bearer eyJyIjoiMSJ9:forged:signature")
    assert forged.status_code == 404
    unknown = api.get("/api/v1/requests/DSR-0000-0000/", HTTP_AUTHORIZATION="Bearer x")
    assert unknown.status_code == 404
    assert forged.json() == unknown.json()


def test_an_expired_status_token_is_refused(api, verified_request):
    created, verified = verified_request()
    with override_settings(DSR_STATUS_LINK_DAYS=0):
        # max_age 0 days: any token issued before now has expired.
        response = api.get(
            f"/api/v1/requests/{created['reference']}/", HTTP_AUTHORIZATION=f"Bearer {verified['status_token']}"
        )
    assert response.status_code == 404


def test_a_status_token_in_the_address_is_not_taken(api, verified_request):
    """Access logs keep addresses: the API takes the token from the Authorization header only."""
    created, verified = verified_request()
    response = api.get(f"/api/v1/requests/{created['reference']}/?token={verified['status_token']}")
    assert response.status_code == 401


# --- rate limits on filing ------------------------------------------------------------


def test_filing_is_rate_limited_per_email_and_client(api, django_capture_on_commit_callbacks):
    body = {"kind": "access", "email": "Flood@Example.com", "country": "DE"}
    with (
        override_settings(DSR_RATE_SUBMIT_PER_EMAIL="2/h"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        codes = [_post(api, {**body, "kind": k}).status_code for k in ["access", "erasure"]]
        codes.append(_post(api, {**body, "email": "flood@example.com "}).status_code)
        codes.append(_post(api, body, REMOTE_ADDR="10.9.8.7").status_code)  # another client
    assert codes == [201, 201, 429, 201]
    assert DataSubjectRequest.objects.count() == 3


def test_filing_is_rate_limited_per_ip(api, django_capture_on_commit_callbacks):
    with (
        override_settings(DSR_RATE_SUBMIT_PER_IP="3/h"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        codes = [
            _post(api, {"kind": "access", "email": f"p{i}@example.com", "country": "DE"}).status_code
            for i in range(4)
        ]
        other_ip = _post(
            api,
            {"kind": "access", "email": "q@example.com", "country": "DE"},
            REMOTE_ADDR="10.9.8.7",
        ).status_code
    assert codes == [201, 201, 201, 429]
    assert other_ip == 201
    assert _post(api, {"kind": "x"}).status_code == 400  # validation still answers first


# --- duplicates and expiry ------------------------------------------------------------


def test_a_second_open_request_of_the_same_kind_is_linked_and_closed(api, verified_request, file_request):
    first, _ = verified_request()
    second = file_request()
    duplicate = DataSubjectRequest.objects.get(reference=second["reference"])
    assert duplicate.duplicate_of.reference == first["reference"]
    assert first["reference"] in mail.outbox[-1].body
    response = _verify(api, second["reference"], code=last_code("alice@example.com"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["duplicate_of"] == first["reference"]
    assert first["reference"] in body["next_step"]
    assert DataSubjectRequest.objects.get(reference=first["reference"]).status == Status.VERIFIED


def test_a_request_of_another_kind_is_not_a_duplicate(verified_request, file_request):
    verified_request()
    other = file_request(kind="erasure")
    assert DataSubjectRequest.objects.get(reference=other["reference"]).duplicate_of is None


def test_unverified_requests_expire_with_an_audit_event(file_request):
    from dsr.intake.tasks import expire_unverified

    old = file_request()
    fresh = file_request(kind="erasure")
    DataSubjectRequest.objects.filter(reference=old["reference"]).update(
        received_at=timezone.now() - timedelta(days=15)
    )
    assert expire_unverified() == 1
    assert DataSubjectRequest.objects.get(reference=old["reference"]).status == Status.EXPIRED
    assert DataSubjectRequest.objects.get(reference=fresh["reference"]).status == Status.AWAITING_VERIFICATION
    event = AuditEvent.objects.filter(verb="status.expired").get()
    assert event.actor_type == "scheduler" and event.details["reason"] == "not verified"
    assert expire_unverified() == 0


def test_a_failing_mail_server_never_loses_the_request(api, django_capture_on_commit_callbacks):
    import smtplib

    from dsr.intake.tasks import resend_unacknowledged, send_verification

    body = {"kind": "access", "email": "alice@example.com", "country": "DE"}
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = _post(api, body)
    assert response.status_code == 201 and len(queued) == 1
    request = DataSubjectRequest.objects.get(reference=response.json()["reference"])
    # The task raises, so Celery retries it; the request is already safe in the database.
    with (
        override_settings(EMAIL_BACKEND="tests.dsr.failing_mail.Backend"),
        pytest.raises(smtplib.SMTPException),
    ):
        send_verification(str(request.pk))
    request.refresh_from_db()
    assert request.status == Status.AWAITING_VERIFICATION
    assert request.acknowledged_at is None
    assert mail.outbox == []
    # Should the retries run out, the sweep queues it again; the person then gets the code.
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        received_at=timezone.now() - timedelta(minutes=11)
    )
    assert resend_unacknowledged() == 1
    request.refresh_from_db()
    assert request.acknowledged_at is not None
    assert len(code_from(mail.outbox[-1])) == 6


def test_the_openapi_schema_and_docs_are_served(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/requests/" in paths
    assert "/api/v1/requests/{reference}/verify/" in paths
    docs = api.get("/api/docs/")
    assert docs.status_code == 200


def test_a_broker_outage_at_filing_still_answers_201_and_the_sweep_catches_up(
    api, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from dsr.intake import tasks as intake_tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to broker. Connection refused.")

    with monkeypatch.context() as patched:
        patched.setattr(intake_tasks.send_verification, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            response = _post(api, {"kind": "access", "email": "alice@example.com", "country": "DE"})
    assert response.status_code == 201
    request = DataSubjectRequest.objects.get(reference=response.json()["reference"])
    assert request.acknowledged_at is None and mail.outbox == []
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        received_at=timezone.now() - timedelta(minutes=11)
    )
    assert intake_tasks.resend_unacknowledged() == 1
    assert last_code("alice@example.com")
