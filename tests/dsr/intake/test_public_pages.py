"""The public web form, verification pages and status page (server-rendered, no JavaScript)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from dsr.core import deadlines
from dsr.core.models import DataSubjectRequest, Status
from tests.conftest import last_code

pytestmark = pytest.mark.django_db

GOOD = {
    "kind": "access",
    "email": "carol@example.com",
    "country": "IE",
    "state": "",
    "requester_type": "subject",
}


def test_the_form_has_a_label_for_every_field(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        if field_id.startswith(("id_kind_", "id_requester_type_")):
            assert f'for="{field_id}"' in html, field_id
        else:
            assert f'<label for="{field_id}"' in html, field_id
    assert "authorized agent" in html
    assert "<title>Make a privacy request · Example Ltd</title>" in html
    # Only our own static script, no inline one (the CSP would refuse it).
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/dsr/public.js" defer>']


def test_the_whole_journey_works_without_javascript(client, post_form):
    response = post_form(GOOD)
    assert response.status_code == 302
    request = DataSubjectRequest.objects.get()
    assert response["Location"] == f"/requests/{request.reference}/verify/"
    page = client.get(response["Location"])
    assert request.reference in page.content.decode()
    confirmed = client.post(response["Location"], {"code": last_code("carol@example.com")})
    assert confirmed.status_code == 302
    status_page = client.get(confirmed["Location"])
    html = status_page.content.decode()
    assert status_page.status_code == 200
    due = deadlines.due_date("gdpr", timezone.localdate())
    assert f'<dd id="due">{due.day} {due.strftime("%B %Y")}</dd>' in html
    assert "Verified" in html


def test_errors_are_shown_beside_their_fields(post_form):
    response = post_form({**GOOD, "email": "nope", "country": "US", "state": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_email_error"' in html and "valid email" in html
    assert 'id="id_state_error"' in html and "US state" in html
    assert 'aria-invalid="true"' in html
    assert not DataSubjectRequest.objects.exists()


def test_a_rectification_needs_an_item_and_its_value(post_form):
    response = post_form({**GOOD, "kind": "rectification", "change_field_1": "surname"})
    assert response.status_code == 400
    assert 'id="id_change_value_1_error"' in response.content.decode()
    response = post_form({**GOOD, "kind": "rectification"})
    assert "at least one field" in response.content.decode()
    ok = post_form(
        {**GOOD, "kind": "rectification", "change_field_1": "surname", "change_value_1": "Jones"}
    )
    assert ok.status_code == 302
    assert DataSubjectRequest.objects.get().changes == [{"field": "surname", "value": "Jones"}]


def test_an_agent_must_say_who_they_are(post_form):
    response = post_form({**GOOD, "requester_type": "agent"})
    assert response.status_code == 400
    assert "agent&#x27;s name" in response.content.decode()
    ok = post_form(
        {**GOOD, "requester_type": "agent", "agent_name": "Dee", "agent_email": "dee@agents.example"}
    )
    assert ok.status_code == 302
    assert DataSubjectRequest.objects.get().requester_type == "agent"


def test_oversized_and_garbage_input_gets_a_form_error_not_a_500(post_form):
    response = post_form({**GOOD, "details": "x" * 6000, "kind": "nonsense", "country": "ZZ"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_details_error"' in html
    assert 'id="id_kind_error"' in html
    assert 'id="id_country_error"' in html


def test_a_wrong_code_says_so_on_the_page(client, post_form):
    reference = post_form(GOOD)["Location"].split("/")[2]
    right = last_code("carol@example.com")
    response = client.post(f"/requests/{reference}/verify/", {"code": "000000" if right != "000000" else "111111"})
    assert response.status_code == 400
    assert "That code or link did not work" in response.content.decode()
    assert DataSubjectRequest.objects.get().status == Status.AWAITING_VERIFICATION


def test_the_emailed_link_asks_for_a_press_before_it_verifies(client, post_form):
    post_form(GOOD)
    link = re.search(r"http://localhost:8000(/requests/[^\s]+/verify/[^\s]+/)", mail.outbox[-1].body)
    assert link
    page = client.get(link.group(1))
    assert page.status_code == 200
    assert DataSubjectRequest.objects.get().status == Status.AWAITING_VERIFICATION
    pressed = client.post(link.group(1))
    assert pressed.status_code == 302
    assert DataSubjectRequest.objects.get().status == Status.VERIFIED
    assert "Verified" in client.get(pressed["Location"]).content.decode()


def test_the_status_link_in_the_email_opens_the_status_page(client, post_form):
    post_form(GOOD)
    link = re.search(r"http://localhost:8000(/requests/([^/\s]+)/open/[^\s]+/)", mail.outbox[-1].body)
    assert link and "?t=" not in mail.outbox[-1].body
    opened = client.get(link.group(1))
    assert opened.status_code == 302 and opened["Location"] == f"/requests/{link.group(2)}/"  # no token in it
    page = client.get(opened["Location"])
    assert page.status_code == 200
    assert "Awaiting verification" in page.content.decode()


def test_a_status_page_without_the_right_token_shows_nothing(client, post_form):
    reference = post_form(GOOD)["Location"].split("/")[2]
    for url in [f"/requests/{reference}/", f"/requests/{reference}/?t=forged", "/requests/DSR-0000-0000/?t=x"]:
        response = client.get(url)
        assert response.status_code == 404
        assert "carol" not in response.content.decode()
        assert "Access" not in response.content.decode()


def test_resend_from_the_page_is_rate_limited(client, post_form):
    reference = post_form(GOOD)["Location"].split("/")[2]
    with override_settings(DSR_RATE_RESEND_PER_REQUEST="1/h"):
        client.post(f"/requests/{reference}/resend/")
        second = client.post(f"/requests/{reference}/resend/", follow=True)
    assert len(mail.outbox) == 2
    assert "Please wait before asking again" in second.content.decode()


def test_filing_from_the_form_is_rate_limited_per_ip(post_form):
    with override_settings(DSR_RATE_SUBMIT_PER_IP="1/h"):
        assert post_form(GOOD).status_code == 302
        response = post_form({**GOOD, "email": "dave@example.com"})
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert DataSubjectRequest.objects.count() == 1


def test_an_unknown_reference_is_a_friendly_404(client):
    response = client.get("/requests/DSR-0000-0000/verify/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
