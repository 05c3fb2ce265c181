"""The officers' desk: who may do what (the whole matrix), the queue, a request, every action."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from dsr.core import deadlines
from dsr.core.audit import Actor
from dsr.core.crypto import identifier_hash
from dsr.core.models import (
    AuditEvent,
    DataSubjectRequest,
    Note,
    ReplyTemplate,
    Status,
    SystemConnection,
    TOTPDevice,
)
from dsr.core.tokens import status_token
from dsr.engine import fanout
from tests.dsr.desk.users import current_code, issue_key, make_user
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


# --- logging in -----------------------------------------------------------------------


def test_an_officer_logs_in_with_password_and_totp(client):
    user = make_user("pat", "officer")
    page = client.get("/desk/")
    assert page.status_code == 302 and page["Location"].startswith("/desk/login/")
    response = client.post(
        "/desk/login/", {"username": "pat", "password": "secret-pass-123", "otp_token": current_code(user)}
    )
    assert response.status_code == 302 and response["Location"] == "/desk/"
    assert client.get("/desk/").status_code == 200


def test_a_wrong_totp_code_is_refused_and_throttled(client):
    user = make_user("pat", "officer")
    # The clock stands still, so the second try falls inside the throttle's one-second wait
    # however slow the machine is.
    with time_machine.travel(timezone.now(), tick=False):
        right = current_code(user)
        wrong = "000000" if right != "000000" else "111111"
        response = client.post("/desk/login/", {"username": "pat", "password": "secret-pass-123",
                                                "otp_token": wrong})
        assert response.status_code == 200 and not response.wsgi_request.user.is_authenticated
        # django-otp throttles the device after a failure: even the right code waits a moment.
        again = client.post("/desk/login/", {"username": "pat", "password": "secret-pass-123",
                                             "otp_token": right})
    assert again.status_code == 200
    assert TOTPDevice.objects.get(user=user).throttling_failure_count >= 1


def test_a_password_alone_never_opens_the_desk(client):
    user = make_user("pat", "officer")
    client.force_login(user)  # logged in, second factor not verified
    assert client.get("/desk/").status_code == 302
    api = APIClient()
    api.force_login(user)
    assert api.get("/api/v1/desk/requests/").status_code == 401


# --- the matrix: every endpoint × every actor ---------------------------------------------


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    SystemConnection.objects.create(name="paper", connector="manual")
    verified = RequestFactory(kind="access", status=Status.VERIFIED)
    erased = RequestFactory(kind="erasure", status=Status.VERIFIED)
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(erased, actor=Actor.scheduler())
    job = erased.jobs.get()
    return {"verified": verified, "erased": erased, "job": job}


PAGE_GETS = [
    lambda w: "/desk/",
    lambda w: "/desk/?overdue=1&kind=access",
    lambda w: f"/desk/requests/{w['verified'].pk}/",
    lambda w: f"/desk/requests/{w['erased'].pk}/progress/",
    lambda w: f"/desk/requests/{w['erased'].pk}/certificate/",
]
PAGE_POSTS = [
    lambda w: (f"/desk/requests/{w['verified'].pk}/note/", {"text": "called them"}),
    lambda w: (f"/desk/requests/{w['verified'].pk}/assign/", {"assignee": ""}),
    lambda w: (f"/desk/requests/{w['verified'].pk}/regime/", {"regime": "gdpr"}),
    lambda w: (f"/desk/jobs/{w['job'].pk}/skip/", {"reason": ""}),
    lambda w: ("/desk/bulk/", {"action": "assign", "selected": [str(w["verified"].pk)]}),
]
API_GETS = [
    lambda w: "/api/v1/desk/requests/",
    lambda w: f"/api/v1/desk/requests/{w['verified'].pk}/",
]
API_POSTS = [
    lambda w: (f"/api/v1/desk/requests/{w['verified'].pk}/note/", {"text": "from a script"}),
    lambda w: (f"/api/v1/desk/jobs/{w['job'].pk}/skip/", {"reason": ""}),
    lambda w: ("/api/v1/desk/bulk/assign/", {"ids": [str(w["verified"].pk)], "assignee": None}),
]
ROLES = ["officer", "administrator", "auditor"]


def login_as(client, actor):
    """Returns an API client authenticated as ``actor``, having logged ``client`` in the same way."""
    api = APIClient()
    if actor == "anonymous":
        return api
    if actor == "no_role":
        user = make_user("outsider")
    elif actor == "no_otp":
        user = make_user("halfway", "officer")
        client.force_login(user)
        api.force_login(user)
        return api
    else:
        user = make_user(actor, actor)
    client.post("/desk/login/", {"username": user.username, "password": "secret-pass-123",
                                 "otp_token": current_code(user)})
    if actor != "no_role":
        api.credentials(HTTP_AUTHORIZATION=f"Token {issue_key(user.username)}")
    else:
        from dsr.core.models import ApiToken
        from dsr.desk.auth import token_hash

        ApiToken.objects.create(user=user, key_hash=token_hash("outsider-key"))
        api.credentials(HTTP_AUTHORIZATION="Token outsider-key")
    return api


@pytest.mark.parametrize("actor", ["anonymous", "no_role", "no_otp", *ROLES])
def test_the_role_matrix_for_every_desk_page_and_api_endpoint(client, world, actor):
    api = login_as(client, actor)
    reads_allowed = actor in ROLES
    acts_allowed = actor in ("officer", "administrator")
    for url in (g(world) for g in PAGE_GETS):
        status = client.get(url).status_code
        if reads_allowed:
            assert status == 200, (actor, url, status)
        elif actor == "no_role":
            assert status == 403, (actor, url, status)
        else:
            assert status == 302, (actor, url, status)  # to the login page
    for url, data in (p(world) for p in PAGE_POSTS):
        status = client.post(url, data).status_code
        if acts_allowed:
            assert status == 302, (actor, url, status)  # back to the page, done or refused with a message
        elif actor in ("no_role", "auditor"):
            assert status == 403, (actor, url, status)
        else:
            assert status == 302, (actor, url, status)
    for url in (g(world) for g in API_GETS):
        status = api.get(url).status_code
        expected = 200 if reads_allowed else 403 if actor == "no_role" else 401
        assert status == expected, (actor, url, status)
    for url, data in (p(world) for p in API_POSTS):
        status = api.post(url, data, format="json").status_code
        expected = (200, 409) if acts_allowed else (403,) if actor in ("no_role", "auditor") else (401,)
        assert status in expected, (actor, url, status)
    if not acts_allowed:
        assert not Note.objects.exists()


def test_a_subjects_or_a_systems_token_never_opens_the_desk(world, verified_request):
    _, verified = verified_request()
    system = SystemConnection.objects.get(name="paper")
    from dsr.engine.connections import token_hash

    SystemConnection.objects.filter(pk=system.pk).update(token_hash=token_hash("system-key"))
    for header in (f"Bearer {verified['status_token']}", "Bearer system-key", f"Token {verified['status_token']}",
                   "Token system-key"):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=header)
        for url in ("/api/v1/desk/requests/", f"/api/v1/desk/requests/{world['verified'].pk}/"):
            assert api.get(url).status_code == 401, (header, url)
        assert api.post(f"/api/v1/desk/requests/{world['verified'].pk}/approve/").status_code == 401


# --- the queue ----------------------------------------------------------------------------


def test_the_queue_filters_searches_and_sorts_by_due_date(client, desk_login):
    me = desk_login("officer")
    today = timezone.localdate()
    soon = RequestFactory(kind="erasure", regime="ccpa", due_on=today + timedelta(days=1), assignee=me)
    late = RequestFactory(kind="access", due_on=today - timedelta(days=3))
    calm = RequestFactory(kind="access", due_on=today + timedelta(days=20),
                          identifiers={"email": "findme@example.com"},
                          email_hash=identifier_hash("email", "findme@example.com"))
    RequestFactory(kind="access", status=Status.COMPLETED, due_on=today - timedelta(days=30))

    def refs(query):
        response = client.get(f"/desk/?{query}")
        assert response.status_code == 200
        return [r["r"].reference for r in response.context["rows"]]

    assert refs("open=1") == [late.reference, soon.reference, calm.reference]
    assert refs("open=1&sort=-due") == [calm.reference, soon.reference, late.reference]
    assert refs("overdue=1") == [late.reference]
    assert refs("due_within=2") == [late.reference, soon.reference]
    assert refs("kind=erasure") == [soon.reference]
    assert refs("regime=ccpa") == [soon.reference]
    assert refs("mine=1") == [soon.reference]
    assert refs("assignee=none&open=1") == [late.reference, calm.reference]
    assert refs("q=FindMe@Example.com") == [calm.reference]  # found by its keyed hash
    assert refs(f"q={calm.reference[4:8].lower()}") == [calm.reference]
    page = client.get("/desk/?open=1").content.decode()
    assert 'class="pill overdue">-3<' in page and 'class="pill urgent">1<' in page and 'class="pill calm">20<' in page


def test_bad_queue_filters_get_a_clear_message_not_a_500(client, desk_login):
    desk_login("officer")
    response = client.get("/desk/?status=sleeping&due_within=x&sort=sideways&assignee=bob")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Unknown status" in body and "A number of days" in body


def test_the_queue_page_makes_the_same_number_of_queries_whatever_the_page_size(client, desk_login):
    me = desk_login("officer")
    others = [make_user(f"o{i}", "officer", device=False) for i in range(3)]
    for i in range(210):
        RequestFactory(assignee=others[i % 3] if i % 2 else me)
    counts = []
    for size in (25, 200):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/desk/?size={size}")
        assert response.status_code == 200 and len(response.context["rows"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_bulk_approve_and_assign_from_the_queue(client, desk_login, django_capture_on_commit_callbacks):
    desk_login("officer")
    colleague = make_user("sam", "officer", device=False)
    a = RequestFactory(status=Status.VERIFIED)
    b = RequestFactory(status=Status.VERIFIED)
    c = RequestFactory(status=Status.AWAITING_VERIFICATION)
    ids = [str(a.pk), str(b.pk), str(c.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/desk/bulk/", {"action": "approve", "selected": ids, "next": "/desk/?open=1"},
                               follow=True)
    assert "2 approved, 1 could not be." in response.content.decode()
    client.post("/desk/bulk/", {"action": "assign", "selected": ids, "assignee": colleague.pk})
    assert set(DataSubjectRequest.objects.values_list("assignee__username", flat=True)) == {"sam"}
    evil = client.post("/desk/bulk/", {"action": "assign", "selected": ids, "next": "https://evil.example/"})
    assert evil["Location"] == "/desk/"


# --- one request, every action --------------------------------------------------------------


def test_the_request_page_shows_everything_on_one_page(client, desk_login, django_capture_on_commit_callbacks):
    desk_login("auditor")
    SystemConnection.objects.create(name="paper", connector="manual", config={"instructions": "Shred it"})
    request = RequestFactory(kind="erasure", status=Status.VERIFIED,
                             identifiers={"email": "lee@example.com", "name": "Lee"})
    Note.objects.create(request=request, text="They phoned on Monday.")
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    page = client.get(f"/desk/requests/{request.pk}/").content.decode()
    for text in ["lee@example.com", "Lee", "EU (GDPR)", "Germany", "They phoned on Monday.", "paper", "Shred it",
                 "The system approved the request.", 'data-poll="/desk/requests/', "Your role reads only."]:
        assert text in page, text
    fragment = client.get(f"/desk/requests/{request.pk}/progress/").content.decode()
    assert "Waiting for the system or a person" in fragment


@pytest.fixture
def officer_page(client, desk_login, django_capture_on_commit_callbacks):
    desk_login("officer")

    def act(request, action, data=None, files=None):
        url = f"/desk/requests/{request.pk}/{action}/"
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {**(data or {}), **(files or {})}, follow=True)
        request.refresh_from_db()
        return response.content.decode()

    return act


def test_approve_deny_and_extend_from_the_page(officer_page):
    ReplyTemplate.objects.create(name="Unfounded", purpose="deny", text="Manifestly unfounded.")
    request = RequestFactory(status=Status.VERIFIED, regime="uk_gdpr")
    page = officer_page(request, "extend", {"reason": "Complex: many systems."})
    assert "Extended to" in page and request.extended_due_on == deadlines.extended_due_date(
        "uk_gdpr", request.clock_started_on)
    assert "Unfounded" in page  # the template is offered
    assert "already been extended" in officer_page(request, "extend", {"reason": "again"})
    assert "needs the reason" in officer_page(request, "deny", {"reason": ""})
    officer_page(request, "deny", {"reason": "Manifestly unfounded."})
    assert request.status == Status.DENIED
    assert "Manifestly unfounded." in mail.outbox[-1].body
    other = RequestFactory(status=Status.VERIFIED)
    officer_page(other, "approve")
    assert other.status in (Status.IN_PROGRESS, Status.REVIEW)


def test_assign_note_and_correct_the_regime_from_the_page(officer_page):
    request = RequestFactory(status=Status.VERIFIED, regime="gdpr", country="US", subdivision="CA")
    sam = make_user("sam", "officer", device=False)
    officer_page(request, "assign", {"assignee": sam.pk})
    assert request.assignee == sam
    officer_page(request, "note", {"text": "Checked the CRM by hand."})
    assert Note.objects.get(request=request).text == "Checked the CRM by hand."
    officer_page(request, "regime", {"regime": "ccpa"})
    received = timezone.localdate(request.received_at)
    assert (request.regime, request.due_on) == ("ccpa", deadlines.due_date("ccpa", received))
    assert request.acknowledge_by == deadlines.acknowledge_by("ccpa", received)
    assert "Unknown regime" in officer_page(request, "regime", {"regime": "mars"})
    verbs = set(AuditEvent.objects.filter(request=request).values_list("verb", flat=True))
    assert {"request.assigned", "note.added", "request.regime_corrected"} <= verbs


def test_jobs_are_retried_skipped_and_ticked_off_from_the_page(client, desk_login, django_capture_on_commit_callbacks, settings):
    settings.DSR_RETRY_BASE_SECONDS = 0
    desk_login("officer")
    SystemConnection.objects.create(name="paper", connector="manual")
    SystemConnection.objects.create(name="legacy", connector="cobol")
    request = RequestFactory(kind="access", status=Status.VERIFIED)
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    paper = request.jobs.get(system__name="paper")
    legacy = request.jobs.get(system__name="legacy")
    assert (paper.status, legacy.status) == ("waiting", "failed")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/desk/jobs/{legacy.pk}/retry/")
    legacy.refresh_from_db()
    assert legacy.status == "failed" and legacy.attempts == 1  # retried, failed again (still unknown)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/desk/jobs/{legacy.pk}/skip/", {"reason": "Decommissioned in 2024."})
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("../../etc/letter.pdf", b"%PDF scanned", content_type="application/pdf")
        client.post(f"/desk/jobs/{paper.pk}/complete/", {"note": "Found one letter", "file": upload})
    paper.refresh_from_db()
    request.refresh_from_db()
    assert paper.status == "succeeded" and paper.export_records == 1
    from dsr.core import storage

    [record] = list(storage.read_records(paper.export_file))
    assert record["fields"]["filename"] == "letter.pdf"  # no path tricks
    assert request.status == Status.REVIEW


def test_review_decide_keep_withhold_release_and_close_from_the_page(officer_page):
    SystemConnection.objects.create(
        name="crm", connector="memory",
        config={"records": [{"category": "profile", "fields": {"email": "a@example.com", "name": "A"}},
                            {"category": "notes", "fields": {"email": "a@example.com", "text": "about B"}}]},
    )
    access = RequestFactory(kind="access", status=Status.VERIFIED, identifiers={"email": "a@example.com"})
    officer_page(access, "approve")
    assert access.status == Status.REVIEW
    job = access.jobs.get()
    page = officer_page(access, "withhold", {"job": job.pk, "category": "notes", "reason": "Art. 15(4): B's data"})
    assert "Withheld from the bundle." in page
    officer_page(access, "release")
    assert access.status == Status.COMPLETED and access.outcome == "partial"

    rect = RequestFactory(kind="rectification", status=Status.VERIFIED, identifiers={"email": "a@example.com"},
                          changes=[{"field": "name", "value": "Ann"}, {"field": "email", "value": "x@y.z"}])
    assert "Accept or reject each correction first" in officer_page(rect, "approve")
    assert "Reading the current values" in officer_page(rect, "read")  # what the officer decides against
    officer_page(rect, "decide", {"decision_0": "accept", "decision_1": "reject", "reason_1": "Not a correction."})
    officer_page(rect, "approve")
    assert rect.status == Status.REVIEW
    officer_page(rect, "close")
    assert rect.status == Status.COMPLETED

    erase = RequestFactory(kind="erasure", status=Status.VERIFIED, identifiers={"email": "a@example.com"})
    crm = SystemConnection.objects.get(name="crm")
    officer_page(erase, "keep", {"system": crm.pk, "ground": "legal_claims", "reason": "A dispute is open."})
    officer_page(erase, "approve")
    assert erase.status == Status.COMPLETED and erase.outcome == "partial"


# --- the officer API -----------------------------------------------------------------------


@pytest.fixture
def officer_api():
    user = make_user("script", "officer")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_key('script')}")
    api.user = user
    return api


def test_the_officer_api_lists_filters_and_paginates(officer_api):
    today = timezone.localdate()
    for days in (5, 1, 9):
        RequestFactory(due_on=today + timedelta(days=days))
    body = officer_api.get("/api/v1/desk/requests/?limit=2").json()
    assert body["count"] == 3 and [r["days_left"] for r in body["results"]] == [1, 5]
    assert officer_api.get("/api/v1/desk/requests/?limit=2&offset=2").json()["results"][0]["days_left"] == 9
    bad = officer_api.get("/api/v1/desk/requests/?kind=telepathy")
    assert bad.status_code == 400 and bad.json()["fields"]["kind"]


@pytest.mark.parametrize(
    "query", ["offset=true", "limit=", "offset=", "limit=0", "limit=501", "offset=-1", "limit=2.5", "limit=\u0661"]
)
def test_the_officer_api_refuses_a_page_that_is_not_a_whole_number(officer_api, query):
    RequestFactory()
    bad = officer_api.get(f"/api/v1/desk/requests/?{query}")
    assert bad.status_code == 400, query
    assert bad.json()["fields"].keys() & {"limit", "offset"}


def test_the_officer_api_schema_says_what_a_page_may_be(officer_api):
    schema = officer_api.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/desk/requests/"]["get"]["parameters"]}
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert parameters["offset"] == {"type": "integer", "minimum": 0}


def test_the_officer_api_acts_and_refuses_clearly(officer_api, django_capture_on_commit_callbacks):
    request = RequestFactory(status=Status.VERIFIED, regime="gdpr")
    url = f"/api/v1/desk/requests/{request.pk}"
    detail = officer_api.get(f"{url}/").json()
    assert detail["reference"] == request.reference and detail["email"] == request.email
    assert officer_api.post(f"{url}/note/", {"text": "via API"}, format="json").json()["detail"] == "Note added."
    refused = officer_api.post(f"{url}/deny/", {}, format="json")
    assert refused.status_code == 409 and refused.json()["error"] == "refused"
    assert officer_api.post(f"{url}/teleport/", {}, format="json").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        done = officer_api.post(f"{url}/approve/", {}, format="json")
    assert done.status_code == 200 and done.json()["status"] in ("in_progress", "review")
    twice = officer_api.post(f"{url}/approve/", {}, format="json")
    assert twice.status_code == 409
    assert officer_api.post("/api/v1/desk/bulk/approve/", {"ids": ["nope"]}, format="json").status_code == 400
    decide = RequestFactory(kind="rectification", status=Status.VERIFIED, changes=[{"field": "name", "value": "B"}])
    assert officer_api.post(f"/api/v1/desk/requests/{decide.pk}/read/", {}, format="json").status_code == 200
    response = officer_api.post(f"/api/v1/desk/requests/{decide.pk}/decide/",
                                {"decisions": [{"index": 1, "accept": True}]}, format="json")
    assert response.status_code == 200
    decide.refresh_from_db()
    assert decide.changes[0]["decision"] == "accepted"
    event = AuditEvent.objects.filter(request=request, verb="note.added").get()
    assert (event.actor_type, event.actor_id) == ("officer", str(officer_api.user.pk))


def test_an_api_token_is_shown_once_and_stored_hashed(capsys):
    user = make_user("script", "auditor")
    key = issue_key("script")
    from dsr.core.models import ApiToken

    stored = ApiToken.objects.get(user=user)
    assert key.startswith("dsrtok_") and key not in stored.key_hash
    nobody = make_user("nobody")
    with pytest.raises(Exception, match="no desk role"):
        call_command("issue_api_token", nobody.username)


def test_the_openapi_schema_documents_the_desk_api(api):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    assert "/api/v1/desk/requests/" in paths
    assert "/api/v1/desk/requests/{request_id}/{action}/" in paths
    assert "/api/v1/desk/jobs/{job_id}/{action}/" in paths


def test_a_status_token_for_request_a_opens_nothing_of_request_b(api):
    a = RequestFactory(status=Status.VERIFIED)
    b = RequestFactory(status=Status.VERIFIED)
    response = api.get(f"/api/v1/requests/{b.reference}/", HTTP_AUTHORIZATION=f"Bearer {status_token(a)}")
    assert response.status_code == 404
