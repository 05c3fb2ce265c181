"""What the handler holds about the person is part of their access answer, and of their erasure.

Their requests, how they confirmed them and what we did are one more system in the bundle.
An erasure removes their identifiers from their earlier, closed requests and keeps the
record of each (GDPR Art. 5(2), CCPA §7101), and the certificate and the email say so.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core import mail

from connectors.memory import MemoryConnector
from dsr.core import storage
from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, DataSubjectRequest, Status, SystemConnection
from dsr.core.selectors import current_bundle
from dsr.engine import fanout
from dsr.intake import verification
from dsr.intake.submission import Submission, submit_request
from dsr.results import access, closing

pytestmark = pytest.mark.django_db
EMAIL = "zoe@example.com"


@pytest.fixture(autouse=True)
def crm():
    MemoryConnector.reset()
    SystemConnection.objects.create(name="crm", connector="memory", config={
        "records": [{"category": "customer", "fields": {"email": EMAIL, "name": "Zoe"}}]})
    yield
    MemoryConnector.reset()


def filed(kind, capture, email=EMAIL, regime_country="PT"):
    with capture(execute=True):
        request = submit_request(Submission(kind=kind, email=email, country=regime_country,
                                            details="Please hurry." if kind == "portability" else ""))
        verification.verify_code(request, verification.issue_code(request).code)
    request.refresh_from_db()
    return request


def test_the_persons_own_requests_are_in_their_access_answer(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    earlier = filed("portability", capture)
    closing.deny(earlier, reason="We could not find an account.", actor=Actor.scheduler())
    filed("portability", capture, email="someone.else@example.com")
    request = filed("access", capture)
    with capture(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    access.release(request, actor=Actor.scheduler())
    archive = zipfile.ZipFile(io.BytesIO(b"".join(storage.read_decrypted(current_bundle(request).file))))
    requests = json.loads(archive.read("data/privacy-requests/requests.json"))
    assert [r["reference"] for r in requests] == [earlier.reference, request.reference]
    assert requests[0]["why we refused"] == "We could not find an account."
    assert requests[0]["your words"] == "Please hurry." and requests[0]["your identifiers"] == {"email": EMAIL}
    confirmations = json.loads(archive.read("data/privacy-requests/confirmations.json"))
    assert {c["request"] for c in confirmations} == {earlier.reference, request.reference}
    events = json.loads(archive.read("data/privacy-requests/what happened.json"))
    assert {"request": earlier.reference, "what": "status.denied"} in [
        {"request": e["request"], "what": e["what"]} for e in events]
    assert "someone.else" not in json.dumps(requests) + json.dumps(events)
    manifest = json.loads(archive.read("manifest.json"))
    assert {s["name"] for s in manifest["systems"]} == {"crm", "privacy-requests"}
    index = archive.read("index.html").decode()
    assert "Your privacy requests to us" in index and "handling your privacy requests" in index


def test_an_erasure_keeps_the_record_of_earlier_requests_without_their_identifiers(
    django_capture_on_commit_callbacks, client, desk_login
):
    capture = django_capture_on_commit_callbacks
    earlier = filed("portability", capture)
    closing.deny(earlier, reason="No account.", actor=Actor.scheduler())
    still_open = filed("access", capture)
    erasure = filed("erasure", capture)
    with capture(execute=True):
        fanout.approve(erasure, actor=Actor.scheduler())
    erasure.refresh_from_db()
    assert erasure.status == Status.COMPLETED
    earlier.refresh_from_db()
    assert earlier.identifiers == {} and earlier.email_hash == "" and earlier.details is None
    # The officer's reason is free text about the person: it goes with the identifiers.
    assert (earlier.kind, earlier.status, earlier.denial_reason) == ("portability", Status.DENIED, "")
    assert AuditEvent.objects.filter(request=earlier, verb="status.denied").exists()
    assert DataSubjectRequest.objects.get(pk=still_open.pk).email == EMAIL  # still being handled
    assert erasure.email == EMAIL  # kept until the retention period, to answer about this request
    body = [m for m in mail.outbox if erasure.reference in m.subject][-1].body
    assert "We keep a record of your requests to us, as the law asks (GDPR Art. 5(2))." in body
    assert "Your email address and other details are gone from the earlier request." in body
    desk_login("officer")
    certificate = client.get(f"/desk/requests/{erasure.pk}/certificate/").content.decode()
    assert "Our own records of the person's requests (GDPR Art. 5(2))" in certificate
    assert "earlier closed request lost its email address" in certificate
