"""The public journey in three languages, in a real browser: file, verify, follow, download.

The language comes from the browser (Accept-Language, set by the context's locale) or from
the person's choice (the language switcher in the page header); the request
keeps it, so its emails and its bundle's ``index.html`` are in it too. Selectors name
fields and forms, not their (translated) texts.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core import mail
from django.utils import translation

from dsr.core import law
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Kind, Status
from dsr.engine import fanout
from dsr.results import access
from tests.conftest import code_from
from tests.e2e.test_journey import _emails_to, browser, new_page  # noqa: F401 - shared browser fixtures

pytestmark = pytest.mark.e2e

REFERENCE_RE = re.compile(r"DSR-[0-9A-Z]{4}-[0-9A-Z]{4}")


def said_in(language: str, text) -> str:
    """``text`` (English, or a lazy translation) in ``language``; never the English itself."""
    with translation.override("en"):
        english = str(text)
    with translation.override(language):
        translated = translation.gettext(english)
    assert translated != english, f"{english!r} is not translated into {language}"
    return translated


def choose_language(page, language: str) -> None:
    """The language switcher in the page header (it posts to Django's /i18n/setlang/)."""
    switcher = page.locator("form.language")
    switcher.locator("select[name=language]").select_option(language)
    with page.expect_navigation():
        switcher.locator("button[type=submit]").click()


def file_and_verify(page, live_server, language: str, email: str, country: str) -> DataSubjectRequest:
    """Fill the form, confirm with the emailed code; returns the request, checking each page's language."""
    from playwright.sync_api import expect

    assert page.locator("html").get_attribute("lang") == language
    expect(page.locator("label[for=id_email]")).to_contain_text(said_in(language, "Your email address"))
    page.locator('input[name="kind"][value="access"]').check()
    page.locator("#id_email").fill(email)
    page.locator("#id_country").select_option(value=country)
    page.get_by_role("button", name=said_in(language, "Send my request")).click()

    page.wait_for_url(re.compile(r"/requests/DSR-[0-9A-Z]{4}-[0-9A-Z]{4}/verify/$"))
    assert page.locator("html").get_attribute("lang") == language
    message = page.locator(".messages li").first
    reference = REFERENCE_RE.search(message.inner_text()).group(0)
    with translation.override(language):
        thanks = translation.gettext("Thank you. Your request %(reference)s is recorded. We have emailed you a "
                                     "6-digit code to confirm it is you.") % {"reference": reference}
    expect(message).to_have_text(thanks)
    request = DataSubjectRequest.objects.get(reference=reference)
    assert request.language == language

    sent = _emails_to(email)
    assert len(sent) == 1, [m.subject for m in mail.outbox]
    assert said_in(language, Kind.ACCESS.label) in sent[0].body
    code = code_from(sent[0])

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.locator('input[name="code"]').fill(wrong)
    page.locator('input[name="code"]').press("Enter")
    with translation.override(language):
        # One answer to anyone holding only the reference: wrong, used or expired alike.
        refused = translation.gettext(
            "That code or link did not work: it may be mistyped, used already or out of date, "
            "or have been tried too often. Use the latest email, or ask for a new code.")
    expect(page.locator("#id_code_error")).to_have_text(refused)

    page.locator('input[name="code"]').fill(code)
    page.locator('input[name="code"]').press("Enter")
    page.wait_for_url(re.compile(rf"/requests/{reference}/$"))  # the token went into a cookie
    assert page.locator("html").get_attribute("lang") == language
    expect(page.locator("#status")).to_have_text(said_in(language, Status.VERIFIED.label))
    expect(page.locator("#law")).to_have_text(said_in(language, law.law_for("gdpr").name))
    request.refresh_from_db()
    assert request.status == Status.VERIFIED
    return request


def test_in_german_from_the_browsers_language(live_server, new_page):  # noqa: F811
    page = new_page(locale="de-DE")
    page.goto(f"{live_server.url}/")
    file_and_verify(page, live_server, "de", "e2e-de@example.com", "DE")


def test_in_french_chosen_on_the_page_over_the_browsers_language(live_server, new_page):  # noqa: F811
    page = new_page(locale="en-GB")
    page.goto(f"{live_server.url}/")
    assert page.locator("html").get_attribute("lang") == "en"
    choose_language(page, "fr")
    file_and_verify(page, live_server, "fr", "e2e-fr@example.com", "FR")


def test_in_polish_with_the_bundle_in_polish(live_server, new_page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page = new_page(locale="pl-PL")
    page.goto(f"{live_server.url}/")
    request = file_and_verify(page, live_server, "pl", "e2e-pl@example.com", "PL")

    # The privacy team approves and releases it from the desk, in English, through the same code
    # path the desk uses; the worker runs eagerly. The bundle is built in Polish regardless.
    with translation.override("en"):
        fanout.approve(request, actor=Actor.scheduler())
        request.refresh_from_db()
        access.release(request, actor=Actor.scheduler())
    request.refresh_from_db()
    assert request.status == Status.COMPLETED

    page.reload()
    expect(page.locator("#status")).to_have_text(said_in("pl", Status.COMPLETED.label))
    before = len(_emails_to("e2e-pl@example.com"))
    page.locator('form[action$="/download/code/"] button[type="submit"]').click()
    expect(page.locator(".messages li").first).to_have_text(
        said_in("pl", "We have emailed you a download code. It works once."))
    code = code_from(_emails_to("e2e-pl@example.com", at_least=before + 1)[-1])

    download_form = page.locator('form[action$="/download/"]')
    download_form.locator('input[name="code"]').fill(code)
    with page.expect_download() as downloading:
        download_form.locator('button[type="submit"]').click()
    saved = tmp_path / "bundle.zip"
    downloading.value.save_as(saved)
    index = zipfile.ZipFile(io.BytesIO(saved.read_bytes())).read("index.html").decode()
    assert '<html lang="pl">' in index
    assert said_in("pl", law.law_for("gdpr").name) in index
    assert said_in("pl", Kind.ACCESS.label) in index
