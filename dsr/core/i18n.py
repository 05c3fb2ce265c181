"""The requester's language: chosen at intake, stored on the request, followed by all that is sent later.

``settings.LANGUAGES`` lists the shipped languages. A request keeps its language
(``DataSubjectRequest.language``), so an email the worker sends a week later, the
bundle's pages and the status page speak it, whoever is logged in and whatever the
worker's own locale. The desk is always English (:data:`DESK_LANGUAGE`).
"""

from __future__ import annotations

import gettext as gnu_gettext
import unicodedata
from contextlib import AbstractContextManager
from functools import lru_cache

import pycountry
from django.conf import settings
from django.utils import translation

DESK_LANGUAGE = "en"


def codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def supported(code: str | None) -> str:
    """``code`` as one of the shipped languages ("pt-BR" → "pt-br", "de-AT" → "de"); else the default."""
    if code:
        try:
            return translation.get_supported_language_variant(code.strip().lower())
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


def current() -> str:
    """The active language (LocaleMiddleware: the switcher's cookie, else Accept-Language)."""
    return supported(translation.get_language())


def override(code: str | None) -> AbstractContextManager[None]:
    """Render in ``code`` (a request's stored language); the default language if it is not shipped."""
    return translation.override(supported(code))


@lru_cache(maxsize=64)
def _iso_catalogue(domain: str, language: str) -> gnu_gettext.NullTranslations:
    locale = translation.to_locale(language)
    return gnu_gettext.translation(domain, pycountry.LOCALES_DIR, languages=[locale, locale.split("_")[0]],
                                   fallback=True)


def country_name(name: str, language: str | None = None) -> str:
    """A country's ISO 3166 English name in ``language`` (the active one by default), from pycountry's catalogues."""
    return _iso_catalogue("iso3166-1", language or current()).gettext(name)


def subdivision_name(name: str, language: str | None = None) -> str:
    return _iso_catalogue("iso3166-2", language or current()).gettext(name)


def localised(choices: list[tuple[str, str]], name=country_name) -> list[tuple[str, str]]:
    """(code, English ISO name) choices with their names in the active language, in its alphabetical order."""
    shown = [(code, name(english)) for code, english in choices]
    return sorted(shown, key=lambda item: unicodedata.normalize("NFKD", item[1]).casefold())
