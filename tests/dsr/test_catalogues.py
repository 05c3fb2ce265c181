"""Every text a requester reads is translated into every shipped language, and no English is left.

(a) each catalogue's every entry has a translation, none fuzzy, with the same placeholders;
(b) the catalogues hold exactly the texts of the code and templates today (makemessages into
a copy; needs GNU gettext: in CI its absence fails, elsewhere the test skips saying why);
(c) every public page, rendered in each language, shows none of the English texts.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import timezone

from dsr.core import tokens
from dsr.core.models import Status
from dsr.management.commands.update_catalogues import extract, locales
from tests.conftest import IN_CI
from tests.factories import RequestFactory

LOCALE = Path(settings.BASE_DIR) / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def catalogue(locale: str, root: Path = LOCALE) -> polib.POFile:
    path = root / locale / "LC_MESSAGES" / "django.po"
    assert path.exists(), f"no catalogue for {locale}: {path}"
    return polib.pofile(str(path))


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_every_shipped_language_but_english_has_a_catalogue():
    assert sorted(locales()) == sorted(["de", "fr", "es", "it", "nl", "pt", "pt_BR", "pl"])
    for locale in locales():
        assert catalogue(locale).metadata.get("Language") == locale


@pytest.mark.parametrize("locale", locales())
def test_every_entry_is_translated_with_its_placeholders(locale):
    problems = []
    po = catalogue(locale)
    forms = int(re.search(r"nplurals=(\d+)", po.metadata["Plural-Forms"]).group(1))
    for entry in po:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if entry.msgid_plural and len(translations) != forms:
            problems.append(f"{len(translations)} plural forms, the language has {forms}: {entry.msgid!r}")
        if not all(t.strip() for t in translations):
            problems.append(f"untranslated: {entry.msgid!r}")
            continue
        for form, text in enumerate(translations):
            # The singular form may leave out a count the plural names ("the earlier request").
            wanted = [placeholders(entry.msgid_plural or entry.msgid)]
            if entry.msgid_plural and form == 0:
                wanted.append(placeholders(entry.msgid))
            if placeholders(text) not in wanted:
                problems.append(f"placeholders differ: {entry.msgid!r} → {text!r}")
    assert not problems, f"{locale}: {len(problems)} problems:\n" + "\n".join(problems)


def test_the_catalogues_hold_exactly_the_texts_of_the_code_and_templates(tmp_path, monkeypatch, settings):
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        reason = "GNU gettext (xgettext, msgmerge) is not installed: apt-get install gettext"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    # makemessages writes beside the sources it reads: give it a copy of them, and of the catalogues.
    base = Path(settings.BASE_DIR)
    for part in ("dsr", "templates", "locale"):
        shutil.copytree(base / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    monkeypatch.chdir(tmp_path)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    extract()
    for locale in locales():
        ours = {e.msgid for e in catalogue(locale) if not e.obsolete}
        fresh = {e.msgid for e in catalogue(locale, tmp_path / "locale") if not e.obsolete}
        assert not fresh - ours, f"{locale}: texts missing from the catalogue (run manage.py update_catalogues)"
        assert not ours - fresh, f"{locale}: texts the code no longer has (run manage.py update_catalogues)"


def english_sentences() -> list[str]:
    """The English of every text of three words or more, as a page would show it."""
    return [e.msgid for e in catalogue("de")
            if not e.obsolete and len(e.msgid.split()) >= 3 and not PLACEHOLDER.search(e.msgid)]


@pytest.fixture
def public_pages(client, django_capture_on_commit_callbacks):
    """(name, html) of every public page, in the language the client's cookie chose."""

    def pages(language: str) -> list[tuple[str, str]]:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        waiting = RequestFactory(language=language, status=Status.AWAITING_VERIFICATION)
        verified = RequestFactory(language=language, status=Status.VERIFIED, verified_at=timezone.now())
        denied = RequestFactory(language=language, status=Status.DENIED, closed_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            bad_form = client.post("/", {"kind": "rectification", "email": "x", "country": "US",
                                         "requester_type": "agent"})
        got = [
            ("form", client.get("/")),
            ("form with errors", bad_form),
            ("verify", client.get(f"/requests/{waiting.reference}/verify/")),
            ("verify, a wrong code", client.post(f"/requests/{waiting.reference}/verify/", {"code": "000000"})),
            ("verify link", client.get(f"/requests/{waiting.reference}/verify/sometoken/")),
            ("verify, already done", client.get(f"/requests/{verified.reference}/verify/")),
            ("status", client.get(tokens.status_path(verified), follow=True)),
            ("status, denied", client.get(tokens.status_path(denied), follow=True)),
            ("status, no access", client.get(f"/requests/{verified.reference}/?t=wrong")),
        ]
        for name, response in got:
            assert response.status_code < 500, name
        return [(name, html.unescape(response.content.decode())) for name, response in got]

    return pages


@pytest.mark.django_db
@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES if code != "en"])
def test_no_english_text_is_left_on_a_translated_page(public_pages, language):
    english = english_sentences()
    assert len(english) > 50  # the catalogue holds the texts, not nothing
    left = []
    for name, page in public_pages(language):
        assert f'<html lang="{language}">' in page, name
        left += [f"{name}: {text!r}" for text in english if text in page]
    assert not left, f"English left on {language} pages:\n" + "\n".join(left)
