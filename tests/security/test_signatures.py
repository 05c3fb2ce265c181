"""Signed calls, over HTTP, both ways.

To a webhook system: the demo marketing platform's receiver (``/demo/marketing-webhook/``)
takes only a call signed with the shared secret, over the exact body, within the time
window, and only once. From a webhook system: a job's result comes back on the
product's callback endpoint with that job's one-time callback token, which works for
that job and that attempt only.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client

from connectors import http
from connectors.signing import SIGNATURE_HEADER, sign
from connectors.webhook import WebhookConnector
from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, ConnectorJob, Status
from dsr.desk.actions import skip_job
from dsr.engine import fanout
from tests.dsr.api.test_webhook_jobs import vendor, webhook_system  # noqa: F401 - a webhook system on 127.0.0.1
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db
RECEIVER = "/demo/marketing-webhook/"


@pytest.fixture
def demo_secret(settings):
    return settings.DSR_DEMO_WEBHOOK_SECRET


def deliver(client: Client, body: bytes, header: str | None):
    headers = {SIGNATURE_HEADER: header} if header is not None else {}
    return client.post(RECEIVER, body, content_type="application/json", headers=headers)


CHECK = b'{"action":"check","nonce":"1"}'


def _signed(secret: str, body: bytes = CHECK, *, age: int = 0) -> str:
    return sign(secret, int(time.time()) - age, body)


# --- calls to the demo receiver -------------------------------------------------------------

REFUSED_CALLS = {
    "no signature": lambda s: (CHECK, None),
    "empty signature": lambda s: (CHECK, ""),
    "garbled header": lambda s: (CHECK, "v1=abc"),
    "timestamp not a number": lambda s: (CHECK, "t=soon,v1=" + "0" * 64),
    "another secret": lambda s: (CHECK, _signed("not-the-shared-secret")),
    "signature of another body": lambda s: (b'{"action":"erase","identifiers":{"email":"x@example.com"}}',
                                            _signed(s)),
    "body changed after signing": lambda s: (CHECK.replace(b'"1"', b'"2"'), _signed(s)),
    "signature guessed": lambda s: (CHECK, f"t={int(time.time())},v1={'0' * 64}"),
    "expired timestamp (6 minutes old)": lambda s: (CHECK, _signed(s, age=360)),
    "timestamp from the future": lambda s: (CHECK, _signed(s, age=-360)),
    "right MAC, timestamp swapped": lambda s: (CHECK, _signed(s).replace("t=", "t=1", 1)),
}


@pytest.mark.parametrize("case", REFUSED_CALLS)
def test_the_receiver_refuses_a_call_it_cannot_trust(client, demo_secret, case):
    body, header = REFUSED_CALLS[case](demo_secret)
    response = deliver(client, body, header)
    assert response.status_code == 401, case
    assert response.json()["status"] == "failed" and response.json()["permanent"] is True


def test_the_receiver_takes_a_fresh_signed_call_once(client, demo_secret):
    header = _signed(demo_secret)
    first = deliver(client, CHECK, header)
    assert (first.status_code, first.json()) == (200, {"status": "completed"})
    replayed = deliver(client, CHECK, header)
    assert replayed.status_code == 401 and "replayed" in replayed.json()["error"]
    # The same replay dressed differently (another secret's entry added, entries reordered) too.
    t, v1 = header.split(",")
    for disguise in [f"{v1},{t}", f"{t},v1={'f' * 64},{v1}"]:
        assert deliver(client, CHECK, disguise).status_code == 401, disguise
    # A new call, signed afresh over its own body, is welcome.
    other = CHECK.replace(b'"1"', b'"2"')
    assert deliver(client, other, _signed(demo_secret, other)).status_code == 200


def test_an_export_replayed_within_the_window_gives_nothing_away(client, demo_secret):
    """The replay that matters: someone who saw a signed export call sends it again for the records."""
    from datetime import date

    from dsr.demo_shop.models import MarketingContact

    MarketingContact.objects.create(email="ana.demo@example.org", consented_on=date(2025, 12, 1))
    body = json.dumps({"action": "export", "job_id": "j1", "identifiers": {"email": "ana.demo@example.org"},
                       "callback_token": "t1"}).encode()
    header = _signed(demo_secret, body)
    assert deliver(client, body, header).json()["records"][0]["fields"]["email"] == "ana.demo@example.org"
    replayed = deliver(client, body, header)
    assert replayed.status_code == 401 and "ana.demo" not in replayed.content.decode()


def test_a_rotated_secret_verifies_while_both_are_listed(client, demo_secret):
    stamp = int(time.time())
    old = sign("the-previous-secret", stamp, CHECK).split(",")[1]
    current = sign(demo_secret, stamp, CHECK).split(",")[1]
    assert deliver(client, CHECK, f"t={stamp},{old},{current}").status_code == 200
    assert deliver(client, CHECK, f"t={stamp},{old}").status_code == 401


class RecordingWSGITransport(httpx.WSGITransport):
    """Django itself behind httpx: the connector's real HTTP client, the receiver's real view."""

    def __init__(self) -> None:
        super().__init__(app=WSGIHandler())
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


def test_our_own_checks_in_quick_succession_are_never_taken_for_replays(settings):
    connector = WebhookConnector(
        name="marketing", config={"url": f"http://testserver{RECEIVER}", "send_identifiers": ["email"]},
        secrets={"signing_secret": settings.DSR_DEMO_WEBHOOK_SECRET},
    )
    transport, original = RecordingWSGITransport(), http.TRANSPORT
    # As Django's test client does: the test's open transaction must survive the request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    http.TRANSPORT = transport
    try:
        for _ in range(3):
            connector.check()  # raises ConnectorError if the receiver refuses
    finally:
        http.TRANSPORT = original
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    assert len({r.headers[SIGNATURE_HEADER] for r in transport.sent}) == 3
    # Sent again as they were, each of them is now refused.
    for sent in transport.sent:
        assert deliver(Client(), sent.content, sent.headers[SIGNATURE_HEADER]).status_code == 401


# --- results reported back with a callback token --------------------------------------------


@pytest.fixture
def waiting_job(vendor, webhook_system, settings, django_capture_on_commit_callbacks):  # noqa: F811
    """An erasure job a webhook system accepted (202): it waits for the system's callback."""
    settings.DSR_RETRY_BASE_SECONDS = 0
    system = webhook_system

    def make(*answers, email="alice@example.com"):
        vendor.answer(*answers)
        request = RequestFactory(kind="erasure", status=Status.VERIFIED, identifiers={"email": email})
        with django_capture_on_commit_callbacks(execute=True):
            fanout.approve(request, actor=Actor.scheduler())
        job = request.jobs.get(system=system)
        assert job.status == "waiting", job.error
        return job, [r.body["callback_token"] for r in vendor.received[-len(answers):]]

    return make


def report(api, job, token, capture, body=None, *, header=True):
    url = f"/api/v1/systems/jobs/{job.pk}/result/"
    body = body or {"status": "completed", "affected": 1}
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if header else {}
    with capture(execute=True):
        return api.post(url if header else f"{url}?token={token}", body, format="json", **auth)


def settled(job) -> tuple[str, int]:
    job.refresh_from_db()
    return job.status, AuditEvent.objects.filter(request_id=job.request_id, verb="job.succeeded").count()


@pytest.mark.parametrize("case", ["missing", "wrong", "another job's", "an earlier attempt's", "a system's own",
                                  "padded"])
def test_a_result_without_this_attempts_callback_token_is_refused(api, waiting_job, case,
                                                                   django_capture_on_commit_callbacks):
    job, [earlier, token] = waiting_job((500, {"error": "busy"}), (202, None))
    other, [other_token] = waiting_job((202, None), email="bob@example.com")
    presented = {
        "missing": None,
        "wrong": "guessed-" + token[8:],
        "another job's": other_token,
        "an earlier attempt's": earlier,  # sent with the first try, which the system failed
        "a system's own": "not-a-registered-system-token",
        "padded": token + "x",
    }[case]
    if presented is None:
        response = api.post(f"/api/v1/systems/jobs/{job.pk}/result/", {"status": "completed"}, format="json")
    else:
        response = report(api, job, presented, django_capture_on_commit_callbacks)
    assert response.status_code == 401, response.content
    assert settled(job) == ("waiting", 0)
    assert settled(other) == ("waiting", 0)
    # The right token still works afterwards: the refusals did not burn it.
    assert report(api, job, token, django_capture_on_commit_callbacks).status_code == 200
    assert settled(job) == ("succeeded", 1)


def test_a_callback_token_in_the_address_is_not_taken(api, waiting_job, django_capture_on_commit_callbacks):
    """Access logs keep addresses: a token works only in the Authorization header."""
    job, [token] = waiting_job((202, None))
    assert report(api, job, token, django_capture_on_commit_callbacks, header=False).status_code == 401
    assert settled(job) == ("waiting", 0)
    assert report(api, job, token, django_capture_on_commit_callbacks).status_code == 200


def test_a_callback_token_works_once(api, waiting_job, django_capture_on_commit_callbacks):
    job, [token] = waiting_job((202, None))
    assert report(api, job, token, django_capture_on_commit_callbacks).status_code == 200
    replayed = report(api, job, token, django_capture_on_commit_callbacks,
                      {"status": "failed", "error": "changed my mind", "permanent": True})
    assert replayed.status_code == 401
    assert settled(job) == ("succeeded", 1)
    assert ConnectorJob.objects.get(pk=job.pk).error == ""


def test_a_callback_token_dies_with_its_job(api, waiting_job, django_capture_on_commit_callbacks):
    """Once an officer has settled the job, a late callback changes nothing."""
    job, [token] = waiting_job((202, None))
    with django_capture_on_commit_callbacks(execute=True):
        skip_job(job, reason="vendor confirmed by phone", actor=Actor.scheduler())
    for _ in range(2):  # refused each time, and the refusal uses nothing up
        late = report(api, job, token, django_capture_on_commit_callbacks)
        assert late.status_code == 409
    job.refresh_from_db()
    assert job.status == "skipped" and job.affected is None


def test_a_callback_token_opens_no_other_endpoint(api, waiting_job):
    job, [token] = waiting_job((202, None))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert api.get("/api/v1/systems/jobs/", **auth).status_code == 401
    assert api.post(f"/api/v1/systems/jobs/{job.pk}/claim/", **auth).status_code == 401
    assert api.post("/api/v1/systems/suppression/check", {"sha256": "0" * 64}, format="json", **auth).status_code == 401
    assert api.get(f"/api/v1/requests/{job.request.reference}/", **auth).status_code == 404
    assert api.get("/api/v1/desk/requests/", **auth).status_code == 401
    assert settled(job) == ("waiting", 0)


def test_our_calls_each_carry_a_signature_of_their_own(vendor, waiting_job):  # noqa: F811
    """Retries are signed afresh over a new body, so a receiver refusing replays takes them all."""
    waiting_job((500, None), (503, None), (202, None))
    calls = vendor.received[-3:]
    assert all(c.signature_error is None for c in calls)
    signatures = {c.headers[SIGNATURE_HEADER.lower()] for c in calls}
    assert len(signatures) == 3
    assert len({c.body["callback_token"] for c in calls}) == 3
    assert len({c.headers["idempotency-key"] for c in calls}) == 1  # still the same job to the system
