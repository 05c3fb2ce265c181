"""How a status token lives and dies (issue 17).

Emails link to ``/requests/<ref>/open/<token>/``: it sets an HttpOnly, SameSite=Lax cookie
scoped to that request's pages and redirects to the token-free status page, so the token is
in no later address. A token lives ``DSR_STATUS_LINK_DAYS`` (30), a token from before the
verification dies with it, and an officer can revoke them all (desk and officer API, audited).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from dsr.core import tokens
from dsr.core.models import ApiToken, AuditEvent, DataSubjectRequest, Status
from dsr.desk.auth import token_hash
from tests.conftest import last_code
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


def _open_link(body: str) -> str:
    match = re.search(r"http://localhost:8000(/requests/[^/\s]+/open/[^/\s]+/)", body)
    assert match, body
    return match.group(1)


def test_the_link_sets_a_scoped_cookie_and_leaves_the_token_out_of_the_address(client, verified_request):
    created, verified = verified_request()
    reference = created["reference"]
    opened = client.get(f"/requests/{reference}/open/{verified['status_token']}/")
    assert opened.status_code == 302 and opened["Location"] == f"/requests/{reference}/"
    cookie = opened.cookies[tokens.COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == f"/requests/{reference}/"
    assert int(cookie["max-age"]) == settings.DSR_STATUS_LINK_DAYS * 86400
    page = client.get(opened["Location"])
    assert page.status_code == 200 and reference in page.content.decode()
    assert verified["status_token"] not in page.content.decode().split("<form", 1)[0]  # not in links or text


def test_the_cookie_is_secure_in_production(client, verified_request, settings):
    settings.SESSION_COOKIE_SECURE = True
    created, verified = verified_request()
    opened = client.get(f"/requests/{created['reference']}/open/{verified['status_token']}/")
    assert opened.cookies[tokens.COOKIE]["secure"]


def test_a_wrong_link_opens_nothing_and_sets_nothing(client, verified_request):
    created, _ = verified_request()
    opened = client.get(f"/requests/{created['reference']}/open/forged/")
    assert opened.status_code == 404 and tokens.COOKIE not in opened.cookies


def test_the_acknowledgements_link_dies_when_the_request_is_verified(client, api, file_request):
    created = file_request()
    link = _open_link(mail.outbox[-1].body)
    assert client.get(link).status_code == 302  # works while the request waits for its code
    verified = api.post(f"/api/v1/requests/{created['reference']}/verify/",
                        {"code": last_code("alice@example.com")}, format="json")
    assert verified.status_code == 200
    client.cookies.clear()
    assert client.get(link).status_code == 404
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    assert tokens.check_status_token(request, verified.json()["status_token"])  # the new one works


def test_a_token_lives_its_days_and_the_page_renews_the_cookie(client):
    request = RequestFactory(kind="access", status=Status.VERIFIED, verified_at=timezone.now())
    days = settings.DSR_STATUS_LINK_DAYS
    assert days <= 30
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = tokens.status_token(request)
        client.get(f"/requests/{request.reference}/open/{token}/")
        clock.shift(timedelta(days=days - 1))
        assert client.get(f"/requests/{request.reference}/").status_code == 200  # and a fresh cookie
        clock.shift(timedelta(days=2))
        assert not tokens.check_status_token(request, token)  # the emailed one has expired
        assert client.get(f"/requests/{request.reference}/").status_code == 200  # the renewed cookie has not


@pytest.mark.parametrize("surface", ["desk", "api"])
def test_an_officer_revokes_every_status_link(client, desk_login, surface, verified_request):
    created, verified = verified_request()
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    token = verified["status_token"]
    person = client.__class__()
    person.get(f"/requests/{request.reference}/open/{token}/")
    officer = desk_login("officer")
    if surface == "desk":
        done = client.post(f"/desk/requests/{request.pk}/revoke/")
        assert done.status_code == 302
    else:
        ApiToken.objects.create(user=officer, key_hash=token_hash("officer-key"))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION="Token officer-key")
        done = api.post(f"/api/v1/desk/requests/{request.pk}/revoke/", {}, format="json")
        assert done.status_code == 200, done.content
    request.refresh_from_db()
    assert not tokens.check_status_token(request, token)
    assert person.get(f"/requests/{request.reference}/").status_code == 404  # the cookie's token too
    assert client.get(f"/api/v1/requests/{request.reference}/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code \
        == 404
    assert AuditEvent.objects.filter(request=request, verb="status_links.revoked").count() == 1
    fresh = tokens.status_token(request)  # the next email carries one that works
    assert tokens.check_status_token(request, fresh)
