"""Results the law asks for, against a real PostgreSQL shop and a webhook system on 127.0.0.1.

Access: the downloaded ZIP opens and matches the source rows; erasure: rows gone or
masked, a certificate, the suppression list; rectification: the value changed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import uuid
import zipfile
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from dsr.core import law, storage
from dsr.core.audit import Actor
from dsr.core.branding import absolute_url
from dsr.core.models import AuditEvent, DataSubjectRequest, ResultBundle, Status, SystemConnection
from dsr.core.tokens import status_token
from dsr.engine import current, fanout
from dsr.results import access, suppression
from tests.conftest import IN_CI, code_from
from tests.connectors.webhook_server import WebhookServer
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db
SERVER = os.environ.get("DSR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
ALICE, BOB = "alice@example.com", "bob@example.com"
SECRET = "newsletter-secret"


@pytest.fixture(scope="module")
def shop_dsn():
    name = f"dsr_results_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"CI must run these against PostgreSQL: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{SERVER}/{name}"
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def shop(shop_dsn):
    with psycopg.connect(shop_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS orders, customer")
        conn.execute(
            "CREATE TABLE customer (id serial PRIMARY KEY, email text, name text, address text, ssn text)"
        )
        conn.execute(
            "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customer(id), "
            "total numeric(10,2), note text)"
        )
        conn.execute("CREATE INDEX ON orders(customer_id)")
        for email, name, ssn in [(ALICE, "Alice", "123-45-6789"), (BOB, "Bob", "987-65-4321")]:
            cid = conn.execute(
                "INSERT INTO customer (email, name, address, ssn) VALUES (%s, %s, '1 High St', %s) RETURNING id",
                (email, name, ssn),
            ).fetchone()[0]
            for total, note in [("10.00", "=HYPERLINK(\"x\")"), ("25.50", "gift"), ("7.25", "+1 extra")]:
                conn.execute("INSERT INTO orders (customer_id, total, note) VALUES (%s, %s, %s)", (cid, total, note))
    yield shop_dsn


def query(dsn, sql, params=()):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def newsletter():
    with WebhookServer(SECRET) as server:
        yield server


@pytest.fixture
def systems(shop, newsletter, settings):
    settings.DSR_RETRY_BASE_SECONDS = 0
    SystemConnection.objects.create(
        name="shop-db",
        connector="postgres",
        secrets={"dsn": shop},
        purposes=["selling and delivering orders"],
        data_categories=["contact details", "orders"],
        recipients=["Parcel carrier (EU)"],
        retention="6 years after the financial year",
        source="the person, when ordering",
        config={
            "field_categories": {"ssn": "social_security_number"},
            "tables": [
                {"table": "customer", "identifiers": {"email": "email"},
                 "erase": {"mode": "mask", "fields": {"email": None, "name": None, "address": None, "ssn": None}},
                 "rectify": ["name", "address"]},
                {"table": "orders", "via": {"column": "customer_id", "parent": "customer", "parent_column": "id"},
                 "erase": {"mode": "delete"}},
            ],
        },
    )
    SystemConnection.objects.create(
        name="newsletter", connector="webhook", secrets={"signing_secret": SECRET},
        config={"url": newsletter.url, "send_identifiers": ["email"], "timeout": 2},
        purposes=["the newsletter you asked for"], recipients=["Mail vendor (US, under SCCs)"],
        retention="until you unsubscribe", source="you, at sign-up",
    )


def run(request, capture):
    with capture(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    return request


def subject_request(kind, email=ALICE, **extra):
    return RequestFactory(kind=kind, status=Status.VERIFIED, identifiers={"email": email}, **extra)


def download(api, request, capture):
    token = status_token(request)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    with capture(execute=True):
        sent = api.post(f"/api/v1/requests/{request.reference}/download/code/", **auth)
    assert sent.status_code == 202, sent.content
    code = code_from(mail.outbox[-1])
    response = api.post(f"/api/v1/requests/{request.reference}/download/", {"code": code}, format="json", **auth)
    return response, auth, code


def test_an_access_request_becomes_a_downloadable_readable_bundle(
    api, systems, newsletter, django_capture_on_commit_callbacks
):
    newsletter.default = (200, {"status": "completed", "records": [
        {"category": "subscriptions", "fields": {"email": ALICE, "list": "weekly", "since": "2025-01-02"}}]})
    request = run(subject_request("access", regime="gdpr"), django_capture_on_commit_callbacks)
    assert request.status == Status.REVIEW
    preview = {row["system"]: row for row in access.preview(request)}
    assert preview["shop-db"]["counts"] == {"customer": 1, "orders": 3}
    assert preview["shop-db"]["records"][0]["fields"]["email"] == ALICE
    with django_capture_on_commit_callbacks(execute=True):
        call_command("desk", "release", request.reference, "--officer", _officer().username)
    request.refresh_from_db()
    assert (request.status, request.outcome) == (Status.COMPLETED, "completed")
    assert "Your data is ready" in mail.outbox[-1].body

    response, auth, code = download(api, request, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)
    item = ResultBundle.objects.get(request=request)
    assert hashlib.sha256(body).hexdigest() == item.sha256 and len(body) == item.size
    archive = zipfile.ZipFile(io.BytesIO(body))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["schema_version"] == "1.0"
    assert manifest["request"]["reference"] == request.reference
    counts = {s["name"]: s["records"] for s in manifest["systems"]}
    source_orders = query(systems_dsn(), "SELECT count(*) FROM orders o JOIN customer c ON c.id = o.customer_id WHERE c.email = %s", (ALICE,))[0][0]
    own = counts.pop("privacy-requests")  # what we hold about her request itself
    assert counts == {"newsletter": {"subscriptions": 1}, "shop-db": {"customer": 1, "orders": source_orders}}
    assert own["requests"] == 1 and own["what happened"] >= 5
    assert "confirmations" not in own  # made by the factory: no code was ever sent
    orders = json.loads(archive.read("data/shop-db/orders.json"))
    assert sorted(o["total"] for o in orders) == ["10.00", "25.50", "7.25"]
    rows = list(csv.DictReader(io.StringIO(archive.read("data/shop-db/orders.csv").decode("utf-8-sig"))))
    assert {r["note"] for r in rows} == {"'=HYPERLINK(\"x\")", "gift", "'+1 extra"}  # CSV injection neutralised
    assert BOB not in body.decode("utf-8", "replace")
    index = archive.read("index.html").decode()
    for item_text in ["Your data, as held by Example Ltd", "selling and delivering orders", "Parcel carrier (EU)", "6 years after the financial year",
                      "the person, when ordering", "Mail vendor (US, under SCCs)", "automated",
                      "data protection authority", "GDPR Art. 16", "data/shop-db/orders.csv"]:
        assert item_text in index, item_text
    # Readable offline: no external assets; the only web addresses are links to the authority.
    assert not re.search(r"<script|<link|<img|src=|@import|url\(", index)
    links = re.findall(r"https?://[^\s\"<]+", index)
    # ... and our own privacy notice (the demo's, here), a link the person may follow, never loaded.
    notice = absolute_url(settings.DSR_PRIVACY_NOTICE_URL)
    assert links and set(links) == {a.url for a in law.for_request(request).authorities} | {notice}
    # The stored file is not a readable ZIP, and holds no personal data in clear.
    raw = (storage.export_root() / item.file).read_bytes()
    assert not raw.startswith(b"PK") and b"PK\x03\x04" not in raw and ALICE.encode() not in raw
    # A code works once; the download is counted and audited.
    again = api.post(f"/api/v1/requests/{request.reference}/download/", {"code": code}, format="json", **auth)
    assert again.status_code == 400 and again.json()["error"] == "code_used"
    assert ResultBundle.objects.get(pk=item.pk).downloads == 1
    assert AuditEvent.objects.filter(request=request, verb="bundle.downloaded").count() == 1


def systems_dsn():
    return SystemConnection.objects.get(name="shop-db").secrets["dsn"]


def _officer():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="pat", defaults={"is_staff": True})
    return user


def test_ccpa_never_discloses_a_social_security_number_and_says_so(
    api, systems, newsletter, django_capture_on_commit_callbacks
):
    request = run(subject_request("access", regime="ccpa"), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        access.release(request, actor=Actor.scheduler())
    request.refresh_from_db()
    assert request.outcome == "partial"
    response, _, _ = download(api, request, django_capture_on_commit_callbacks)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    customer = json.loads(archive.read("data/shop-db/customer.json"))[0]
    assert "ssn" not in customer and customer["email"] == ALICE
    assert b"123-45-6789" not in archive.read("data/shop-db/customer.csv")
    manifest = json.loads(archive.read("manifest.json"))
    assert {"system": "shop-db", "category": "customer", "scope": "field", "field": "ssn",
            "reason": "11 CCR §7024(d): a social security number is never disclosed"} in manifest["withheld"]
    assert "social security number is never disclosed" in archive.read("index.html").decode()


def test_an_officer_can_withhold_a_category_with_a_reason(api, systems, newsletter, django_capture_on_commit_callbacks):
    newsletter.answer((200, {"status": "completed",
                             "records": [{"category": "records", "fields": {"list": "weekly", "note": "from B"}}]}))
    request = run(subject_request("access"), django_capture_on_commit_callbacks)
    assert request.jobs.get(system__name="newsletter").export_records == 1
    with django_capture_on_commit_callbacks(execute=True):
        call_command("desk", "withhold", request.reference, "--officer", _officer().username,
                     "--system", "newsletter", "--category", "records",
                     "--reason", "Art. 15(4): it would reveal another person's data")
        access.release(request, actor=Actor.scheduler())
    assert "Art. 15(4)" in mail.outbox[-1].body
    response, _, _ = download(api, request, django_capture_on_commit_callbacks)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "data/newsletter/records.json" not in archive.namelist()
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["withheld"][0]["reason"].startswith("Art. 15(4)")


def test_a_download_needs_the_persons_token_a_fresh_code_and_an_unexpired_link(
    api, systems, newsletter, django_capture_on_commit_callbacks
):
    request = run(subject_request("access"), django_capture_on_commit_callbacks)
    access.release(request, actor=Actor.scheduler())
    other = RequestFactory(kind="access", status=Status.VERIFIED, identifiers={"email": BOB})
    wrong_person = {"HTTP_AUTHORIZATION": f"Bearer {status_token(other)}"}
    url = f"/api/v1/requests/{request.reference}/download/"
    assert api.post(f"{url}code/", **wrong_person).status_code == 404
    assert api.post(url, {"code": "123456"}, format="json", **wrong_person).status_code == 404
    assert api.post(url, {"code": "123456"}, format="json").status_code == 401
    mine = {"HTTP_AUTHORIZATION": f"Bearer {status_token(request)}"}
    no_code_yet = api.post(url, {"code": "123456"}, format="json", **mine)
    assert no_code_yet.status_code == 400 and no_code_yet.json()["error"] == "code_expired"
    ResultBundle.objects.filter(request=request).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.post(f"{url}code/", **mine).status_code == 409
    assert access.expire_bundles() == 1
    item = ResultBundle.objects.get(request=request)
    assert item.deleted_at and not (storage.export_root() / item.file).exists()
    # The officer re-issues it; the person gets a new link by email and can download again.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("desk", "reissue", request.reference, "--officer", _officer().username)
    assert "ready to download again" in mail.outbox[-1].subject
    response, _, _ = download(api, request, django_capture_on_commit_callbacks)
    assert response.status_code == 200


def test_the_status_page_offers_the_download_behind_a_code(client, systems, newsletter, django_capture_on_commit_callbacks):
    request = run(subject_request("access"), django_capture_on_commit_callbacks)
    access.release(request, actor=Actor.scheduler())
    token = status_token(request)
    page = client.get(f"/requests/{request.reference}/?t={token}")
    assert "Download your data" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/requests/{request.reference}/download/code/", {"t": token})
    code = code_from(mail.outbox[-1])
    wrong = client.post(f"/requests/{request.reference}/download/", {"t": token, "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400 and "That code is wrong" in wrong.content.decode()
    response = client.post(f"/requests/{request.reference}/download/", {"t": token, "code": code})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{request.reference}.zip"'
    assert zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).testzip() is None


def test_an_erasure_masks_and_deletes_rows_issues_a_certificate_and_suppresses_the_person(
    api, client, desk_login, systems, newsletter, django_capture_on_commit_callbacks
):
    newsletter.default = (200, {"status": "completed", "affected": 1, "by_category": {"subscribers": 1}})
    request = run(subject_request("erasure"), django_capture_on_commit_callbacks)
    assert request.status == Status.COMPLETED
    dsn = systems_dsn()
    assert query(dsn, "SELECT email, name, address, ssn FROM customer WHERE name IS NULL") == [(None, None, None, None)]
    assert query(dsn, "SELECT count(*) FROM customer WHERE email = %s", (ALICE,)) == [(0,)]
    assert query(dsn, "SELECT count(*) FROM orders") == [(3,)]  # Bob's remain
    assert query(dsn, "SELECT email FROM customer WHERE email IS NOT NULL") == [(BOB,)]
    body = mail.outbox[-1].body
    assert "We have erased your data" in body and "Parcel carrier (EU)" in body
    # The certificate, for officers only.
    url = f"/desk/requests/{request.pk}/certificate/"
    assert client.get(url).status_code == 302  # to the login page
    desk_login("auditor")
    page = client.get(url).content.decode()
    assert "Certificate of erasure" in page and request.reference in page
    assert "shop-db" in page and "newsletter" in page
    assert "customer: mask, 1 before, 0 after" in page and "orders: delete, 3 before, 0 after" in page
    # The suppression list answers for Alice's hash, not for Bob's.
    system = SystemConnection.objects.get(name="newsletter")
    from dsr.engine.connections import token_hash

    SystemConnection.objects.filter(pk=system.pk).update(token_hash=token_hash("newsletter-token"))
    auth = {"HTTP_AUTHORIZATION": "Bearer newsletter-token"}
    check = "/api/v1/systems/suppression/check"
    alice = hashlib.sha256(b"alice@example.com").hexdigest()
    bob = hashlib.sha256(b"bob@example.com").hexdigest()
    assert api.post(check, {"sha256": alice}, format="json", **auth).json()["suppressed"] is True
    assert api.post(check, {"kind": "email", "sha256": bob}, format="json", **auth).json()["suppressed"] is False
    assert api.post(check, {"sha256": "not-a-hash"}, format="json", **auth).status_code == 400
    assert api.post(check, {"sha256": alice}, format="json").status_code == 401
    from dsr.core.models import Suppression

    assert alice not in str(list(Suppression.objects.values_list("digest", flat=True)))
    assert suppression.is_suppressed("email", suppression.sha256_of("email", " Alice@Example.com "))


def test_an_exception_keeps_one_systems_data_and_the_person_is_told(
    api, systems, newsletter, django_capture_on_commit_callbacks
):
    request = subject_request("erasure")
    call_command("desk", "keep", request.reference, "--officer", _officer().username, "--system", "shop-db",
                 "--ground", "legal_obligation", "--reason", "Invoices are kept 6 years under tax law.")
    request = run(request, django_capture_on_commit_callbacks)
    assert (request.status, request.outcome) == (Status.COMPLETED, "partial")
    job = request.jobs.get(system__name="shop-db")
    assert job.status == "skipped" and job.result["exception"] == "legal_obligation"
    assert query(systems_dsn(), "SELECT count(*) FROM customer WHERE email = %s", (ALICE,)) == [(1,)]
    body = mail.outbox[-1].body
    assert "Art. 17(3)(b)" in body and "Invoices are kept 6 years under tax law." in body
    with pytest.raises(CommandError, match="Exceptions apply to erasure requests only"):
        call_command("desk", "keep", RequestFactory(kind="access").reference, "--officer", "pat",
                     "--system", "shop-db", "--ground", "legal_claims", "--reason", "x")


def test_a_rectification_changes_the_value_in_the_real_database(
    systems, newsletter, django_capture_on_commit_callbacks
):
    request = subject_request(
        "rectification",
        changes=[{"field": "address", "value": "9 New Road"}, {"field": "name", "value": "Alicia"}],
    )
    newsletter.default = (200, {"status": "completed", "affected": 0})
    assert current.read_current(str(request.pk)) == ["shop-db"]  # as verification does; the webhook cannot be read
    call_command("desk", "decide", request.reference, "--officer", _officer().username,
                 "--accept", "1", "--reject", "2", "The name matches your passport.")
    request = run(request, django_capture_on_commit_callbacks)
    assert request.status == Status.REVIEW
    assert query(systems_dsn(), "SELECT name, address FROM customer WHERE email = %s", (ALICE,)) == [("Alice", "9 New Road")]
    with django_capture_on_commit_callbacks(execute=True):
        call_command("desk", "close", request.reference, "--officer", _officer().username)
    request.refresh_from_db()
    assert request.status == Status.COMPLETED
    body = mail.outbox[-1].body
    assert "address: corrected" in body and "name: not changed (The name matches your passport.)" in body
    assert "We will tell those we shared your data with" in body and "Parcel carrier (EU)" in body
    # A plain name is a task for the privacy team, not "done"; the newsletter changed nothing
    # (affected 0), so its mail vendor has nothing to be told.
    assert AuditEvent.objects.filter(request=request, verb="recipient.to_notify").count() == 1
    assert not AuditEvent.objects.filter(request=request, verb="recipient.notified").exists()
    assert "Mail vendor" not in body


def test_deny_and_extend_tell_the_person(django_capture_on_commit_callbacks):
    from dsr.core import deadlines
    from dsr.results import closing

    request = subject_request("access", regime="uk_gdpr")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("desk", "extend", request.reference, "--officer", _officer().username,
                     "--reason", "We hold your data in many systems.")
    request.refresh_from_db()
    assert request.extended_due_on == deadlines.extended_due_date("uk_gdpr", request.clock_started_on)
    assert "We need more time" in mail.outbox[-1].body and "many systems" in mail.outbox[-1].body
    with pytest.raises(closing.CannotClose, match="already been extended"):
        closing.extend(request, reason="again", actor=Actor.scheduler())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("desk", "deny", request.reference, "--officer", "pat", "--reason", "Manifestly unfounded.")
    request.refresh_from_db()
    assert request.status == Status.DENIED and request.denial_reason == "Manifestly unfounded."
    denied = mail.outbox[-1].body
    assert "Manifestly unfounded." in denied and "Information Commissioner" in denied


def test_lgpd_allows_no_extension():
    from dsr.results import closing

    request = subject_request("access", regime="lgpd")
    with pytest.raises(closing.CannotClose, match="allows no extension"):
        closing.extend(request, reason="busy", actor=Actor.scheduler())


def test_closed_requests_lose_identifiers_after_the_retention_period(systems, newsletter, django_capture_on_commit_callbacks, settings):
    from dsr.results.retention import purge

    request = run(subject_request("access"), django_capture_on_commit_callbacks)
    access.release(request, actor=Actor.scheduler())
    job = request.jobs.get(system__name="shop-db")
    settings.DSR_RECORD_RETENTION_MONTHS = 24
    assert purge() == 0
    DataSubjectRequest.objects.filter(pk=request.pk).update(closed_at=timezone.now() - timedelta(days=800))
    assert purge() == 1
    request.refresh_from_db()
    assert request.identifiers == {} and request.purged_at is not None
    assert (request.kind, request.status, request.received_at) == ("access", Status.COMPLETED, request.received_at)
    assert not (storage.export_root() / job.export_file).exists()
    assert AuditEvent.objects.filter(request=request, verb="request.purged").exists()
    assert re.match(r"DSR-", request.reference)
