"""The emails a person reads (issue 15): real HTML in one branded layout with buttons and
inline styles, a plain-text part beside it, and a resent code that says it replaces the last."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from dsr.core import emails
from dsr.core.models import Status
from tests.conftest import last_code
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

PERSON_EMAILS = ["acknowledgement", "received", "download_code", "message", "outcome_completed",
                 "outcome_partial", "outcome_denied", "outcome_extended", "outcome_reissued"]


def _context(request):
    return {"request": request, "status_url": "https://privacy.example/requests/x/?t=tok", "code": "123456",
            "ttl_minutes": 30, "verify_url": "https://privacy.example/v", "code_url": "https://privacy.example/c",
            "text": "Please send <b>a copy</b> of your ID.", "bundle": None}


@pytest.mark.parametrize("template", PERSON_EMAILS)
def test_every_email_to_a_person_is_real_branded_html(template, settings):
    settings.DSR_ORGANISATION = "Acme Shop"
    settings.DSR_BRAND_COLOUR = "#6b2fa0"
    settings.DSR_LOGO_URL = "/static/acme.png"
    settings.DSR_PRIVACY_NOTICE_URL = "https://acme.example/privacy"
    settings.DSR_PUBLIC_URL = "https://privacy.acme.example"
    request = RequestFactory(status=Status.COMPLETED, denial_reason="We could not find you.",
                             extension_reason="Many systems.", extended_due_on="2026-12-31")
    subject, text, html = emails.render(template, _context(request))
    assert "<pre" not in html and "<style" in html  # only the phone-width @media rules stay in <style>
    assert "@media" in html and "{ color:" not in html.split("</style>")[0]
    assert 'style="background: #6b2fa0;color: #ffffff;' in html  # the brand band, its colour inlined
    assert '<img src="https://privacy.acme.example/static/acme.png"' in html  # a whole address in a mailbox
    assert 'href="https://acme.example/privacy"' in html and "mailto:privacy@localhost" in html
    assert "Acme Shop" in html and re.search(r'<html lang="en">', html)
    assert '<meta name="viewport"' in html
    if template not in ("download_code",):
        button = re.search(r'<a class="button" href="([^"]+)" style="[^"]*display: inline-block', html)
        assert button, template
    assert request.reference in subject and "\n" not in subject
    assert "<" not in text.replace("<b>", "").replace("</b>", "")  # plain, but for an officer's text as typed
    assert request.reference in text


def test_what_a_person_or_officer_typed_is_escaped_in_html():
    request = RequestFactory(status=Status.VERIFIED)
    _, text, html = emails.render("message", _context(request))
    assert "Please send &lt;b&gt;a copy&lt;/b&gt; of your ID." in html
    assert "Please send <b>a copy</b> of your ID." in text


def test_a_sent_email_has_both_parts(post_form):
    post_form({"kind": "access", "email": "dora@example.com", "country": "IE", "requester_type": "subject"})
    message = mail.outbox[-1]
    assert message.body and "<" not in message.body
    (html, mimetype), = message.alternatives
    assert mimetype == "text/html" and '<a class="button"' in html


def test_a_resent_code_says_it_replaces_the_earlier_one(client, post_form, django_capture_on_commit_callbacks):
    post_form({"kind": "access", "email": "eli@example.com", "country": "IE", "requester_type": "subject"})
    first = mail.outbox[-1]
    assert "replaces" not in first.body and "new code" not in first.subject
    reference = re.search(r"DSR-[0-9A-Z]{4}-[0-9A-Z]{4}", first.subject).group(0)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/requests/{reference}/resend/")
    resent = mail.outbox[-1]
    assert resent is not first
    assert "It replaces the one we sent earlier" in resent.body
    assert "It replaces the one we sent earlier" in resent.alternatives[0][0]
    assert "a new code" in resent.subject
    assert last_code("eli@example.com") != ""
