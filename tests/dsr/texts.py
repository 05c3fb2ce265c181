"""Every text a person or a regulator reads about a request, rendered through the product.

``every_text(regime, ...)`` files and runs requests under one regime the way the
product does (the emails are the ones its tasks send, the bundle is the one a person
downloads, the certificate and the status page are fetched as pages) and returns
``{name: text}``. The tests of what the texts may cite read them from here.
"""

from __future__ import annotations

import io
import zipfile

from django.core import mail
from django.test import Client

from dsr.core import storage
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Status, SystemConnection
from dsr.core.selectors import current_bundle
from dsr.core.tokens import status_token
from dsr.engine import fanout
from dsr.intake import tasks as intake_tasks
from dsr.intake.submission import Submission, submit_request
from dsr.results import access, closing, erasure, rectification

#: Where a person under each regime lives (country, state or province).
PLACES = {
    "gdpr": ("PT", ""), "uk_gdpr": ("GB", ""), "ccpa": ("US", "CA"), "vcdpa": ("US", "VA"),
    "cpa": ("US", "CO"), "ctdpa": ("US", "CT"), "ucpa": ("US", "UT"), "lgpd": ("BR", ""),
    "pipeda": ("CA", "QC"),
}
EMAIL = "rita@example.com"
CARRIER = "privacy@carrier.example"


def make_systems() -> None:
    """Two systems that hold the person, with the privacy metadata a careful operator gives."""
    person = {"email": EMAIL, "name": "Rita", "address": "1 Old Road", "ssn": "123-45-6789"}
    common = {
        "purposes": ["selling and delivering orders"], "data_categories": ["contact details"],
        "retention": "6 years after the financial year", "source": "you, when you ordered",
        "automated_decisions": "We make no decisions about you by automated means alone.",
    }
    SystemConnection.objects.create(
        name="crm", connector="memory", description="Our customer records",
        recipients=[{"name": "Parcel carrier", "notify": "email", "email": CARRIER}, "Our auditors"], config={
            "records": [{"category": "customer", "fields": person}],
            "field_categories": {"ssn": "social_security_number"},
        }, **common,
    )
    SystemConnection.objects.create(
        name="billing", connector="memory", description="Invoices", recipients=[],
        config={"records": [{"category": "invoices", "fields": {"email": EMAIL, "total": "10.00"}}]}, **common,
    )


def _file(regime: str, kind: str, capture, **extra) -> DataSubjectRequest:
    country, state = PLACES[regime]
    with capture(execute=True):
        request = submit_request(Submission(kind=kind, email=EMAIL, country=country, subdivision=state, **extra))
    return request


def _verify(request: DataSubjectRequest, capture) -> DataSubjectRequest:
    from dsr.intake import verification

    with capture(execute=True):
        verification.verify_code(request, verification.issue_code(request).code)
    request.refresh_from_db()
    return request


def _last_mail(into: dict[str, str], name: str) -> None:
    message = mail.outbox[-1]
    into[f"{name} (subject)"] = message.subject
    into[f"{name} (text)"] = message.body
    into[f"{name} (html)"] = message.alternatives[0][0]


def _page(client: Client, request: DataSubjectRequest) -> str:
    response = client.get(f"/requests/{request.reference}/?t={status_token(request)}")
    assert response.status_code == 200
    return response.content.decode()


def every_text(regime: str, capture, client: Client, officer_client: Client) -> dict[str, str]:
    """Access, rectification, erasure (with an exception), extension and denial, under ``regime``."""
    texts: dict[str, str] = {}
    actor = Actor.scheduler()

    access_request = _file(regime, "access", capture)
    _last_mail(texts, "acknowledgement")
    access_request = _verify(access_request, capture)
    with capture(execute=True):
        fanout.approve(access_request, actor=actor)
    access_request.refresh_from_db()
    with capture(execute=True):
        access.release(access_request, actor=actor)
    _last_mail(texts, "access released")
    item = current_bundle(access_request)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(storage.read_decrypted(item.file))))
    texts["bundle index.html"] = archive.read("index.html").decode()
    texts["status page, completed"] = _page(client, access_request)
    with capture(execute=True):
        access.reissue(access_request, actor=actor)
    _last_mail(texts, "access reissued")
    with capture(execute=True):
        intake_tasks.send_download_code(str(access_request.pk))
    _last_mail(texts, "download code")

    fix = _verify(_file(regime, "rectification", capture, changes=[{"field": "address", "value": "2 New Road"}]),
                  capture)
    rectification.decide(fix, {0: (True, "")}, actor=actor)
    with capture(execute=True):
        fanout.approve(fix, actor=actor)
    fix.refresh_from_db()
    with capture(execute=True):
        closing.complete(fix, actor=actor)
    _last_mail(texts, "rectification completed")

    erasure_request = _verify(_file(regime, "erasure", capture), capture)
    erasure.add_exception(erasure_request, SystemConnection.objects.get(name="billing"),
                          ground="legal_obligation", reason="Invoices are kept for the tax authority.", actor=actor)
    with capture(execute=True):
        fanout.approve(erasure_request, actor=actor)
    erasure_request.refresh_from_db()
    assert erasure_request.status == Status.COMPLETED
    _last_mail(texts, "erasure completed")
    told = [m for m in mail.outbox if m.to == [CARRIER]]
    texts["recipient notice (text)"], texts["recipient notice (html)"] = told[-1].body, told[-1].alternatives[0][0]
    page = officer_client.get(f"/desk/requests/{erasure_request.pk}/certificate/")
    assert page.status_code == 200
    texts["erasure certificate"] = page.content.decode()

    refused = _verify(_file(regime, "portability", capture), capture)
    if DataSubjectRequest.objects.get(pk=refused.pk).extended_due_on is None and regime != "lgpd":
        with capture(execute=True):
            closing.extend(refused, reason="We hold your data in many systems.", actor=actor)
        _last_mail(texts, "extension")
    with capture(execute=True):
        closing.deny(refused, reason="We could not confirm that the account is yours.", actor=actor)
    _last_mail(texts, "denial")
    refused.refresh_from_db()
    texts["status page, denied"] = _page(client, refused)

    with capture(execute=True):
        received = submit_request(Submission(kind="access", email="sam@example.com", country=PLACES[regime][0],
                                             subdivision=PLACES[regime][1]))
    DataSubjectRequest.objects.filter(pk=received.pk).update(status=Status.VERIFIED, acknowledged_at=None)
    intake_tasks.send_receipt(str(received.pk))
    _last_mail(texts, "receipt")
    return texts
