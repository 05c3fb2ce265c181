"""What people read at the desk instead of codes: regimes, kinds, places, actions.

The models' choices keep the wording of the public pages and emails ("under the EU
GDPR"); the desk shows the place first, so that a queue of mixed regimes reads at a
glance ("California (CCPA)").
"""

from __future__ import annotations

from functools import lru_cache

import pycountry

REGIMES = {
    "gdpr": "EU (GDPR)",
    "uk_gdpr": "United Kingdom (UK GDPR)",
    "ccpa": "California (CCPA)",
    "vcdpa": "Virginia (VCDPA)",
    "cpa": "Colorado (CPA)",
    "ctdpa": "Connecticut (CTDPA)",
    "ucpa": "Utah (UCPA)",
    "lgpd": "Brazil (LGPD)",
    "pipeda": "Canada (PIPEDA)",
}
KINDS = {
    "access": "Access",
    "portability": "Portability",
    "rectification": "Rectification",
    "erasure": "Erasure",
}
ACTIONS = {"locate": "Look up", "export": "Export", "erase": "Erase", "rectify": "Correct"}
REQUESTERS = {"subject": "The person themselves", "agent": "An authorized agent"}
OUTCOMES = {
    "completed": "Completed",
    "partial": "Partly completed",
    "denied": "Denied",
    "duplicate": "Closed as a duplicate",
    "unverified": "Never verified",
    "purged": "Purged",
}
EMAILS = {
    "acknowledgement": "Acknowledgement, with the code to confirm",
    "received": "Receipt (filed by an integration)",
    "download_code": "Download code",
    "outcome_completed": "Outcome: completed",
    "outcome_partial": "Outcome: partly completed",
    "outcome_denied": "Outcome: denied",
    "outcome_extended": "Deadline extended",
    "outcome_reissued": "Download issued again",
    "message": "Message from an officer",
}


def regime(code: str) -> str:
    return REGIMES.get(code, code)


def kind(code: str) -> str:
    return KINDS.get(code, code)


def action(code: str) -> str:
    return ACTIONS.get(code, code)


def email(template: str) -> str:
    return EMAILS.get(template, template.replace("_", " ").capitalize())


def outcome(code: str) -> str:
    return OUTCOMES.get(code, code.replace("_", " ").capitalize())


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
