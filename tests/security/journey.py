"""One person's access request from the form to the download, across every kind of system.

Shared by the logging and the at-rest tests. The person files through the API with
their email, name and phone, verifies on the page with the emailed code, an officer approves and
releases on the desk, and four systems answer: the host's own Django models (the demo
shop), a PostgreSQL database of its own reached with psycopg, a webhook vendor served
for real on 127.0.0.1, and a pull system that reports through the jobs API. The person
then downloads the bundle with a fresh emailed code.

Every value that could leak is distinctive, so finding it anywhere is unambiguous.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from django.core import mail
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from dsr.core.models import DataSubjectRequest, ResultBundle, Status, SystemConnection, TOTPDevice
from dsr.engine import connections
from tests.conftest import code_from
from tests.connectors.webhook_server import WebhookServer
from tests.dsr.results.test_results import shop_dsn  # noqa: F401 - the scratch PostgreSQL database fixture

EMAIL = "zelda.quixote-nakamura@example.net"
NAME = "Zelda Quixote-Nakamura"
PHONE = "+44 20 7946 0958"

# What each system holds about her: values that must never be stored or logged in clear.
SHOP_ADDRESS = "17 Wisteria Crescent, Lowbridge"
SHOP_ITEMS = "1 x hand-thrown teapot (glaze 4471)"
CLINIC_NOTE = "allergy-to-penicillin-ref-98213"
NEWSLETTER_LIST = "limited-edition-tea-club-XK42"
BILLING_IBAN = "GB33BUKB20201555555555"

PULL_TOKEN = "billing-pull-token-" + "q" * 32
WEBHOOK_SECRET = "whsec-vendor-3f9a8c1d2e"


@dataclass
class Journey:
    request: DataSubjectRequest
    zip_bytes: bytes
    pg_dsn: str
    secrets: list[str] = field(default_factory=list)

    @property
    def identifiers(self) -> list[str]:
        return [EMAIL, EMAIL.upper(), NAME, PHONE, PHONE.replace(" ", "")]

    @property
    def record_values(self) -> list[str]:
        return [SHOP_ADDRESS, SHOP_ITEMS, CLINIC_NOTE, NEWSLETTER_LIST, BILLING_IBAN]


@pytest.fixture
def clinic_dsn(shop_dsn):  # noqa: F811
    """A PostgreSQL database playing a connected system of its own (a clinic's patients)."""
    with psycopg.connect(shop_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS patient")
        conn.execute("CREATE TABLE patient (id serial PRIMARY KEY, email text, full_name text, note text)")
        conn.execute("INSERT INTO patient (email, full_name, note) VALUES (%s, %s, %s)", (EMAIL, NAME, CLINIC_NOTE))
        conn.execute("INSERT INTO patient (email, full_name, note) VALUES ('other@example.org', 'Other', 'x')")
    return shop_dsn


def _systems(newsletter_url: str, dsn: str) -> None:
    from dsr.demo_shop.models import Customer, Order

    customer = Customer.objects.create(customer_number="C-7781", email=EMAIL, name=NAME,
                                       address=SHOP_ADDRESS, phone=PHONE)
    Order.objects.create(customer=customer, placed_on=date(2026, 2, 3), total=Decimal("48.00"), items=SHOP_ITEMS)
    SystemConnection.objects.create(
        name="shop-db", connector="django", purposes=["selling"],
        config={"models": [
            {"model": "demo_shop.Customer", "category": "customer", "identifiers": {"email": "email"},
             "erase": {"mode": "mask", "fields": {"email": None, "name": None, "address": None, "phone": None}}},
            {"model": "demo_shop.Order", "category": "orders", "via": {"field": "customer",
                                                                        "parent": "demo_shop.Customer"},
             "erase": {"mode": "delete"}},
        ]},
    )
    SystemConnection.objects.create(
        name="clinic", connector="postgres", secrets={"dsn": dsn},
        config={"tables": [{"table": "patient", "identifiers": {"email": "email"}, "erase": {"mode": "delete"}}]},
    )
    SystemConnection.objects.create(
        name="newsletter", connector="webhook", secrets={"signing_secret": WEBHOOK_SECRET},
        config={"url": newsletter_url, "send_identifiers": ["email", "phone"], "timeout": 3},
    )
    pull = SystemConnection.objects.create(name="billing", connector="pull",
                                           config={"send_identifiers": ["email"]})
    SystemConnection.objects.filter(pk=pull.pk).update(token_hash=connections.token_hash(PULL_TOKEN))


def _officer(client: Client):
    from django.contrib.auth import get_user_model

    from dsr.core.roles import Role, grant

    user = get_user_model().objects.create_user("officer-pat", "pat@corp.example", None)
    grant(user, Role.OFFICER)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def run_access_journey(capture, dsn: str, watch=contextlib.nullcontext) -> Journey:
    """The whole journey; ``capture`` is django_capture_on_commit_callbacks.

    ``watch()`` is entered once the systems are set up (their own data is seeded in the
    clear, as a shop's database holds it) and left when the download is done.
    """
    with contextlib.ExitStack() as stack:
        return _journey(capture, dsn, stack, watch)


def _journey(capture, dsn: str, stack: contextlib.ExitStack, watch) -> Journey:
    person, officer, billing = Client(), Client(), Client()
    with WebhookServer(WEBHOOK_SECRET) as newsletter:
        newsletter.responder = lambda received: (200, {"status": "completed", "records": [
            {"category": "subscriptions", "fields": {"email": received.body["identifiers"]["email"],
                                                     "list": NEWSLETTER_LIST}}]}) \
            if received.body and received.body.get("action") == "export" else (200, {"status": "completed"})
        _systems(newsletter.url, dsn)
        _officer(officer)
        stack.enter_context(watch())
        with capture(execute=True):
            filed = person.post("/api/v1/requests/", json.dumps({
                "kind": "access", "email": EMAIL, "name": NAME, "phone": PHONE, "country": "GB",
                "details": f"Please call me on {PHONE}, {NAME}"}), content_type="application/json")
        assert filed.status_code == 201, filed.content
        request = DataSubjectRequest.objects.get()
        assert request.identifiers.get("phone") == PHONE
        code = code_from([m for m in mail.outbox if EMAIL in m.to][-1])
        with capture(execute=True):
            verified = person.post(f"/requests/{request.reference}/verify/", {"code": code})
        assert verified.status_code == 302, verified.content
        status_link = verified["Location"]

        with capture(execute=True):
            assert officer.post(f"/desk/requests/{request.pk}/approve/").status_code == 302
    request.refresh_from_db()
    assert request.status == Status.IN_PROGRESS, request.status

    auth = {"HTTP_AUTHORIZATION": f"Bearer {PULL_TOKEN}"}
    [job] = billing.get("/api/v1/systems/jobs/", **auth).json()
    assert job["identifiers"] == {"email": EMAIL}
    assert billing.post(f"/api/v1/systems/jobs/{job['id']}/claim/", **auth).status_code == 200
    with capture(execute=True):
        reported = billing.post(
            f"/api/v1/systems/jobs/{job['id']}/result/",
            json.dumps({"status": "completed", "records": [
                {"category": "invoices", "fields": {"email": EMAIL, "iban": BILLING_IBAN, "total": "48.00"}}]}),
            content_type="application/json", **auth)
    assert reported.status_code == 200, reported.content
    request.refresh_from_db()
    assert request.status == Status.REVIEW, [(j.system.name, j.status, j.error) for j in request.jobs.all()]

    with capture(execute=True):
        assert officer.post(f"/desk/requests/{request.pk}/release/").status_code == 302
    request.refresh_from_db()
    assert request.status == Status.COMPLETED and ResultBundle.objects.filter(request=request).exists()

    token = person.cookies["dsr_status"].value  # the status page's token, kept in its cookie
    assert person.get(status_link).status_code == 200
    with capture(execute=True):
        sent = person.post(f"/api/v1/requests/{request.reference}/download/code/",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert sent.status_code == 202, sent.content
    download_code = code_from(mail.outbox[-1])
    response = person.post(f"/api/v1/requests/{request.reference}/download/", json.dumps({"code": download_code}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content)
    archive = zipfile.ZipFile(io.BytesIO(body))
    everything = "".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    for value in [EMAIL, SHOP_ADDRESS, SHOP_ITEMS, CLINIC_NOTE, NEWSLETTER_LIST, BILLING_IBAN]:
        assert value in everything, f"the journey did not carry {value!r} to the bundle"
    # (six-digit codes are not listed: any six digits turn up by chance in enough ciphertext)
    return Journey(request=request, zip_bytes=body, pg_dsn=dsn, secrets=[dsn, WEBHOOK_SECRET, PULL_TOKEN, token])
