"""Statutory response deadlines for data-subject requests, as one table of rules.

Pure Python so it can be tested and reused without Django or a database. The
statutory facts and their sources are in ``reference/deadlines.md``; public holidays
come from the maintained ``holidays`` library, never from a hand-typed list.
"""

from __future__ import annotations

import calendar
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import holidays

__all__ = [
    "RULES", "ClockStart", "Rule", "Unit", "UnknownRegime", "acknowledge_by", "due_date",
    "extended_due_date", "is_working_day", "rule_for",
]


class Unit(StrEnum):
    """How a period is counted: the statutes differ on this, so it is data."""

    MONTHS = "months"
    DAYS = "days"  # calendar days
    BUSINESS_DAYS = "business_days"


class ClockStart(StrEnum):
    """Which event starts the clock; callers pass that event's date as ``start``."""

    RECEIPT = "receipt"
    VERIFICATION = "verification"  # ICO: where ID is asked for, the clock starts on its arrival


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One regime's deadline rules. ``extension`` is in ``unit``; 0 means none."""

    label: str
    period: int
    unit: Unit
    extension: int = 0
    ack_period: int | None = None
    ack_unit: Unit | None = None
    clock_starts: ClockStart = ClockStart.RECEIPT
    roll_forward: bool = False  # move a deadline on a non-working day to the next working day
    jurisdiction: tuple[str, str | None] | None = None  # None: the controller's own calendar


def _us_state(label: str, state: str) -> Rule:
    """The state laws share 45 days + 45 from receipt, counted in calendar days."""
    return Rule(label=label, period=45, unit=Unit.DAYS, extension=45, jurisdiction=("US", state))


RULES: dict[str, Rule] = {
    # Art. 12(3): one month, + two further months; a deadline on a non-working day
    # moves on (ICO; Regulation 1182/71 Art. 3(4)).
    "gdpr": Rule(label="EU GDPR", period=1, unit=Unit.MONTHS, extension=2,
                 clock_starts=ClockStart.VERIFICATION, roll_forward=True),
    "uk_gdpr": Rule(label="UK GDPR", period=1, unit=Unit.MONTHS, extension=2,
                    clock_starts=ClockStart.VERIFICATION, roll_forward=True,
                    jurisdiction=("GB", "ENG")),
    # 11 CCR §7021: 45 calendar days from receipt whatever verification takes; no
    # roll-forward (the stricter reading); acknowledge within 10 business days.
    "ccpa": Rule(label="California CCPA/CPRA", period=45, unit=Unit.DAYS, extension=45,
                 ack_period=10, ack_unit=Unit.BUSINESS_DAYS, jurisdiction=("US", "CA")),
    "vcdpa": _us_state("Virginia VCDPA", "VA"),
    "cpa": _us_state("Colorado CPA", "CO"),
    "ctdpa": _us_state("Connecticut CTDPA", "CT"),
    "ucpa": _us_state("Utah UCPA", "UT"),
    # Art. 19 II: complete statement within 15 days; the Act grants no extension.
    "lgpd": Rule(label="Brazil LGPD", period=15, unit=Unit.DAYS, jurisdiction=("BR", None)),
    "pipeda": Rule(label="Canada PIPEDA", period=30, unit=Unit.DAYS, extension=30,
                   jurisdiction=("CA", None)),
}


class UnknownRegime(ValueError):
    """Raised for a regime key that is not in ``RULES``."""


def rule_for(regime: str) -> Rule:
    """Return the rule for ``regime``, failing loudly rather than guessing a default."""
    try:
        return RULES[regime]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(RULES))
        raise UnknownRegime(f"unknown regime {regime!r}; valid regimes: {valid}") from None


def _default_calendar() -> tuple[str | None, str | None]:
    """The controller's own calendar from Django settings, read lazily (no import-time Django)."""
    try:
        from django.conf import settings
    except ImportError:
        return None, None
    if not settings.configured:
        return None, None
    country = getattr(settings, "DSR_HOLIDAY_COUNTRY", None) or None
    subdivision = getattr(settings, "DSR_HOLIDAY_SUBDIVISION", None) or None
    return country, subdivision


def _calendar_for(
    rule: Rule, country: str | None, subdivision: str | None
) -> tuple[str | None, str | None]:
    """Explicit arguments win, then the regime's jurisdiction, then the settings default.

    A subdivision alone overrides the subdivision of the regime's/default country. The
    calendar is validated eagerly so a bad code fails even when no day needs checking.
    """
    if country is None:
        base_country, base_subdivision = rule.jurisdiction or _default_calendar()
        if subdivision is not None and base_country is None:
            raise ValueError(f"subdivision {subdivision!r} given without a country")
        country, subdivision = base_country, subdivision or base_subdivision
    if country is not None:
        _holidays(country, subdivision)
    return country, subdivision


_expand_lock = threading.Lock()  # holiday objects add years lazily (mutation) on lookup


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None) -> holidays.HolidayBase:
    """One auto-expanding holiday object per calendar (created with no years)."""
    try:
        return holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        where = f"{country}/{subdivision}" if subdivision else country
        raise ValueError(f"no public-holiday calendar for {where!r}: {exc}") from None


def is_working_day(day: date, *, country: str | None, subdivision: str | None) -> bool:
    """Mon-Fri and not a public holiday; with no country, only weekends are non-working."""
    if day.weekday() >= 5:
        return False
    if country is None:
        return True
    calendar_ = _holidays(country, subdivision)
    with _expand_lock:
        return day not in calendar_


def _as_date(value: date) -> date:
    """Accept a datetime too (its own local date): datetime subclasses date, so test it first."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def _add_months(start: date, months: int) -> date:
    """Corresponding date ``months`` later, or that month's last day where there is none."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _compute(
    rule: Rule, start: date, amount: int, unit: Unit, cal: tuple[str | None, str | None]
) -> date:
    """Count ``amount`` ``unit``s from ``start`` (which itself counts), then roll forward."""
    country, subdivision = cal
    if unit is Unit.MONTHS:
        result = _add_months(start, amount)
    elif unit is Unit.DAYS:
        result = start + timedelta(days=amount)
    else:  # business days: the Nth working day counted from the day after start
        result, counted = start, 0
        while counted < amount:
            result += timedelta(days=1)
            if is_working_day(result, country=country, subdivision=subdivision):
                counted += 1
    if rule.roll_forward:
        while not is_working_day(result, country=country, subdivision=subdivision):
            result += timedelta(days=1)
    return result


def due_date(
    regime: str, start: date, *, country: str | None = None, subdivision: str | None = None
) -> date:
    """Response deadline; ``start`` is the day the clock starts (see ``Rule.clock_starts``)."""
    rule = rule_for(regime)
    cal = _calendar_for(rule, country, subdivision)
    return _compute(rule, _as_date(start), rule.period, rule.unit, cal)


def extended_due_date(
    regime: str, start: date, *, country: str | None = None, subdivision: str | None = None
) -> date:
    """Deadline with the full extension, counted from the original start (not chained)."""
    rule = rule_for(regime)
    cal = _calendar_for(rule, country, subdivision)
    return _compute(rule, _as_date(start), rule.period + rule.extension, rule.unit, cal)


def acknowledge_by(
    regime: str, received: date, *, country: str | None = None, subdivision: str | None = None
) -> date | None:
    """Deadline for a separate acknowledgement, or None where the regime requires none."""
    rule = rule_for(regime)
    if rule.ack_period is None or rule.ack_unit is None:
        return None
    cal = _calendar_for(rule, country, subdivision)
    return _compute(rule, _as_date(received), rule.ack_period, rule.ack_unit, cal)
