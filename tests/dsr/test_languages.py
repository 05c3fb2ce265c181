"""The requester's language: chosen at intake, stored on the request, followed by what is sent later.

The desk stays English whatever the browser asks. What "translated" means here is the
catalogues' own texts (``locale/``); ``tests/dsr/test_catalogues.py`` checks that every
text is translated.
"""

from __future__ import annotations

import html
import io
import zipfile

import pytest
from django.conf import settings
from django.core import mail
from django.utils import translation

from dsr.core import emails, i18n, storage, tokens
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Kind, Status
from dsr.core.selectors import current_bundle
from dsr.engine import fanout
from dsr.results import access
from tests.dsr.test_catalogues import english_sentences
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

FORM = {"kind": "access", "email": "dora@example.com", "country": "IE", "state": "", "requester_type": "subject"}
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != "en"]
GDPR_NAME = "the EU General Data Protection Regulation (GDPR)"


def said_in(language: str, text) -> str:
    """``text`` (English, or a lazy translation) as the catalogue of ``language`` says it; never the English."""
    with translation.override("en"):
        english = str(text)
    with translation.override(language):
        translated = translation.gettext(english)
    assert translated != english, f"{english!r} is not translated into {language}"
    return translated


@pytest.fixture
def post_form(client, django_capture_on_commit_callbacks):
    def post(data, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/", data, headers=headers)

    return post


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_the_form_answers_in_the_language_the_browser_asks_for(client, language):
    response = client.get("/", headers={"accept-language": f"{language},en;q=0.5"})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<html lang="{language}">' in html
    assert response["Content-Language"] == language
    with translation.override(language):
        label = translation.gettext("Your email address")
    assert label in html
    if language != "en":
        assert "Your email address" not in html


def test_a_regional_variant_gets_its_language_and_brazil_its_own_portuguese(client):
    assert 'lang="de"' in client.get("/", headers={"accept-language": "de-AT"}).content.decode()
    assert 'lang="pt-br"' in client.get("/", headers={"accept-language": "pt-BR"}).content.decode()
    assert 'lang="pt"' in client.get("/", headers={"accept-language": "pt-PT"}).content.decode()
    assert 'lang="en"' in client.get("/", headers={"accept-language": "ja"}).content.decode()


def test_the_web_form_stores_the_browser_language(post_form):
    assert post_form(FORM, accept_language="nl-BE,nl;q=0.9").status_code == 302
    assert DataSubjectRequest.objects.get().language == "nl"


def test_the_switcher_choice_wins_over_the_browser(client, post_form):
    switched = client.post("/i18n/setlang/", {"language": "pl", "next": "/"})
    assert switched.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "pl"
    page = client.get("/", headers={"accept-language": "de"}).content.decode()
    assert '<html lang="pl">' in page
    assert post_form(FORM, accept_language="de").status_code == 302
    request = DataSubjectRequest.objects.get()
    assert request.language == "pl"
    # ...and the acknowledgement is in Polish.
    assert said_in("pl", Kind.ACCESS.label) in mail.outbox[-1].body


def test_the_form_errors_are_in_the_persons_language(post_form):
    response = post_form({**FORM, "country": "US", "state": ""}, accept_language="fr")
    assert response.status_code == 400
    assert said_in("fr", "Choose the US state where you live.").replace("'", "&#x27;") in response.content.decode()


def test_the_api_takes_a_language_and_refuses_one_not_shipped(api, django_capture_on_commit_callbacks):
    body = {"kind": "erasure", "email": "emil@example.com", "country": "DE"}
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/v1/requests/", {**body, "language": "de"}, format="json",
                           headers={"accept-language": "fr"})
    assert created.status_code == 201, created.content
    request = DataSubjectRequest.objects.get(reference=created.json()["reference"])
    assert request.language == "de"
    assert said_in("de", Kind.ERASURE.label) in mail.outbox[-1].body
    assert said_in("de", Kind.ERASURE.label) in mail.outbox[-1].subject + mail.outbox[-1].body

    refused = api.post("/api/v1/requests/", {**body, "language": "xx"}, format="json")
    assert refused.status_code == 400
    assert "language" in refused.json()["fields"]


def test_the_api_falls_back_to_accept_language(api, file_request):
    api.credentials(HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.8")
    created = file_request(country="BR")
    assert DataSubjectRequest.objects.get(reference=created["reference"]).language == "pt-br"
    api.credentials(HTTP_ACCEPT_LANGUAGE="")
    created = file_request(email="someone.else@example.com")
    assert DataSubjectRequest.objects.get(reference=created["reference"]).language == "en"


def test_an_email_follows_the_requests_language_not_the_active_one():
    request = RequestFactory(language="it")
    with translation.override("fr"):
        _subject, text, page = emails.render("acknowledgement", {"request": request, "code": "123456"},
                                             request.language)
        assert translation.get_language() == "fr"  # put back as it was
    assert said_in("it", GDPR_NAME) in text
    assert said_in("it", GDPR_NAME) in html.unescape(page)
    assert said_in("it", Kind.ACCESS.label) in text
    assert GDPR_NAME not in text


def test_an_email_without_a_language_is_in_the_default_one_whatever_is_active():
    request = RequestFactory(language="it")
    with translation.override("de"):
        _subject, text, _html = emails.render("acknowledgement", {"request": request, "code": "123456"})
    assert GDPR_NAME in text


def test_the_status_page_speaks_the_requests_language_until_the_person_switches(client):
    request = RequestFactory(language="es", status=Status.VERIFIED)
    url = tokens.status_path(request)
    page = client.get(url, headers={"accept-language": "de"}, follow=True)
    html = page.content.decode()
    assert '<html lang="es">' in html
    assert said_in("es", GDPR_NAME) in html
    client.post("/i18n/setlang/", {"language": "de", "next": url})
    html = client.get(url, follow=True).content.decode()
    assert '<html lang="de">' in html
    assert said_in("de", GDPR_NAME) in html


def test_the_desk_and_the_officer_api_stay_english(client, api):
    login = client.get("/desk/login/", headers={"accept-language": "de"})
    assert login["Content-Language"] == "en"
    assert '<html lang="en">' in login.content.decode()
    queue = api.get("/api/v1/desk/requests/", headers={"accept-language": "fr"})
    assert queue["Content-Language"] == "en"
    assert client.get("/", headers={"accept-language": "de"})["Content-Language"] == "de"


def test_the_desk_shows_the_requests_language(client, desk_login):
    request = RequestFactory(language="pt-br")
    desk_login()
    html = client.get(f"/desk/requests/{request.pk}/", headers={"accept-language": "pt-BR"}).content.decode()
    assert "<dt>Language</dt><dd>Português (Brasil)" in html
    assert '<html lang="en">' in html


def test_country_names_on_the_form_are_in_the_persons_language(client):
    html = client.get("/", headers={"accept-language": "de"}).content.decode()
    assert '<option value="DE">Deutschland</option>' in html
    assert '<option value="IE">Irland</option>' in html


def test_supported_maps_any_code_to_a_shipped_language():
    assert i18n.supported("pt-BR") == "pt-br"
    assert i18n.supported("de-CH") == "de"
    assert i18n.supported("xx") == settings.LANGUAGE_CODE
    assert i18n.supported(None) == settings.LANGUAGE_CODE


def test_the_bundle_is_in_the_requests_language_even_built_elsewhere(django_capture_on_commit_callbacks):
    request = RequestFactory(kind="access", status=Status.VERIFIED, language="pl", country="PL",
                             identifiers={"email": "pola@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    with translation.override("de"):  # the officer's (or worker's) own language plays no part
        access.release(request, actor=Actor.scheduler())
    item = current_bundle(request)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(storage.read_decrypted(item.file))))
    index = archive.read("index.html").decode()
    assert '<html lang="pl">' in index
    assert said_in("pl", GDPR_NAME) in index
    assert said_in("pl", Kind.ACCESS.label) in index
    left = [text for text in english_sentences() if text in html.unescape(index)]
    assert not left, f"English left in the Polish bundle: {left}"


MONTHS_DE = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
             "November", "Dezember"]


def test_dates_are_written_the_languages_way_on_the_status_page_and_in_emails(client):
    request = RequestFactory(language="de", status=Status.VERIFIED)
    due = request.effective_due_on
    german = f"{due.day}. {MONTHS_DE[due.month - 1]} {due.year}"  # written out, not by the code under test
    assert f'<dd id="due">{german}</dd>' in client.get(tokens.status_path(request), follow=True).content.decode()
    _subject, text, _html = emails.render("acknowledgement", {"request": request, "code": "123456"}, "de")
    assert f"{request.due_on.day}. {MONTHS_DE[request.due_on.month - 1]} {request.due_on.year}" in text
    english = RequestFactory(language="en", status=Status.VERIFIED)
    day = english.effective_due_on
    assert f'<dd id="due">{day.day} {day.strftime("%B")} {day.year}</dd>' in client.get(
        tokens.status_path(english), follow=True).content.decode()
