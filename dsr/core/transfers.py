"""Where a system's data goes abroad, and under which safeguard (GDPR Art. 15(2) and its likes).

A system's metadata says where it keeps the data (``country``, ISO 3166 alpha-2) and
lists every other country the data goes to (``transfers``)::

    transfers:
      - {country: US, safeguard: scc, recipient: Mail vendor}
      - {country: CH, safeguard: adequacy}

``[]`` says the data goes nowhere else; ``None`` (not given) says nobody has checked. An
access answer states "no transfers outside <the person's region>" only when every system
has said where it keeps the data and where it sends it, and none of that is outside.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import pycountry
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import i18n

SAFEGUARDS = {
    "adequacy": _("an adequacy decision (the country protects data as well)"),
    "scc": _("standard contractual clauses"),
    "bcr": _("binding corporate rules"),
    "derogation": _("a derogation for a specific situation, such as your explicit consent"),
    "other": _("another safeguard (see the note)"),
}
_KEYS = {"country", "safeguard", "recipient", "note"}


@dataclass(frozen=True)
class Transfer:
    country: str
    safeguard: str
    recipient: str = ""
    note: str = ""

    @property
    def country_name(self) -> str:
        return country_name(self.country)

    @property
    def safeguard_text(self) -> Any:
        return SAFEGUARDS[self.safeguard]


def country_name(code: str) -> str:
    """The country's name in the active language (pycountry's catalogues); its common English name else."""
    found = pycountry.countries.get(alpha_2=code.upper()) if code else None
    if found is None:
        return code
    translated = i18n.country_name(found.name)
    return translated if translated != found.name else getattr(found, "common_name", None) or found.name


def validate_country(value: Any) -> None:
    if value and (not isinstance(value, str) or pycountry.countries.get(alpha_2=value.upper()) is None):
        raise ValidationError(f"{value!r} is not an ISO 3166 country code (such as DE or US)")


def _one(index: int, item: Any) -> Transfer:
    where = f"transfers[{index}]"
    if not isinstance(item, dict):
        raise ValidationError(f"{where}: give an object with country and safeguard")
    unknown = set(item) - _KEYS
    if unknown:
        raise ValidationError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    country = item.get("country")
    if not isinstance(country, str) or not country:
        raise ValidationError(f"{where}: give the country (ISO 3166 alpha-2, such as US)")
    validate_country(country)
    if item.get("safeguard") not in SAFEGUARDS:
        raise ValidationError(f"{where}: safeguard must be one of {', '.join(SAFEGUARDS)}")
    texts = {key: item.get(key, "") for key in ("recipient", "note")}
    if not all(isinstance(v, str) for v in texts.values()):
        raise ValidationError(f"{where}: recipient and note are text")
    return Transfer(country.upper(), item["safeguard"], texts["recipient"].strip(), texts["note"].strip())


def parse(value: Any) -> list[Transfer] | None:
    """The transfers of a system's metadata (None: not stated); raises ValidationError."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationError("transfers must be a list")
    return [_one(index, item) for index, item in enumerate(value)]


def validate(value: Any) -> None:
    parse(value)


@dataclass(frozen=True)
class Abroad:
    """What one system says about transfers, as a person under one law reads it."""

    stated: bool  # the system said where it keeps the data and where it sends it
    kept_in: str  # a country outside the person's region where the system keeps it, if so
    outside: list[Transfer]

    @property
    def kept_in_name(self) -> str:
        return country_name(self.kept_in)


def abroad(country: str, transfers: Any, home: Collection[str]) -> Abroad:
    """Transfers outside ``home`` (the person's region's countries) from a system's metadata."""
    listed = parse(transfers)
    kept_in = country.upper() if country and country.upper() not in home else ""
    outside = [t for t in listed or [] if t.country not in home]
    return Abroad(stated=bool(country) and listed is not None, kept_in=kept_in, outside=outside)
