"""The webhook connector against a real HTTP server that verifies every signature."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connectors.base import ConnectorError, Deferred, JobContext, LocateResult, Receipt, Subject
from connectors.signing import SIGNATURE_HEADER, SignatureError, sign, verify
from connectors.webhook import WebhookConnector

from .webhook_server import WebhookServer

SECRET = "whsec-test-1234"
BODY = b'{"action":"erase","identifiers":{"email":"alice@example.com"}}'


@pytest.fixture
def server():
    with WebhookServer(SECRET) as running:
        yield running


@pytest.fixture
def job() -> JobContext:
    return JobContext(
        job_id="job-42",
        idempotency_key="idem-42-erase",
        callback_url="https://dsr.example/api/v1/callbacks/job-42/",
        callback_token="cb-token",
        deadline=datetime(2026, 12, 24, 12, 0, tzinfo=UTC),
    )


@pytest.fixture
def alice() -> Subject:
    return Subject(
        "req-1", {"email": "alice@example.com", "phone": "+4915100000", "customer_id": "c-7"}
    )


def connector(server: WebhookServer, **config) -> WebhookConnector:
    return WebhookConnector(
        name="crm",
        config={"url": server.url, "send_identifiers": ["email"], **config},
        secrets={"signing_secret": SECRET},
    )


# -- signing ---------------------------------------------------------------------------


def test_a_signature_verifies_with_the_same_secret_and_body():
    now = int(time.time())
    verify(SECRET, sign(SECRET, now, BODY), BODY)


@pytest.mark.parametrize(
    ("header", "body", "reason"),
    [
        (lambda now: sign("another-secret", now, BODY), BODY, "does not match"),
        (lambda now: sign(SECRET, now, BODY), BODY.replace(b"alice", b"mallory"), "does not match"),
        (lambda now: None, BODY, "missing"),
        (lambda now: "v1=abc", BODY, "garbled"),
        (lambda now: "nonsense", BODY, "garbled"),
        (lambda now: sign(SECRET, now - 3600, BODY), BODY, "window"),
        (lambda now: sign(SECRET, now + 3600, BODY), BODY, "window"),
    ],
    ids=["wrong-secret", "tampered-body", "missing", "no-timestamp", "garbled", "old", "future"],
)
def test_it_refuses_a_call_it_cannot_trust(header, body, reason):
    now = int(time.time())
    with pytest.raises(SignatureError, match=reason):
        verify(SECRET, header(now), body)


def test_signature_error_is_a_value_error():
    assert issubclass(SignatureError, ValueError)


# -- what is sent ----------------------------------------------------------------------


def test_it_sends_only_the_configured_identifiers(server, job, alice):
    connector(server).erase(alice, job=job)

    received = server.last
    assert received.signature_error is None
    assert received.body["identifiers"] == {"email": "alice@example.com"}
    assert "+4915100000" not in received.raw.decode()
    assert "c-7" not in received.raw.decode()


def test_it_sends_the_job_context_and_the_idempotency_key(server, job, alice):
    connector(server).erase(alice, job=job)

    received = server.last
    assert received.headers["idempotency-key"] == "idem-42-erase"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == "dsr-handler"
    assert received.body == {
        "job_id": "job-42",
        "action": "erase",
        "idempotency_key": "idem-42-erase",
        "identifiers": {"email": "alice@example.com"},
        "callback_url": "https://dsr.example/api/v1/callbacks/job-42/",
        "callback_token": "cb-token",
        "deadline": "2026-12-24T12:00:00+00:00",
    }


def test_rectify_sends_the_changes(server, job, alice):
    connector(server).rectify(alice, {"last_name": "Smith"}, job=job)

    assert server.last.body["action"] == "rectify"
    assert server.last.body["changes"] == {"last_name": "Smith"}


def test_a_subject_without_the_configured_kinds_is_not_sent_anywhere(server, job):
    result = connector(server).locate(Subject("req-2", {"phone": "+4915100000"}), job=job)

    assert result == LocateResult()
    assert server.received == []


def test_a_server_checking_signatures_rejects_a_wrong_secret(server, job, alice):
    wrong = WebhookConnector(
        name="crm",
        config={"url": server.url, "send_identifiers": ["email"]},
        secrets={"signing_secret": "not-the-shared-secret"},
    )
    with pytest.raises(ConnectorError, match="answered 401") as caught:
        wrong.erase(alice, job=job)
    assert caught.value.permanent
    assert "signature does not match" in server.last.signature_error


# -- answers ---------------------------------------------------------------------------


def test_a_completed_erase_returns_a_receipt(server, job, alice):
    server.answer((200, {"status": "completed", "affected": 3, "by_category": {"orders": 3}}))

    receipt = connector(server).erase(alice, job=job)

    assert receipt == Receipt(
        action="erase", affected=3, by_category={"orders": 3}, detail={"mode": "remote"}
    )


def test_a_completed_locate_returns_counts_and_learned_identifiers(server, job, alice):
    server.answer(
        (201, {"status": "completed", "found": 2, "by_category": {"orders": 2},
               "identifiers": {"customer_id": "c-9"}})
    )  # fmt: skip

    result = connector(server).locate(alice, job=job)

    assert result == LocateResult(2, {"orders": 2}, {"customer_id": "c-9"})


def test_export_yields_the_records_it_answers(server, job, alice):
    records = [
        {"category": "orders", "fields": {"id": 1, "total": "9.90"}},
        {"category": "orders", "fields": {"id": 2, "total": "19.90"}},
    ]
    server.answer((200, {"status": "completed", "records": records}))

    exported = list(connector(server).export(alice, job=job))

    assert [(r.system, r.category, dict(r.fields)) for r in exported] == [
        ("crm", "orders", {"id": 1, "total": "9.90"}),
        ("crm", "orders", {"id": 2, "total": "19.90"}),
    ]


@pytest.mark.parametrize("answer", [(202, None), (200, {"status": "accepted"})])
def test_an_accepted_job_is_deferred(server, job, alice, answer):
    server.answer(answer)

    with pytest.raises(Deferred, match="accepted by 127.0.0.1"):
        connector(server).erase(alice, job=job)


@pytest.mark.parametrize("status", [500, 503, 408, 429])
def test_a_server_error_is_transient(server, job, alice, status):
    server.answer((status, {"error": "busy"}))

    with pytest.raises(ConnectorError, match=f"answered {status}") as caught:
        connector(server).erase(alice, job=job)
    assert not caught.value.permanent


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_client_error_is_permanent(server, job, alice, status):
    server.answer((status, {"error": "bad request"}))

    with pytest.raises(ConnectorError, match=f"answered {status}") as caught:
        connector(server).erase(alice, job=job)
    assert caught.value.permanent


@pytest.mark.parametrize("permanent", [True, False])
def test_a_failed_job_says_whether_to_retry(server, job, alice, permanent):
    server.answer((200, {"status": "failed", "error": "no such customer", "permanent": permanent}))

    with pytest.raises(ConnectorError, match="no such customer") as caught:
        connector(server).erase(alice, job=job)
    assert caught.value.permanent is permanent


def test_a_non_json_answer_is_transient(server, job, alice):
    server.answer((200, "<html>maintenance</html>"))

    with pytest.raises(ConnectorError, match="without a JSON object") as caught:
        connector(server).erase(alice, job=job)
    assert not caught.value.permanent


def test_a_slow_server_is_a_transient_timeout(server, job, alice):
    server.delay = 1.5

    with pytest.raises(ConnectorError, match="did not answer within 0.5s") as caught:
        connector(server, timeout=0.5).erase(alice, job=job)
    assert not caught.value.permanent
    assert "alice" not in caught.value.message


def test_an_unreachable_server_is_transient_and_names_only_the_host(job, alice):
    with WebhookServer(SECRET) as gone:
        url = gone.url
    down = WebhookConnector(
        name="crm",
        config={"url": url, "send_identifiers": ["email"]},
        secrets={"signing_secret": "s"},
    )
    with pytest.raises(ConnectorError, match="cannot reach 127.0.0.1") as caught:
        down.erase(alice, job=job)
    assert not caught.value.permanent
    assert "alice" not in caught.value.message


# -- check and configuration -----------------------------------------------------------


def test_check_posts_a_signed_check(server):
    connector(server).check()

    assert server.last.body["action"] == "check" and set(server.last.body) == {"action", "nonce"}
    assert server.last.signature_error is None
    assert SIGNATURE_HEADER.lower() in server.last.headers


def test_check_fails_permanently_on_a_refusal(server):
    server.answer((403, None))
    with pytest.raises(ConnectorError, match="answered 403") as caught:
        connector(server).check()
    assert caught.value.permanent


def test_it_needs_a_job_context(server, alice):
    with pytest.raises(ConnectorError, match="job context") as caught:
        connector(server).erase(alice)
    assert caught.value.permanent
    assert server.received == []


def test_an_action_not_configured_is_refused(server, job, alice):
    only_locate = connector(server, actions=["locate"])

    assert only_locate.actions == {"locate"}
    with pytest.raises(ConnectorError, match="does not support erase"):
        only_locate.erase(alice, job=job)


@pytest.mark.parametrize(
    ("config", "secrets", "message"),
    [
        ({"url": "https://crm.example/dsr", "send_identifiers": ["email"]}, {}, "signing_secret"),
        ({"url": "ftp://crm.example/dsr", "send_identifiers": ["email"]}, None, "url"),
        ({"url": "crm.example/dsr", "send_identifiers": ["email"]}, None, "url"),
        ({"url": "https://crm.example/dsr", "send_identifiers": []}, None, "send_identifiers"),
        ({"url": "https://crm.example/dsr"}, None, "send_identifiers"),
        ({"url": "https://crm.example/dsr", "send_identifiers": [3]}, None, "send_identifiers"),
        (
            {"url": "https://crm.example/dsr", "send_identifiers": ["email"], "actions": ["wipe"]},
            None,
            "wipe",
        ),
        (
            {"url": "https://crm.example/dsr", "send_identifiers": ["email"], "timeout": 0},
            None,
            "timeout",
        ),
    ],
)
def test_a_bad_configuration_is_a_permanent_error_naming_it(config, secrets, message):
    with pytest.raises(ConnectorError, match=message) as caught:
        WebhookConnector(
            name="crm",
            config=config,
            secrets={"signing_secret": SECRET} if secrets is None else secrets,
        )
    assert caught.value.permanent
