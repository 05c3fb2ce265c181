"""The desk's pages as an officer meets them: one queue, its heading and bulk bar, the links on
every page, who can be assigned (superusers too), and labels people read instead of codes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Status
from dsr.desk import actions
from tests.dsr.desk.users import make_user
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


def refs(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return [row["r"].reference for row in response.context["rows"]]


def test_the_queue_and_the_navs_queue_are_one_list_open_by_default_with_a_filter_for_closed(client, desk_login):
    desk_login("officer")
    today = timezone.localdate()
    open_one = RequestFactory(status=Status.VERIFIED, due_on=today + timedelta(days=3))
    closed = RequestFactory(status=Status.COMPLETED, due_on=today - timedelta(days=9))
    page = client.get("/desk/")
    assert refs(page) == [open_one.reference]
    nav = re.search(r'<nav aria-label="Desk">(.*?)</nav>', page.content.decode()).group(1)
    queue_link = re.search(r'href="([^"]+)"[^>]*>Queue<', nav).group(1)
    assert refs(client.get(queue_link)) == [open_one.reference]  # the nav's Queue is /desk/ itself
    assert refs(client.get("/desk/?state=closed")) == [closed.reference]
    assert set(refs(client.get("/desk/?state=all"))) == {open_one.reference, closed.reference}
    assert refs(client.get("/desk/?open=1")) == [open_one.reference]  # the older link still works
    # A search looks everywhere, closed requests included.
    assert refs(client.get(f"/desk/?q={closed.reference}")) == [closed.reference]
    assert client.get("/desk/?state=sideways").status_code == 400


def test_the_queue_has_a_heading_that_says_what_it_lists(client, desk_login):
    desk_login("officer")
    RequestFactory(status=Status.VERIFIED)
    assert "<h1>Open requests" in client.get("/desk/").content.decode()
    assert "<h1>Closed requests" in client.get("/desk/?state=closed").content.decode()
    assert "<h1>Open requests assigned to me" in client.get("/desk/?mine=1").content.decode()


def test_the_bulk_bar_says_what_it_does(client, desk_login):
    desk_login("officer")
    RequestFactory(status=Status.VERIFIED)
    page = client.get("/desk/").content.decode()
    assert "Tick requests in the list, then act on all of them at once" in page
    assert '<button type="submit" name="action" value="approve">Approve the ticked requests</button>' in page
    assert "nobody (take them off whoever has them)" in page and "With the selected…" not in page


@pytest.mark.parametrize("path", ["/desk/", "/desk/?state=closed", "/desk/audit/", "/desk/reports/",
                                  "/desk/reports/ccpa/", "request", "person"])
def test_every_desk_page_links_to_the_reports_and_the_audit_trail(client, desk_login, path):
    desk_login("auditor")
    request = RequestFactory(status=Status.VERIFIED)
    path = {"request": f"/desk/requests/{request.pk}/", "person": f"/desk/people/{request.email_hash}/"}.get(path, path)
    page = client.get(path).content.decode()
    nav = re.search(r'<nav aria-label="Desk">(.*?)</nav>', page).group(1)
    assert 'href="/desk/reports/">Reports</a>' in nav and 'href="/desk/audit/">Audit trail</a>' in nav


def test_a_superuser_counts_as_staff_who_can_be_assigned_and_mine_then_lists_it(client, desk_login):
    """The demo's officer is a superuser without a group: the desk offered no one to assign."""
    boss = make_user("boss", superuser=True)
    auditor = make_user("reader", "auditor")
    me = desk_login("officer", username="pat")
    request = RequestFactory(status=Status.VERIFIED)
    page = client.get(f"/desk/requests/{request.pk}/")
    offered = {u.username for u in page.context["officers"]}
    assert offered == {"boss", "pat"} and auditor.username not in offered
    client.post(f"/desk/requests/{request.pk}/assign/", {"assignee": boss.pk})
    assert DataSubjectRequest.objects.get(pk=request.pk).assignee == boss
    client.post(f"/desk/requests/{request.pk}/assign/", {"assignee": me.pk})
    assert refs(client.get("/desk/?mine=1")) == [request.reference]


def test_assignment_in_the_demo_offers_the_demo_officer_and_mine_is_not_empty(client):
    from django.core.management import call_command
    from django_otp import DEVICE_ID_SESSION_KEY

    from dsr.core.models import TOTPDevice

    call_command("load_demo")
    officer = TOTPDevice.objects.get(user__username="officer")
    client.force_login(officer.user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = officer.persistent_id
    session.save()
    mine = refs(client.get("/desk/?mine=1"))
    assert mine, "the demo assigns a request to its officer"
    any_request = DataSubjectRequest.objects.exclude(reference__in=mine).first()
    page = client.get(f"/desk/requests/{any_request.pk}/")
    assert [u.username for u in page.context["officers"]] == ["officer"]
    client.post(f"/desk/requests/{any_request.pk}/assign/", {"assignee": officer.user.pk})
    assert any_request.reference in refs(client.get("/desk/?mine=1"))


def test_the_desk_shows_labels_not_codes_and_dates_with_the_year(client, desk_login):
    desk_login("officer")
    request = RequestFactory(kind="erasure", regime="ccpa", country="US", subdivision="CA", status=Status.VERIFIED)
    actions.add_note(request, "Phoned them.", author=None, actor=Actor.scheduler())
    queue = client.get("/desk/").content.decode()
    assert "California (CCPA)" in queue and ">Erasure<" in queue and ">ccpa<" not in queue
    year = str(timezone.localdate().year)
    page = client.get(f"/desk/requests/{request.pk}/").content.decode()
    assert "California, United States" in page and "California (CCPA)" in page
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.DOTALL).group(1)
    assert "status." not in timeline and year in timeline
    assert "The system added an internal note." in timeline


def test_the_request_page_takes_the_reference_as_well_as_the_id(client, desk_login):
    desk_login("officer")
    request = RequestFactory(status=Status.VERIFIED)
    assert client.get(f"/desk/requests/{request.reference}/").context["req"] == request
    assert client.get(f"/desk/requests/{request.reference.lower()}/").context["req"] == request
    assert client.get("/desk/requests/DSR-0000-0000/").status_code == 404


def test_the_officer_api_filters_open_or_closed_too(api):
    from tests.dsr.desk.users import issue_key

    make_user("script", "auditor")
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_key('script')}")
    open_one = RequestFactory(status=Status.VERIFIED)
    closed = RequestFactory(status=Status.DENIED)

    def listed(query: str) -> set[str]:
        return {r["reference"] for r in api.get(f"/api/v1/desk/requests/?{query}").json()["results"]}

    assert listed("") == {open_one.reference, closed.reference}  # the API's default is unchanged: all
    assert listed("state=open") == {open_one.reference} and listed("state=closed") == {closed.reference}
    assert api.get("/api/v1/desk/requests/?state=maybe").status_code == 400
