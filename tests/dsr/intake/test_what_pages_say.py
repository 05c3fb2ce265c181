"""Smaller untruths (issue 13, item 8): what a page or an email says matches what there is.

Closed requests show no days left; a closed request's page has no "what happens next";
the release email names the button the status page has; a confirmation link used again
offers no code to enter; a merged duplicate does not say only "you are verified" and
links the request it joined.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail

from connectors.memory import MemoryConnector
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Status, SystemConnection
from dsr.core.tokens import status_token
from dsr.engine import fanout
from dsr.results import access
from tests.conftest import code_from
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


def test_a_closed_request_shows_no_days_left(client, desk_login):
    desk_login("officer")
    closed = RequestFactory(status=Status.COMPLETED, kind="access")
    DataSubjectRequest.objects.filter(pk=closed.pk).update(closed_at=closed.received_at)
    page = client.get(f"/desk/requests/{closed.pk}/").content.decode()
    assert "left)" not in page and "(closed " in page
    assert client.get(f"/api/v1/desk/requests/{closed.pk}/").json()["days_left"] is None
    overdue = RequestFactory(status=Status.VERIFIED, kind="access")
    DataSubjectRequest.objects.filter(pk=overdue.pk).update(due_on=overdue.due_on.replace(year=2020))
    page = client.get(f"/desk/requests/{overdue.pk}/").content.decode()
    assert "overdue)" in page and "-" not in re.search(r"\((\S+) days? overdue\)", page).group(1)


def test_a_closed_requests_page_has_no_next_step_and_the_email_names_the_real_button(
    client, django_capture_on_commit_callbacks
):
    MemoryConnector.reset()
    SystemConnection.objects.create(name="crm", connector="memory", config={
        "records": [{"category": "customer", "fields": {"email": "kim@example.com"}}]})
    request = RequestFactory(kind="access", status=Status.VERIFIED, identifiers={"email": "kim@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        access.release(request, actor=Actor.scheduler())
    body = mail.outbox[-1].body
    page = client.get(f"/requests/{request.reference}/?t={status_token(request)}").content.decode()
    assert "What happens next" not in page and "How it ended" in page
    named = re.findall(r'press "([^"]+)"', body)
    assert named == ["Email me a download code"]
    buttons = re.findall(r"<button[^>]*>([^<]+)</button>", page)
    assert all(name in buttons for name in named), (named, buttons)


def test_a_confirmation_link_used_again_offers_no_code(client, verified_request):
    verified_request()
    link = re.search(r"(/requests/\S+/verify/\S+/)", mail.outbox[0].body).group(1)
    page = client.get(link).content.decode()
    assert "Enter a code instead" not in page and "needs no code now" in page
    again = client.post(link).content.decode()
    assert "Enter a code instead" not in again


def test_a_merged_duplicate_is_not_told_only_that_it_is_verified(client, post_form):
    for _ in range(2):
        post_form({"kind": "access", "email": "lee@example.com", "country": "IE", "state": "",
                   "requester_type": "subject"})
    first, second = DataSubjectRequest.objects.order_by("received_at")
    client.post(f"/requests/{first.reference}/verify/", {"code": code_for(first)}, follow=True)
    assert DataSubjectRequest.objects.get(pk=first.pk).status == Status.VERIFIED
    page = client.post(f"/requests/{second.reference}/verify/", {"code": code_for(second)}, follow=True)
    page = page.content.decode()
    second.refresh_from_db()
    assert second.status == Status.CANCELLED and second.duplicate_of == first
    assert "Thank you: you are verified." not in page and "You already have this request with us" in page
    assert f'href="/requests/{first.reference}/open/' in page


def code_for(request):
    (sent,) = [m for m in mail.outbox if request.reference in m.subject]
    return code_from(sent)

