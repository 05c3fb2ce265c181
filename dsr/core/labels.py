"""What people read at the desk instead of codes: regimes, kinds, places, actions, languages.

The models' choices keep the wording of the public pages and emails ("under the EU
GDPR"); the desk shows the place first, so that a queue of mixed regimes reads at a
glance ("California (CCPA)").
"""

from __future__ import annotations

from functools import lru_cache

import pycountry
from django.conf import settings
from django.utils.translation import gettext_lazy as _

REGIMES = {
    "gdpr": _("EU (GDPR)"),
    "uk_gdpr": _("United Kingdom (UK GDPR)"),
    "ccpa": _("California (CCPA)"),
    "vcdpa": _("Virginia (VCDPA)"),
    "cpa": _("Colorado (CPA)"),
    "ctdpa": _("Connecticut (CTDPA)"),
    "ucpa": _("Utah (UCPA)"),
    "lgpd": _("Brazil (LGPD)"),
    "pipeda": _("Canada (PIPEDA)"),
}
KINDS = {
    "access": _("Access"),
    "portability": _("Portability"),
    "rectification": _("Rectification"),
    "erasure": _("Erasure"),
}
ACTIONS = {"locate": _("Look up"), "export": _("Export"), "erase": _("Erase"), "rectify": _("Correct")}
REQUESTERS = {"subject": _("The person themselves"), "agent": _("An authorized agent")}
OUTCOMES = {
    "completed": _("Completed"),
    "partial": _("Partly completed"),
    "denied": _("Denied"),
    "duplicate": _("Closed as a duplicate"),
    "unverified": _("Never verified"),
    "purged": _("Purged"),
}
EMAILS = {
    "acknowledgement": _("Acknowledgement, with the code to confirm"),
    "received": _("Receipt (filed by an integration)"),
    "download_code": _("Download code"),
    "outcome_completed": _("Outcome: completed"),
    "outcome_partial": _("Outcome: partly completed"),
    "outcome_denied": _("Outcome: denied"),
    "outcome_extended": _("Deadline extended"),
    "outcome_reissued": _("Download issued again"),
    "message": _("Message from an officer"),
}


def regime(code: str) -> str:
    return str(REGIMES.get(code, code))


def kind(code: str) -> str:
    return str(KINDS.get(code, code))


def action(code: str) -> str:
    return str(ACTIONS.get(code, code))


def email(template: str) -> str:
    return str(EMAILS.get(template, template.replace("_", " ").capitalize()))


def outcome(code: str) -> str:
    return str(OUTCOMES.get(code, code.replace("_", " ").capitalize()))


def language(code: str) -> str:
    """A request's language as its own speakers name it ("Deutsch"); the code itself if not shipped."""
    return dict(settings.LANGUAGES).get(code, code)


@lru_cache(maxsize=512)
def place(country: str, subdivision: str = "") -> str:
    """"Germany", "California, United States"; the codes themselves if unknown; "" if none."""
    country, subdivision = (country or "").upper(), (subdivision or "").upper()
    if not country:
        return ""
    found = pycountry.countries.get(alpha_2=country)
    name = getattr(found, "common_name", None) or getattr(found, "name", None) or country
    if subdivision:
        part = pycountry.subdivisions.get(code=f"{country}-{subdivision}")
        return f"{part.name if part else subdivision}, {name}"
    return name
