"""Under the Content-Security-Policy, pages work in a real browser and log no violation.

Chromium reports every blocked script, style or file on the console ("Refused to ... because
it violates the following Content Security Policy directive"). Each test also makes one
violation on purpose, to show that the listener would have caught a real one.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import totp

from dsr.core.models import Status, TOTPDevice
from dsr.core.roles import Role, grant
from tests.e2e.test_journey import browser, new_page  # noqa: F401 - shared browser fixtures
from tests.factories import RequestFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def watch(page) -> list[str]:
    """The page's console messages about the Content Security Policy, as they come."""
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return violations


def assert_the_listener_catches_a_violation(page, violations: list[str]) -> None:
    """An inline <style> added now must be refused, and reported."""
    page.evaluate(
        "document.head.appendChild(Object.assign(document.createElement('style'),"
        " {textContent: 'body { outline: 1px solid red; }'}))"
    )
    page.wait_for_timeout(200)  # the console event arrives asynchronously
    assert any("style-src" in text for text in violations), violations
    outline = page.evaluate("getComputedStyle(document.body).outlineStyle")
    assert outline != "solid"  # and the style was not applied


def test_the_public_form_under_the_policy(live_server, new_page):  # noqa: F811
    from playwright.sync_api import expect

    page = new_page()
    violations = watch(page)
    response = page.goto(f"{live_server.url}/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", level=1)).to_have_text("Make a privacy request")
    # The stylesheet is a static file now, and it applies.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 248, 250)"
    assert page.evaluate("getComputedStyle(document.querySelector('header a')).textDecorationLine") == "none"
    assert violations == []

    assert_the_listener_catches_a_violation(page, violations)


def test_the_desk_queue_under_the_policy(live_server, new_page):  # noqa: F811
    from playwright.sync_api import expect

    RequestFactory(kind="access", status=Status.VERIFIED)
    RequestFactory(kind="erasure", status=Status.VERIFIED)
    officer = get_user_model().objects.create_user("pat", "pat@corp.example", "secret-pass-123")
    grant(officer, Role.OFFICER)
    device = TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)

    page = new_page()
    violations = watch(page)
    page.goto(f"{live_server.url}/desk/login/")
    page.get_by_label("Username").fill("pat")
    page.get_by_label("Password").fill("secret-pass-123")
    page.get_by_label("Authenticator code").fill(f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/desk/")
    expect(page.locator("table.queue tbody tr")).to_have_count(2)

    # desk.js (a static file) runs: "/" focuses the search box, "select all" ticks every row.
    page.locator("body").press("/")
    expect(page.locator("#search")).to_be_focused()
    page.locator("#select-all").check()
    expect(page.locator("input[name=selected]:checked")).to_have_count(2)

    page.goto(f"{live_server.url}/desk/reports/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    assert page.evaluate("getComputedStyle(document.querySelector('.rp-kpis')).display") == "grid"
    assert violations == []

    assert_the_listener_catches_a_violation(page, violations)


def test_the_api_docs_under_the_policy(live_server, new_page):  # noqa: F811
    from playwright.sync_api import expect

    page = new_page()
    violations = watch(page)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/docs/")
    # Swagger UI started from its own files and read our schema.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Data-subject rights request handler API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/requests/$"))).to_have_count(1)
    assert outside == []  # nothing from a CDN
    assert violations == []

    assert_the_listener_catches_a_violation(page, violations)
