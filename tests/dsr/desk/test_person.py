"""A person's page and ``GET /api/v1/desk/people/?email=…``: every request of one person, found by
the keyed hash of their email (never the address in clear), open first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dsr.core import audit
from dsr.core.audit import Actor
from dsr.core.crypto import identifier_hash
from dsr.core.models import Status
from tests.dsr.desk.users import issue_key, make_user
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

EMAIL = "Noor.Person@Example.com"


@pytest.fixture
def noor():
    """Noor's four requests (two open, two closed), and someone else's."""
    today = timezone.localdate()
    key = identifier_hash("email", EMAIL)
    mine = {"identifiers": {"email": EMAIL, "name": "Noor P."}, "email_hash": key}
    requests = {
        "later": RequestFactory(status=Status.VERIFIED, due_on=today + timedelta(days=20), **mine),
        "sooner": RequestFactory(kind="erasure", status=Status.IN_PROGRESS, due_on=today + timedelta(days=2), **mine),
        "old": RequestFactory(status=Status.COMPLETED, received_at=timezone.now() - timedelta(days=300),
                              closed_at=timezone.now() - timedelta(days=280), **mine),
        "recent": RequestFactory(status=Status.DENIED, received_at=timezone.now() - timedelta(days=30),
                                 closed_at=timezone.now() - timedelta(days=20), **mine),
        "other": RequestFactory(status=Status.VERIFIED),
    }
    audit.record("request.received", actor=Actor.subject(), request=requests["later"],
                 details={"kind": "access", "regime": "gdpr", "channel": "web", "due_on": "2026-03-02"})
    return {**requests, "key": key}


def test_the_person_page_lists_every_request_of_theirs_open_first(client, desk_login, noor):
    desk_login("auditor")  # reading: every desk role
    response = client.get(f"/desk/people/{noor['key']}/")
    assert response.status_code == 200
    order = [row["r"].reference for row in response.context["rows"]]
    assert order == [noor[n].reference for n in ("sooner", "later", "recent", "old")]
    page = response.content.decode()
    assert EMAIL in page and "Noor P." in page and "4 requests, 2 open" in page
    assert noor["other"].reference not in page
    assert "The person filed the request (Access, EU (GDPR)) through the web form; due 2 Mar 2026." in page


def test_the_person_page_is_reached_from_each_request_and_from_a_search(client, desk_login, noor):
    desk_login("officer")
    link = f'href="/desk/people/{noor["key"]}/"'
    assert link in client.get(f"/desk/requests/{noor['old'].pk}/").content.decode()
    search = client.get("/desk/", {"q": "noor.person@example.com"}).content.decode()
    assert link in search and "Every request from this email address" in search


def test_the_person_is_found_by_the_keyed_hash_never_the_address_in_clear(client, desk_login, noor):
    desk_login("officer")
    page = client.get(f"/desk/requests/{noor['later'].pk}/").content.decode()
    assert "/desk/people/" in page and "/desk/people/noor" not in page.lower()
    with connection.cursor() as cursor:
        cursor.execute("SELECT email_hash, identifiers FROM dsr_datasubjectrequest WHERE id = %s",
                       [noor["later"].pk.hex if connection.vendor == "sqlite" else noor["later"].pk])
        stored_hash, stored_identifiers = cursor.fetchone()
    assert stored_hash == noor["key"] and EMAIL.lower() not in stored_identifiers.lower()


@pytest.mark.parametrize("key", ["0" * 64, "not-a-key", "A" * 64, ""])
def test_an_unknown_or_malformed_person_key_is_a_404(client, desk_login, noor, key):
    desk_login("officer")
    assert client.get(f"/desk/people/{key}/").status_code == 404


def test_a_purged_request_belongs_to_no_one(client, desk_login):
    desk_login("officer")
    purged = RequestFactory(status=Status.COMPLETED, identifiers={}, email_hash="")
    page = client.get(f"/desk/requests/{purged.pk}/").content.decode()
    assert "/desk/people/" not in page


def test_the_officer_api_finds_a_persons_requests_by_email(api, noor):
    make_user("script", "auditor")
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_key('script')}")
    body = api.get("/api/v1/desk/people/", {"email": " noor.person@EXAMPLE.com "}).json()
    assert body["person"] == noor["key"] and body["open"] == 2
    assert [r["reference"] for r in body["requests"]] == [
        noor[n].reference for n in ("sooner", "later", "recent", "old")]
    assert body["requests"][0]["regime_label"] == "EU (GDPR)"
    nobody = api.get("/api/v1/desk/people/", {"email": "nobody@example.com"}).json()
    assert nobody["requests"] == [] and nobody["open"] == 0
    for bad in ({}, {"email": "no-at-sign"}, {"email": "x@" + "y" * 300}):
        refused = api.get("/api/v1/desk/people/", bad)
        assert refused.status_code == 400 and refused.json()["fields"]["email"], bad


def test_the_people_path_is_in_the_openapi_schema(api):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    for path in ("/api/v1/desk/people/", "/api/v1/desk/requests/{request_id}/audit/",
                 "/api/v1/desk/requests/{request_id}/emails/", "/api/v1/desk/requests/{request_id}/message/"):
        assert "get" in paths[path] or "post" in paths[path], path
