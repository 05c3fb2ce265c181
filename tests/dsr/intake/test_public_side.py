"""The public side as a requester sees it (issue 15): a form that fits the kind of request,
the status page's cancel, steps and contact, the branding on every page, and the small
things a browser asks for. Structure only; tests/e2e/test_public_side.py runs them in Chromium."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from dsr.core import branding
from dsr.core.models import AuditEvent, DataSubjectRequest, Status
from dsr.core.tokens import status_token
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

GOOD = {"kind": "access", "email": "carol@example.com", "country": "IE", "state": "", "requester_type": "subject"}


def _hidden(html: str, element_id: str) -> bool:
    tag = re.search(rf'<[^>]*\bid="{element_id}"[^>]*>', html)
    assert tag, element_id
    return re.search(r"\shidden(\s|>|=)", tag.group(0)) is not None


def _state_hidden(html: str) -> bool:
    tag = re.search(r'<div class="field" data-show-when="country=US"[^>]*>', html)
    return " hidden" in tag.group(0)


def test_the_form_asks_for_the_kind_first(client):
    html = client.get("/").content.decode()
    assert _hidden(html, "rest")  # nothing but the kinds until one is chosen
    assert 'name="step" value="kind"' in html  # the step a browser without JavaScript takes


def test_without_javascript_continue_shows_what_the_kind_needs(client):
    response = client.post("/", {"kind": "rectification", "step": "kind"})
    assert response.status_code == 200
    html = response.content.decode()
    assert not _hidden(html, "rest") and not _hidden(html, "changes")
    assert 'class="error' not in html and "error-summary" not in html  # nothing checked yet
    assert 'name="step"' not in html
    assert not DataSubjectRequest.objects.exists()

    access = client.post("/", {"kind": "access", "step": "kind"}).content.decode()
    assert not _hidden(access, "rest") and _hidden(access, "changes")


def test_a_link_can_choose_the_kind(client):
    html = client.get("/?kind=erasure").content.decode()
    assert 'value="erasure" required id="id_kind_3" checked' in html or re.search(
        r'value="erasure"[^>]*checked', html)
    assert not _hidden(html, "rest")
    assert _hidden(client.get("/?kind=nonsense").content.decode(), "rest")


def test_the_us_state_shows_only_for_the_united_states(client):
    assert _state_hidden(client.post("/", {**GOOD, "country": "FR", "email": "x"}).content.decode())
    assert not _state_hidden(client.post("/", {**GOOD, "country": "US", "email": "x"}).content.decode())


def test_agent_details_open_when_an_agent_files(client):
    closed = client.post("/", {**GOOD, "email": "x"}).content.decode()
    assert re.search(r'<details class="more" id="agent">', closed)
    opened = client.post("/", {**GOOD, "email": "x", "requester_type": "agent"}).content.decode()
    assert re.search(r'<details class="more" id="agent" open>', opened)


def test_corrections_count_only_for_a_rectification(post_form):
    response = post_form({**GOOD, "change_field_1": "surname", "change_value_1": "Jones"})
    assert response.status_code == 302
    assert not DataSubjectRequest.objects.get().changes


def test_a_failed_submit_says_what_is_wrong_and_links_each_field(client):
    response = client.post("/", {"email": "nope", "country": "US", "requester_type": "agent"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "<title>Error: Make a privacy request" in html
    summary = re.search(r'<div class="error-summary" id="error-summary"[^>]*>(.*?)</div>', html, re.DOTALL)
    assert summary and "autofocus" in summary.group(0) and 'tabindex="-1"' in summary.group(0)
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary.group(1))
    assert [anchor for anchor, _ in links] == ["id_kind_0", "id_email", "id_state", "id_agent_name", "id_agent_email"]
    assert ("id_kind_0", "Choose what you want us to do with your data.") in links
    assert "Please correct the highlighted fields" not in html and "This field is required" not in html
    # Each link's target is on the page, and the radio group's error is tied to its fieldset.
    for anchor, _ in links:
        assert f'id="{anchor}"' in html
    assert '<fieldset aria-describedby="id_kind_error">' in html
    assert 'id="id_kind_error"' in html


def _status(client, request):
    return client.get(f"/requests/{request.reference}/?t={status_token(request)}").content.decode()


def test_a_person_cancels_a_request_not_yet_started(client):
    request = RequestFactory(status=Status.VERIFIED)
    page = _status(client, request)
    assert f'action="/requests/{request.reference}/cancel/"' in page
    response = client.post(f"/requests/{request.reference}/cancel/", {"t": status_token(request)})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == Status.CANCELLED and request.outcome == "withdrawn"
    event = AuditEvent.objects.filter(request=request, verb="status.cancelled").get()
    assert event.actor_type == "subject" and event.details["reason"] == "withdrawn by the person"
    page = client.get(response["Location"]).content.decode()
    assert "Your request is cancelled" in page and "You cancelled this request" in page
    assert "/cancel/" not in page  # nothing left to cancel


def test_the_officers_desk_shows_a_withdrawn_request_as_cancelled(client, desk_login):
    request = RequestFactory(status=Status.AWAITING_VERIFICATION)
    client.post(f"/requests/{request.reference}/cancel/", {"t": status_token(request)})
    desk_login("officer")
    page = client.get(f"/desk/requests/{request.pk}/").content.decode()
    assert "Cancelled" in page and "cancelled the request" in page


@pytest.mark.parametrize("status", [Status.APPROVED, Status.IN_PROGRESS, Status.REVIEW, Status.COMPLETED])
def test_work_started_cannot_be_cancelled(client, status):
    request = RequestFactory(status=status)
    assert "/cancel/" not in _status(client, request)
    response = client.post(f"/requests/{request.reference}/cancel/", {"t": status_token(request)}, follow=True)
    request.refresh_from_db()
    assert request.status == status
    assert "can no longer be cancelled" in response.content.decode()


def test_cancel_needs_the_persons_own_link_and_a_post(client):
    request = RequestFactory(status=Status.VERIFIED)
    other = RequestFactory(status=Status.VERIFIED)
    assert client.post(f"/requests/{request.reference}/cancel/", {"t": status_token(other)}).status_code == 404
    assert client.post(f"/requests/{request.reference}/cancel/", {}).status_code == 404
    assert client.get(f"/requests/{request.reference}/cancel/?t={status_token(request)}").status_code == 405
    request.refresh_from_db()
    assert request.status == Status.VERIFIED


def test_cancel_is_refused_without_the_csrf_token():
    from django.test import Client

    request = RequestFactory(status=Status.VERIFIED)
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(f"/requests/{request.reference}/cancel/", {"t": status_token(request)})
    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == Status.VERIFIED


def test_the_status_page_says_what_happens_next_and_how_to_reach_us(client):
    verified = _status(client, RequestFactory(status=Status.VERIFIED))
    steps = re.search(r'<ol class="steps" id="steps">(.*?)</ol>', verified, re.DOTALL).group(1)
    assert steps.count("<li") == 4
    assert re.search(r'<li aria-current="step">Our privacy team reviews', steps)
    assert 'href="mailto:privacy@localhost?subject=DSR-' in verified
    assert re.search(r'<span class="reference">DSR-[0-9A-Z]{4}-[0-9A-Z]{4}</span>', verified)

    completed = _status(client, RequestFactory(status=Status.COMPLETED))
    assert 'id="steps"' not in completed and "What happens next" not in completed
    assert "mailto:privacy@localhost" in completed


def test_every_public_page_carries_the_branding(client, settings):
    settings.DSR_ORGANISATION = "Acme Shop"
    settings.DSR_LOGO_URL = "https://cdn.acme.example/logo.svg"
    settings.DSR_PRIVACY_NOTICE_URL = "https://acme.example/privacy"
    settings.DSR_CONTACT_EMAIL = "privacy@acme.example"
    settings.DSR_DPO_CONTACT = "dpo@acme.example"
    request = RequestFactory(status=Status.VERIFIED)
    pages = [
        client.get("/"),
        client.get(f"/requests/{request.reference}/?t={status_token(request)}"),
        client.get(f"/requests/{request.reference}/verify/"),
        client.get(f"/requests/{request.reference}/?t=wrong"),
        client.get("/no-such-page/"),
    ]
    for response in pages:
        html = response.content.decode()
        assert '<img src="https://cdn.acme.example/logo.svg"' in html, response.request["PATH_INFO"]
        assert "Acme Shop" in html
        assert 'href="https://acme.example/privacy"' in html
        assert 'href="mailto:privacy@acme.example"' in html and "mailto:dpo@acme.example" in html
        assert 'href="/brand.css"' in html


def test_the_brand_colour_comes_with_a_readable_text_colour(client, settings):
    settings.DSR_BRAND_COLOUR = "#ffd33d"  # a light yellow: dark text on it
    css = client.get("/brand.css")
    assert css["Content-Type"].startswith("text/css")
    body = css.content.decode()
    assert "--brand: #ffd33d" in body and "--on-brand: #1b1f24" in body
    assert "--link: #0b5cad" in body  # yellow links on white would be unreadable
    settings.DSR_BRAND_COLOUR = "#0f5c55"
    body = client.get("/brand.css").content.decode()
    assert "--on-brand: #ffffff" in body and "--link: #0f5c55" in body


def test_a_brand_colour_no_text_can_be_read_on_is_refused_at_start_up(monkeypatch):
    from dsr.core import env

    assert branding.contrast("#ffffff", "#000000") == pytest.approx(21)
    with pytest.raises(ValueError, match="neither dark nor white text is readable"):
        branding.readable_text_on("#787878")
    monkeypatch.setenv("DSR_BRAND_COLOUR", "#787878")
    with pytest.raises(ImproperlyConfigured, match="DSR_BRAND_COLOUR has an unusable value: neither"):
        env.read("DSR_BRAND_COLOUR", env.brand_colour, "#0b5cad")
    monkeypatch.setenv("DSR_BRAND_COLOUR", "blue")
    with pytest.raises(ImproperlyConfigured, match="#rrggbb"):
        env.read("DSR_BRAND_COLOUR", env.brand_colour, "#0b5cad")


def test_favicon_answers_with_an_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    body = response.content
    assert body[:4] == b"\x00\x00\x01\x00" and b"\x89PNG" in body


def test_the_permissions_policy_names_only_features_chromium_knows(client):
    header = client.get("/")["Permissions-Policy"]
    assert "ambient-light-sensor" not in header and "bluetooth" not in header
    assert "camera=()" in header and "geolocation=()" in header


def test_the_server_error_page_is_branded_without_touching_the_session(settings, rf):
    from dsr.web.error_pages import server_error

    settings.DSR_ORGANISATION = "Acme Shop"
    request = rf.get("/somewhere/")  # no session, no user: as when the database has failed
    response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and "Acme Shop" in html
    assert 'href="/brand.css"' in html and "csrfmiddlewaretoken" not in html
