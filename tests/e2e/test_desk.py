"""An officer's day in a real browser: TOTP login, the queue, a request approved, its systems
finishing live, and the result released to the person."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import totp

from connectors.memory import MemoryConnector
from dsr.core.models import DataSubjectRequest, Status, SystemConnection, TOTPDevice
from dsr.core.roles import Role, grant
from tests.e2e.test_journey import browser, new_page  # noqa: F401 - shared browser fixtures
from tests.factories import RequestFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_officer_logs_in_approves_watches_and_releases(live_server, new_page):  # noqa: F811
    from playwright.sync_api import expect

    MemoryConnector.reset()
    SystemConnection.objects.create(
        name="crm", connector="memory",
        config={"records": [{"category": "profile", "fields": {"email": "kim@example.com", "plan": "gold"}}]},
    )
    SystemConnection.objects.create(
        name="tickets", connector="memory",
        config={"records": [{"category": "tickets", "fields": {"email": "kim@example.com", "subject": "Hi"}}]},
    )
    target = RequestFactory(kind="access", status=Status.VERIFIED, identifiers={"email": "kim@example.com"})
    RequestFactory(kind="erasure", status=Status.VERIFIED)
    officer = get_user_model().objects.create_user("pat", "pat@corp.example", "secret-pass-123")
    grant(officer, Role.OFFICER)
    device = TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)

    page = new_page()
    page.goto(f"{live_server.url}/desk/")
    page.wait_for_url(re.compile(r"/desk/login/"))
    page.get_by_label("Username").fill("pat")
    page.get_by_label("Password").fill("secret-pass-123")
    page.get_by_label("Authenticator code").fill(f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/desk/")

    # Filter the queue to access requests and open ours.
    page.get_by_label("Kind").select_option("access")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name=target.reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(target.reference)

    # Approve; the systems run and the page follows them until the request is in review.
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text("Approved")
    expect(page.locator("h1 .pill")).to_have_text("In review", timeout=15_000)
    expect(page.locator("#progress")).to_contain_text("crm")
    expect(page.locator("#progress .pill.job-succeeded")).to_have_count(2)
    expect(page.locator("main")).to_contain_text("gold")  # the preview for review

    page.get_by_role("button", name="Release results to the person").click()
    expect(page.locator(".messages")).to_contain_text("Released")
    expect(page.locator("h1 .pill")).to_have_text("Completed")
    assert DataSubjectRequest.objects.get(pk=target.pk).bundles.count() == 1
    page.screenshot(path="/tmp/e2e-desk.png", full_page=True)
    MemoryConnector.reset()
