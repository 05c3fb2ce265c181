"""Where a person lives → which law governs their request.

The mapping is a first guess an officer can correct later; it never blocks a
request. Countries and US states come from ``pycountry`` (ISO 3166).
"""

from __future__ import annotations

from functools import lru_cache

import pycountry
from django.conf import settings

# EU member states plus the EEA states that apply the GDPR.
GDPR_COUNTRIES = frozenset(
    ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"]
)
COUNTRY_REGIMES = {"GB": "uk_gdpr", "BR": "lgpd", "CA": "pipeda"}
US_STATE_REGIMES = {"CA": "ccpa", "VA": "vcdpa", "CO": "cpa", "CT": "ctdpa", "UT": "ucpa"}


def regime_for(country: str | None, subdivision: str | None = None) -> str:
    """The regime for a country (ISO alpha-2) and, in the US, a state code."""
    country = (country or "").upper()
    if country in GDPR_COUNTRIES:
        return "gdpr"
    if country in COUNTRY_REGIMES:
        return COUNTRY_REGIMES[country]
    if country == "US":
        state = (subdivision or "").upper().removeprefix("US-")
        if state in US_STATE_REGIMES:
            return US_STATE_REGIMES[state]
    return settings.DSR_DEFAULT_REGIME


@lru_cache(maxsize=1)
def country_choices() -> list[tuple[str, str]]:
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda item: item[1])


@lru_cache(maxsize=1)
def us_state_choices() -> list[tuple[str, str]]:
    states = pycountry.subdivisions.get(country_code="US") or []
    return sorted(((s.code.removeprefix("US-"), s.name) for s in states), key=lambda i: i[1])


def is_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code.upper()) is not None


def is_us_state(code: str) -> bool:
    return any(code.upper() == c for c, _ in us_state_choices())
