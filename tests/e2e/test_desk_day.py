"""A day at the desk in a real browser: assignment in the demo, one person's page, a message to
the person, the audit trail, and every page on a phone without sideways scrolling."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_otp.oath import totp

from dsr.core import audit
from dsr.core.audit import Actor
from dsr.core.crypto import identifier_hash
from dsr.core.models import DataSubjectRequest, Message, ReplyTemplate, Status, TOTPDevice
from tests.dsr.desk.users import PASSWORD, make_user
from tests.e2e.test_journey import browser, new_page  # noqa: F401 - shared browser fixtures
from tests.factories import RequestFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}


def log_in(page, url: str, username: str, password: str) -> None:
    device = TOTPDevice.objects.get(user__username=username)
    page.goto(f"{url}/desk/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Authenticator code").fill(f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/desk/")


def test_in_the_demo_the_officer_assigns_requests_and_finds_them_in_mine(live_server, new_page, settings):  # noqa: F811
    from playwright.sync_api import expect

    settings.DSR_PUBLIC_URL = live_server.url  # the demo's vendors are served here
    call_command("load_demo")
    dan = DataSubjectRequest.objects.get(kind="portability")
    ana = DataSubjectRequest.objects.get(kind="access", identifiers__isnull=False, status=Status.REVIEW)
    page = new_page()
    log_in(page, live_server.url, "officer", "demo-officer-pass")

    page.get_by_role("navigation", name="Desk").get_by_role("link", name="Mine").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Open requests assigned to me")
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    expect(page.locator("table.queue")).to_contain_text(ana.reference)

    # Dan's request: the demo officer (a superuser) is offered, and assigned.
    page.get_by_role("navigation", name="Desk").get_by_role("link", name="Queue").click()
    page.get_by_role("link", name=dan.reference).click()
    page.locator("form.row select[name=assignee]").select_option(label="officer")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator(".messages")).to_contain_text("Assigned to officer.")
    expect(page.locator("#timeline")).to_contain_text("officer assigned the request to officer.")

    # The two requests filed but not verified, at once, from the bulk bar.
    page.get_by_role("navigation", name="Desk").get_by_role("link", name="Queue").click()
    for kind in ("rectification", "access"):
        waiting = DataSubjectRequest.objects.get(kind=kind, status=Status.AWAITING_VERIFICATION)
        page.get_by_label(f"Tick {waiting.reference}").check()
    expect(page.locator("#selected-count")).to_have_text("(2 ticked)")
    page.get_by_label("Assign them to").select_option(label="officer")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("2 assigned.")
    page.get_by_role("navigation", name="Desk").get_by_role("link", name="Mine").click()
    expect(page.locator("table.queue tbody tr")).to_have_count(4)


def test_an_officer_finds_a_person_and_writes_to_them(live_server, new_page):  # noqa: F811
    from playwright.sync_api import expect

    email = "rosa.writes@example.com"
    person = {"identifiers": {"email": email, "name": "Rosa"}, "email_hash": identifier_hash("email", email)}
    older = RequestFactory(kind="access", status=Status.COMPLETED, closed_at=timezone.now(), **person)
    current = RequestFactory(kind="erasure", status=Status.VERIFIED, **person)
    ReplyTemplate.objects.create(name="Need more information", purpose="message",
                                 text="We could not find an account with this address. Which one do you use?")
    make_user("pat", "officer")
    page = new_page()
    log_in(page, live_server.url, "pat", PASSWORD)

    page.get_by_label("Search by reference or email").fill("Rosa.Writes@example.com")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.queue tbody tr")).to_have_count(1)  # the open one
    expect(page.locator("p.also")).to_contain_text("1 closed request also matches this search")
    page.get_by_role("link", name="Every request from this email address, on one page →").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(email)
    rows = page.locator("table.person-requests tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(current.reference)  # the open one first
    expect(rows.nth(1)).to_contain_text(older.reference)
    assert identifier_hash("email", email) in page.url and "rosa" not in page.url.lower()

    page.get_by_role("link", name=current.reference).click()
    page.get_by_label("Start from a reply template").select_option(label="Need more information")
    expect(page.get_by_label(re.compile("^Message to the person"))).to_have_value(
        "We could not find an account with this address. Which one do you use?")
    page.get_by_label(re.compile("^Message to the person")).fill(
        "We could not find an account with this address. Which one do you use, Rosa?")
    page.get_by_role("button", name="Send by email").click()
    expect(page.locator(".messages")).to_contain_text("Message written")
    messages = page.locator("#messages")
    expect(messages).to_contain_text("Which one do you use, Rosa?")
    expect(messages.locator("table.emails")).to_contain_text("Message from an officer")
    expect(messages.locator("table.emails")).to_contain_text("Sent: accepted by the mail server")
    expect(page.locator("#timeline")).to_contain_text("pat wrote to the person")
    [sent] = [m for m in mail.outbox if email in m.to]
    assert "Which one do you use, Rosa?" in sent.body and current.reference in sent.subject
    assert Message.objects.get().sent_at is not None
    page.screenshot(path="/tmp/e2e-desk-message.png", full_page=True)


def test_the_audit_trail_reads_as_sentences_and_the_chain_is_checked(live_server, new_page):  # noqa: F811
    from playwright.sync_api import expect

    request = RequestFactory(status=Status.VERIFIED)
    for n in range(12):  # more than nine events: their numbers must show whole
        audit.record("note.added", actor=Actor.scheduler(), request=request, details={"note": f"n{n}"})
    make_user("ada", "auditor")
    page = new_page()
    log_in(page, live_server.url, "ada", PASSWORD)

    page.goto(f"{live_server.url}/desk/requests/{request.reference}/")
    timeline = page.locator("#timeline ol.timeline")
    expect(timeline.locator("li")).to_have_count(12)
    expect(timeline.locator("li").nth(11)).to_contain_text("#12")
    expect(timeline.locator("li").nth(11)).to_contain_text("The system added an internal note.")
    clipped = timeline.evaluate(
        "ol => [...ol.querySelectorAll('.seq')].some(s => s.getBoundingClientRect().left < ol.getBoundingClientRect().left)")
    assert not clipped

    page.get_by_role("navigation", name="Desk").get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    expect(page.locator("[data-result=intact]")).to_contain_text("The chain is intact: 12 events checked")
    expect(page.locator("table.events tbody tr").first).to_contain_text("The system added an internal note.")


def test_no_desk_page_scrolls_sideways_on_a_phone(live_server, new_page):  # noqa: F811
    from playwright.sync_api import expect

    email = "a.very.long.address.for.a.narrow.screen@subdomain.example.com"
    person = {"identifiers": {"email": email, "name": "Long Name " * 4}, "email_hash": identifier_hash("email", email)}
    request = RequestFactory(kind="erasure", regime="ccpa", country="US", subdivision="CA", status=Status.VERIFIED,
                             **person)
    RequestFactory(kind="access", status=Status.COMPLETED, closed_at=timezone.now(), **person)
    for _ in range(5):
        RequestFactory(status=Status.VERIFIED)
    audit.record("request.received", actor=Actor.subject(), request=request,
                 details={"kind": "erasure", "regime": "ccpa", "channel": "web", "due_on": "2026-03-02"})
    make_user("pat", "officer")
    page = new_page(**PHONE)
    log_in(page, live_server.url, "pat", PASSWORD)
    for path in ("/desk/", "/desk/?state=all", f"/desk/requests/{request.pk}/", f"/desk/people/{request.email_hash}/",
                 "/desk/audit/", "/desk/reports/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, width)
    page.goto(f"{live_server.url}/desk/")
    # Each request is a card whose cells say what they are.
    first = page.locator("table.queue tbody tr").first
    assert first.locator("td[data-label=Regime]").evaluate("td => getComputedStyle(td, '::before').content") == '"Regime"'
    page.screenshot(path="/tmp/e2e-desk-phone.png", full_page=True)
