"""The public journey in a real browser: file a request, verify it, read the due date.

Headless Debian Chromium driven by Playwright's sync API against pytest-django's
live server. Celery runs eagerly (pytest-env), so the acknowledgement email is sent
in the live-server thread on commit and lands in ``django.core.mail.outbox``.
"""

from __future__ import annotations

import os
import re
import time
from datetime import date
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from dsr.core import deadlines
from dsr.core.models import DataSubjectRequest, Status
from tests.conftest import IN_CI, code_from

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/e2e-status.png")
REFERENCE_RE = re.compile(r"DSR-[0-9A-Z]{4}-[0-9A-Z]{4}")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
TIMEOUT_MS = 10_000


def _unavailable(reason: str) -> None:
    """CI must run the browser tests; a developer machine without Chromium skips them."""
    if IN_CI:
        pytest.fail(f"e2e tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _long_date(day: date) -> str:
    """The template's ``date:"j F Y"``, written out independently of locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"the playwright package is not installed ({exc})")

    # Playwright's sync API keeps an event loop running in this thread, so Django would
    # refuse ORM calls from the test (SynchronousOnlyOperation); the documented workaround.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        try:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as exc:
            _unavailable(f"Chromium at {CHROMIUM} did not start: {exc}")
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser):
    """Open pages in fresh contexts (no shared cookies); all are closed after the test."""
    contexts = []

    def make(**context_options):
        context = browser.new_context(**context_options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _emails_to(address: str, *, at_least: int = 1, wait_s: float = 5.0) -> list:
    """Messages to ``address``; the send happens in the server thread, so allow a moment."""
    deadline = time.monotonic() + wait_s
    while True:
        sent = [m for m in mail.outbox if address in m.to]
        if len(sent) >= at_least or time.monotonic() > deadline:
            return sent
        time.sleep(0.05)


def test_a_person_files_verifies_and_sees_the_due_date(live_server, new_page):
    from playwright.sync_api import expect

    email = "e2e-person@example.com"
    page = new_page()
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Make a privacy request")

    page.get_by_label("Access").check()
    page.locator("#id_email").fill(email)
    page.locator("#id_country").select_option(value="DE")
    page.get_by_role("button", name="Send my request").click()

    # The verify page, with the reference from the success message.
    page.wait_for_url(re.compile(r"/requests/DSR-[0-9A-Z]{4}-[0-9A-Z]{4}/verify/$"))
    message = page.locator(".messages li").first
    expect(message).to_contain_text("is recorded")
    found = REFERENCE_RE.search(message.inner_text())
    assert found, message.inner_text()
    reference = found.group(0)
    assert page.url == f"{live_server.url}/requests/{reference}/verify/"
    expect(page.locator("main strong")).to_have_text(reference)

    sent = _emails_to(email)
    assert len(sent) == 1, [m.subject for m in mail.outbox]
    assert reference in sent[0].body
    right = code_from(sent[0])

    # A wrong code is refused, with the reason beside the field.
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    code_field = page.locator('input[name="code"]')
    code_field.fill(wrong)
    page.get_by_role("button", name="Confirm").click()
    error = page.locator("#id_code_error")
    expect(error).to_have_text(  # one answer to anyone holding only the reference
        "That code or link did not work: it may be mistyped, used already or out of date, "
        "or have been tried too often. Use the latest email, or ask for a new code.")
    expect(code_field).to_have_attribute("aria-describedby", "id_code_error")
    expect(code_field).to_have_attribute("aria-invalid", "true")
    assert page.url == f"{live_server.url}/requests/{reference}/verify/"

    # The right code leads to the status page, with the clock started today.
    before = timezone.localdate()
    code_field.fill(right)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(rf"/requests/{reference}/$"))  # the token went into a cookie
    after = timezone.localdate()

    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.locator("#status")).to_have_text("Verified")
    row = DataSubjectRequest.objects.get(reference=reference)
    # Verified "today": allow for the run straddling midnight without guessing.
    assert row.clock_started_on in {before, after}
    expected = deadlines.due_date("gdpr", row.clock_started_on)
    if before == after:
        assert expected == deadlines.due_date("gdpr", timezone.localdate())
    expect(page.locator("#due")).to_have_text(_long_date(expected))

    assert row.status == Status.VERIFIED
    assert row.regime == "gdpr"
    assert row.country == "DE"
    assert row.due_on == expected
    assert row.verified_at is not None

    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_the_form_reports_errors_without_javascript(live_server, new_page):
    from playwright.sync_api import expect

    page = new_page(java_script_enabled=False)
    page.goto(f"{live_server.url}/")
    form = page.locator("form").filter(has=page.locator("button", has_text="Send my request"))
    assert form.get_attribute("novalidate") is not None

    # The kind comes first: Continue without one, and the server says what is missing.
    expect(page.get_by_role("button", name="Send my request")).to_be_hidden()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Continue").click()
    assert posted.value.status == 400
    expect(page.locator("#id_kind_error")).to_have_text("Choose what you want us to do with your data.")
    expect(page.locator("#error-summary a")).to_have_text(["Choose what you want us to do with your data."])

    # Access chosen: the rest of the form, and nothing filled in: an error beside each field.
    page.get_by_label("Access").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#id_email")).to_be_visible()
    expect(page.locator("#changes")).to_be_hidden()  # corrections are for a rectification only
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send my request").click()
    assert posted.value.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("Make a privacy request")
    assert page.url == f"{live_server.url}/"
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#id_email_error")).to_have_text(
        "Enter your email address: we send the code to confirm it is you there.")
    expect(page.locator("#id_country_error")).to_have_text(
        "Choose the country where you live: it decides which law applies.")
    # Beside their fields: the email error in the email field's block.
    expect(page.locator(".field").filter(has=page.locator("#id_email"))
           .locator("#id_email_error")).to_be_visible()
    expect(page.locator("#id_kind_error")).to_have_count(0)
    expect(page.locator("#id_state_error")).to_have_count(0)

    # The United States without a state: only the state is wrong.
    page.locator("#id_email").fill("e2e-nojs@example.com")
    page.locator("#id_country").select_option(value="US")
    page.locator("#id_state").select_option(value="")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send my request").click()
    assert posted.value.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("Make a privacy request")
    expect(page.locator("#id_state_error")).to_be_visible()
    expect(page.locator(".field").filter(has=page.locator("#id_state"))
           .locator("#id_state_error")).to_be_visible()
    expect(page.locator("#id_email_error")).to_have_count(0)
    expect(page.locator("#id_kind_error")).to_have_count(0)
    # What the person typed is kept.
    expect(page.locator("#id_email")).to_have_value("e2e-nojs@example.com")
    expect(page.locator("#id_country")).to_have_value("US")

    assert not DataSubjectRequest.objects.exists()
    assert mail.outbox == []
