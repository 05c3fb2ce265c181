"""Tests for dsr.deadlines: dated cases checked by hand against a real calendar.

These need neither a database nor Django settings. Public holidays are whatever the
installed ``holidays`` library lists (checked for 2026 when these were written).
"""

from __future__ import annotations

import dataclasses
import sys
import types
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsr.core import deadlines
from dsr.core.deadlines import (
    RULES,
    ClockStart,
    Rule,
    Unit,
    UnknownRegime,
    acknowledge_by,
    due_date,
    extended_due_date,
    is_working_day,
    rule_for,
)

_real_default_calendar = deadlines._default_calendar

STATE_REGIMES = ["vcdpa", "cpa", "ctdpa", "ucpa"]
ALL_DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@pytest.fixture(autouse=True, scope="module")
def _no_controller_calendar():
    """Pin the settings default to "weekends only" so results never depend on settings."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(deadlines, "_default_calendar", lambda: (None, None))
        yield


# --- the rules table ---------------------------------------------------------------


def test_rules_table_has_exactly_the_supported_regimes():
    assert set(RULES) == {
        "gdpr", "uk_gdpr", "ccpa", "vcdpa", "cpa", "ctdpa", "ucpa", "lgpd", "pipeda"
    }


def test_gdpr_rule_is_one_month_plus_two_from_verification_rolled_on_controller_calendar():
    rule = rule_for("gdpr")
    assert (rule.period, rule.unit, rule.extension) == (1, Unit.MONTHS, 2)
    assert rule.ack_period is None
    assert rule.clock_starts == ClockStart.VERIFICATION == "verification"
    assert rule.roll_forward is True
    assert rule.jurisdiction is None
    assert rule.label == "EU GDPR"


def test_uk_gdpr_rule_matches_gdpr_but_uses_the_england_calendar():
    uk, eu = rule_for("uk_gdpr"), rule_for("gdpr")
    assert dataclasses.replace(uk, label=eu.label, jurisdiction=None) == eu
    assert uk.jurisdiction == ("GB", "ENG")


def test_ccpa_rule_is_45_calendar_days_from_receipt_with_10_business_day_ack():
    rule = rule_for("ccpa")
    assert (rule.period, rule.unit, rule.extension) == (45, Unit.DAYS, 45)
    assert (rule.ack_period, rule.ack_unit) == (10, Unit.BUSINESS_DAYS)
    assert rule.clock_starts == ClockStart.RECEIPT
    assert rule.roll_forward is False
    assert rule.jurisdiction == ("US", "CA")


@pytest.mark.parametrize(
    ("regime", "state"), [("vcdpa", "VA"), ("cpa", "CO"), ("ctdpa", "CT"), ("ucpa", "UT")]
)
def test_us_state_rules_are_45_plus_45_days_from_receipt_on_their_state_calendar(regime, state):
    rule = rule_for(regime)
    assert (rule.period, rule.unit, rule.extension) == (45, Unit.DAYS, 45)
    assert rule.ack_period is None
    assert rule.clock_starts == ClockStart.RECEIPT
    assert rule.roll_forward is False
    assert rule.jurisdiction == ("US", state)


def test_lgpd_and_pipeda_rules():
    lgpd, pipeda = rule_for("lgpd"), rule_for("pipeda")
    assert (lgpd.period, lgpd.unit, lgpd.extension, lgpd.jurisdiction) == (
        15, Unit.DAYS, 0, ("BR", None)
    )
    assert (pipeda.period, pipeda.unit, pipeda.extension, pipeda.jurisdiction) == (
        30, Unit.DAYS, 30, ("CA", None)
    )
    assert not lgpd.roll_forward and not pipeda.roll_forward


def test_every_rule_has_a_human_label():
    assert all(isinstance(rule.label, str) and rule.label for rule in RULES.values())


def test_rules_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule_for("gdpr").period = 2  # type: ignore[misc]


# --- GDPR: month arithmetic, weekends only (no controller calendar) ------------------


def test_gdpr_is_due_on_the_corresponding_date_of_the_next_month():
    assert due_date("gdpr", date(2026, 9, 2)) == date(2026, 10, 2)  # Wed -> Fri


def test_gdpr_received_on_a_saturday_still_starts_the_clock_that_day():
    assert due_date("gdpr", date(2026, 10, 10)) == date(2026, 11, 10)  # Sat -> Tue


def test_gdpr_31_january_is_due_on_the_last_day_of_february():
    assert due_date("gdpr", date(2029, 1, 31)) == date(2029, 2, 28)  # Wed


def test_gdpr_31_january_in_a_leap_year_is_due_on_29_february():
    assert due_date("gdpr", date(2028, 1, 31)) == date(2028, 2, 29)  # Tue


def test_gdpr_31_january_2026_clamps_to_saturday_28_february_then_rolls_to_monday():
    assert due_date("gdpr", date(2026, 1, 31)) == date(2026, 3, 2)


def test_gdpr_31_march_is_due_on_30_april():
    assert due_date("gdpr", date(2026, 3, 31)) == date(2026, 4, 30)  # Thu


def test_gdpr_30_january_is_due_on_the_last_day_of_february():
    assert due_date("gdpr", date(2029, 1, 30)) == date(2029, 2, 28)
    assert due_date("gdpr", date(2028, 1, 30)) == date(2028, 2, 29)


def test_gdpr_29_january_is_due_29_february_in_a_leap_year_but_28_otherwise():
    assert due_date("gdpr", date(2028, 1, 29)) == date(2028, 2, 29)
    assert due_date("gdpr", date(2029, 1, 29)) == date(2029, 2, 28)


def test_gdpr_28_february_is_due_on_28_march_not_the_end_of_march():
    # 28 Mar 2026 is a Saturday -> Monday 30 Mar (not 31 Mar, the month's end).
    assert due_date("gdpr", date(2026, 2, 28)) == date(2026, 3, 30)


def test_gdpr_december_request_is_due_in_january_of_the_next_year():
    assert due_date("gdpr", date(2026, 12, 15)) == date(2027, 1, 15)  # Fri


def test_gdpr_deadline_on_a_saturday_moves_to_monday():
    assert due_date("gdpr", date(2026, 9, 3)) == date(2026, 10, 5)  # 3 Oct is a Saturday


def test_gdpr_deadline_on_a_sunday_moves_to_monday():
    assert due_date("gdpr", date(2026, 9, 4)) == date(2026, 10, 5)  # 4 Oct is a Sunday


def test_gdpr_without_a_country_treats_christmas_as_a_working_day():
    assert due_date("gdpr", date(2026, 11, 25)) == date(2026, 12, 25)  # Fri


# --- GDPR with an explicit holiday calendar ------------------------------------------


def test_gdpr_ireland_deadline_on_st_patricks_day_moves_to_the_next_day():
    assert due_date("gdpr", date(2026, 2, 17), country="IE") == date(2026, 3, 18)
    assert due_date("gdpr", date(2026, 2, 17)) == date(2026, 3, 17)


def test_gdpr_ireland_deadline_on_st_brigids_day_moves_to_tuesday():
    assert due_date("gdpr", date(2026, 1, 2), country="IE") == date(2026, 2, 3)


def test_gdpr_ireland_deadline_on_the_october_bank_holiday_moves_to_tuesday():
    assert due_date("gdpr", date(2026, 9, 26), country="IE") == date(2026, 10, 27)


def test_gdpr_germany_deadline_on_friday_1_may_moves_past_the_weekend():
    assert due_date("gdpr", date(2026, 4, 1), country="DE") == date(2026, 5, 4)


def test_gdpr_germany_deadline_on_ascension_day_moves_to_friday():
    assert due_date("gdpr", date(2026, 4, 14), country="DE") == date(2026, 5, 15)


def test_gdpr_bavaria_observes_epiphany_but_germany_as_a_whole_does_not():
    assert due_date("gdpr", date(2025, 12, 6), country="DE", subdivision="BY") == date(2026, 1, 7)
    assert due_date("gdpr", date(2025, 12, 6), country="DE") == date(2026, 1, 6)


def test_gdpr_bavaria_observes_corpus_christi():
    assert due_date("gdpr", date(2026, 5, 4), country="DE", subdivision="BY") == date(2026, 6, 5)
    assert due_date("gdpr", date(2026, 5, 4), country="DE") == date(2026, 6, 4)


def test_gdpr_uses_the_controller_calendar_from_settings_when_no_country_is_given(monkeypatch):
    monkeypatch.setattr(deadlines, "_default_calendar", lambda: ("IE", None))
    assert due_date("gdpr", date(2026, 2, 17)) == date(2026, 3, 18)


def test_gdpr_explicit_country_wins_over_the_settings_default(monkeypatch):
    monkeypatch.setattr(deadlines, "_default_calendar", lambda: ("IE", None))
    assert due_date("gdpr", date(2026, 2, 17), country="DE") == date(2026, 3, 17)


# --- UK GDPR (England calendar by default) --------------------------------------------


def test_uk_gdpr_christmas_deadline_skips_boxing_day_substitute_to_29_december():
    # 25 Dec 2026 Fri (Christmas), 26-27 weekend, 28 Mon (Boxing Day substitute).
    assert due_date("uk_gdpr", date(2026, 11, 25)) == date(2026, 12, 29)


def test_uk_gdpr_good_friday_deadline_skips_easter_monday():
    assert due_date("uk_gdpr", date(2026, 3, 3)) == date(2026, 4, 7)


def test_uk_gdpr_england_summer_bank_holiday_is_not_a_holiday_in_scotland():
    assert due_date("uk_gdpr", date(2026, 7, 31)) == date(2026, 9, 1)
    assert due_date("uk_gdpr", date(2026, 7, 31), subdivision="SCT") == date(2026, 8, 31)


def test_uk_gdpr_scotland_observes_2_january():
    assert due_date("uk_gdpr", date(2025, 12, 2), country="GB", subdivision="SCT") == date(
        2026, 1, 5
    )
    assert due_date("uk_gdpr", date(2025, 12, 2)) == date(2026, 1, 2)


def test_uk_gdpr_ignores_the_settings_default_because_it_has_its_own_jurisdiction(monkeypatch):
    monkeypatch.setattr(deadlines, "_default_calendar", lambda: ("IE", None))
    assert due_date("uk_gdpr", date(2026, 2, 17)) == date(2026, 3, 17)


def test_uk_gdpr_explicit_country_overrides_its_jurisdiction():
    assert due_date("uk_gdpr", date(2026, 2, 17), country="IE") == date(2026, 3, 18)


# --- GDPR / UK GDPR extension ---------------------------------------------------------


def test_gdpr_extension_is_three_months_from_the_original_start_not_chained():
    # Due 2 Mar (28 Feb rolled); extended is 31 Jan + 3 months = 30 Apr, not 2 May/2 Jun.
    assert due_date("gdpr", date(2026, 1, 31)) == date(2026, 3, 2)
    assert extended_due_date("gdpr", date(2026, 1, 31)) == date(2026, 4, 30)


def test_gdpr_extension_is_clamped_to_february_then_rolled_off_the_sunday():
    assert extended_due_date("gdpr", date(2026, 11, 30)) == date(2027, 3, 1)  # 28 Feb 2027 Sun


def test_gdpr_extension_crosses_the_year_end():
    assert extended_due_date("gdpr", date(2026, 12, 15)) == date(2027, 3, 15)  # Mon


def test_gdpr_extension_on_a_working_day_is_the_corresponding_date():
    assert extended_due_date("gdpr", date(2026, 9, 2)) == date(2026, 12, 2)  # Wed


def test_gdpr_extension_rolls_off_an_irish_holiday():
    assert extended_due_date("gdpr", date(2025, 12, 17), country="IE") == date(2026, 3, 18)


def test_uk_gdpr_extension_rolls_off_easter_monday():
    assert extended_due_date("uk_gdpr", date(2026, 1, 6)) == date(2026, 4, 7)


def test_uk_gdpr_extension_rolls_off_christmas_and_boxing_day():
    assert extended_due_date("uk_gdpr", date(2026, 9, 25)) == date(2026, 12, 29)


def test_gdpr_requires_no_separate_acknowledgement():
    assert acknowledge_by("gdpr", date(2026, 9, 2)) is None
    assert acknowledge_by("uk_gdpr", date(2026, 9, 2)) is None


# --- CCPA ------------------------------------------------------------------------------


def test_ccpa_is_45_calendar_days_crossing_february_and_not_rolled_off_a_sunday():
    assert due_date("ccpa", date(2026, 1, 15)) == date(2026, 3, 1)  # Sunday, kept


def test_ccpa_extension_is_90_days_from_receipt():
    assert extended_due_date("ccpa", date(2026, 1, 15)) == date(2026, 4, 15)


def test_ccpa_deadline_on_christmas_is_not_moved():
    assert due_date("ccpa", date(2026, 11, 10)) == date(2026, 12, 25)


def test_ccpa_45_days_counts_29_february_in_a_leap_year():
    assert due_date("ccpa", date(2028, 1, 20)) == date(2028, 3, 5)
    assert due_date("ccpa", date(2026, 1, 20)) == date(2026, 3, 6)


def test_ccpa_extension_crosses_the_year_end():
    assert due_date("ccpa", date(2026, 11, 1)) == date(2026, 12, 16)
    assert extended_due_date("ccpa", date(2026, 11, 1)) == date(2027, 1, 30)


def test_ccpa_acknowledgement_is_10_business_days_after_a_friday_receipt():
    assert acknowledge_by("ccpa", date(2026, 3, 6)) == date(2026, 3, 20)


@pytest.mark.parametrize("received", [date(2026, 3, 7), date(2026, 3, 8)])
def test_ccpa_acknowledgement_after_weekend_receipt_counts_from_monday(received):
    assert acknowledge_by("ccpa", received) == date(2026, 3, 20)


def test_ccpa_acknowledgement_skips_thanksgiving_and_the_day_after_in_california():
    # Thu 26 and Fri 27 Nov 2026 are California holidays.
    assert acknowledge_by("ccpa", date(2026, 11, 18)) == date(2026, 12, 4)


def test_ccpa_acknowledgement_on_the_federal_calendar_skips_only_thanksgiving():
    assert acknowledge_by("ccpa", date(2026, 11, 18), country="US") == date(2026, 12, 3)


def test_ccpa_acknowledgement_skips_cesar_chavez_day_but_not_good_friday():
    assert acknowledge_by("ccpa", date(2026, 3, 23)) == date(2026, 4, 7)


def test_datetime_input_is_accepted_as_its_date():
    received = datetime(2026, 11, 18, 23, 59)
    assert acknowledge_by("ccpa", received) == date(2026, 12, 4)
    assert due_date("ccpa", datetime(2026, 1, 15, 9, 30)) == date(2026, 3, 1)
    assert extended_due_date("gdpr", datetime(2026, 1, 31, 8)) == date(2026, 4, 30)
    assert type(due_date("gdpr", datetime(2026, 9, 2, 12))) is date


# --- other regimes ----------------------------------------------------------------------


@pytest.mark.parametrize("regime", STATE_REGIMES)
def test_us_state_regimes_are_45_days_extended_to_90(regime):
    assert due_date(regime, date(2026, 11, 1)) == date(2026, 12, 16)
    assert extended_due_date(regime, date(2026, 11, 1)) == date(2027, 1, 30)
    assert due_date(regime, date(2026, 1, 15)) == date(2026, 3, 1)  # Sunday, kept


@pytest.mark.parametrize("regime", [*STATE_REGIMES, "lgpd", "pipeda"])
def test_regimes_without_a_separate_acknowledgement_return_none(regime):
    assert acknowledge_by(regime, date(2026, 3, 6)) is None


def test_lgpd_is_15_days_with_no_extension():
    assert due_date("lgpd", date(2026, 12, 1)) == date(2026, 12, 16)
    assert extended_due_date("lgpd", date(2026, 12, 1)) == date(2026, 12, 16)


def test_lgpd_crosses_the_year_end():
    assert due_date("lgpd", date(2026, 12, 20)) == date(2027, 1, 4)


def test_lgpd_deadline_on_a_sunday_is_not_moved():
    assert due_date("lgpd", date(2026, 9, 5)) == date(2026, 9, 20)


def test_pipeda_is_30_days_extended_by_30():
    assert due_date("pipeda", date(2026, 1, 15)) == date(2026, 2, 14)  # Saturday, kept
    assert extended_due_date("pipeda", date(2026, 1, 15)) == date(2026, 3, 16)


def test_pipeda_extension_crosses_the_year_end():
    assert due_date("pipeda", date(2026, 12, 1)) == date(2026, 12, 31)
    assert extended_due_date("pipeda", date(2026, 12, 1)) == date(2027, 1, 30)


# --- working days and the holiday calendar ----------------------------------------------


def test_weekends_are_not_working_days_even_without_a_country():
    assert not is_working_day(date(2026, 10, 3), country=None, subdivision=None)
    assert not is_working_day(date(2026, 10, 4), country=None, subdivision=None)
    assert is_working_day(date(2026, 10, 5), country=None, subdivision=None)


def test_boxing_day_substitute_is_not_a_working_day_in_england_only():
    assert not is_working_day(date(2026, 12, 28), country="GB", subdivision="ENG")
    assert is_working_day(date(2026, 12, 28), country=None, subdivision=None)


def test_holiday_calendar_expands_to_years_far_from_today():
    assert not is_working_day(date(2091, 12, 25), country="GB", subdivision="ENG")  # Tue
    assert not is_working_day(date(2003, 11, 28), country="US", subdivision="CA")


def test_default_calendar_reads_django_settings_when_configured(monkeypatch):
    conf = types.ModuleType("django.conf")
    conf.settings = types.SimpleNamespace(  # type: ignore[attr-defined]
        configured=True, DSR_HOLIDAY_COUNTRY="DE", DSR_HOLIDAY_SUBDIVISION="BY"
    )
    monkeypatch.setitem(sys.modules, "django.conf", conf)
    assert _real_default_calendar() == ("DE", "BY")


def test_default_calendar_treats_empty_settings_as_weekends_only(monkeypatch):
    conf = types.ModuleType("django.conf")
    conf.settings = types.SimpleNamespace(  # type: ignore[attr-defined]
        configured=True, DSR_HOLIDAY_COUNTRY="", DSR_HOLIDAY_SUBDIVISION=None
    )
    monkeypatch.setitem(sys.modules, "django.conf", conf)
    assert _real_default_calendar() == (None, None)


def test_default_calendar_is_weekends_only_when_django_settings_are_not_configured(monkeypatch):
    conf = types.ModuleType("django.conf")
    conf.settings = types.SimpleNamespace(configured=False)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "django.conf", conf)
    assert _real_default_calendar() == (None, None)


def test_default_calendar_is_weekends_only_without_django_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "django.conf", None)  # makes the import fail
    assert _real_default_calendar() == (None, None)


# --- errors ------------------------------------------------------------------------------


def test_unknown_regime_raises_naming_it_and_the_valid_ones():
    with pytest.raises(UnknownRegime, match="hipaa") as excinfo:
        rule_for("hipaa")
    assert isinstance(excinfo.value, ValueError)
    assert "gdpr" in str(excinfo.value) and "pipeda" in str(excinfo.value)


@pytest.mark.parametrize("func", [due_date, extended_due_date, acknowledge_by])
def test_every_public_function_rejects_an_unknown_regime(func):
    with pytest.raises(UnknownRegime, match="GDPR"):
        func("GDPR", date(2026, 1, 1))


def test_unknown_country_raises_value_error():
    with pytest.raises(ValueError, match="XX"):
        due_date("gdpr", date(2026, 9, 2), country="XX")


def test_unknown_country_raises_even_where_no_holiday_lookup_is_needed():
    with pytest.raises(ValueError, match="XX"):
        due_date("ccpa", date(2026, 9, 2), country="XX")


def test_unknown_subdivision_raises_value_error():
    with pytest.raises(ValueError, match="NOPE"):
        due_date("uk_gdpr", date(2026, 9, 2), subdivision="NOPE")


def test_subdivision_without_any_country_raises_value_error():
    with pytest.raises(ValueError, match="without a country"):
        due_date("gdpr", date(2026, 9, 2), subdivision="BY")


def test_a_string_start_is_rejected():
    with pytest.raises(TypeError):
        due_date("gdpr", "2026-09-02")  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------


def _calendar(regime: str) -> tuple[str | None, str | None]:
    return rule_for(regime).jurisdiction or (None, None)


@settings(deadline=None, max_examples=300)
@given(regime=st.sampled_from(sorted(RULES)), start=ALL_DATES)
def test_deadlines_never_precede_the_start_and_extension_never_shortens(regime, start):
    due = due_date(regime, start)
    extended = extended_due_date(regime, start)
    assert start < due <= extended
    ack = acknowledge_by(regime, start)
    assert ack is None or start < ack < due


@settings(deadline=None, max_examples=300)
@given(regime=st.sampled_from([k for k, r in RULES.items() if r.roll_forward]), start=ALL_DATES)
def test_rolled_deadlines_always_land_on_a_working_day(regime, start):
    country, subdivision = _calendar(regime)
    for day in (due_date(regime, start), extended_due_date(regime, start)):
        assert is_working_day(day, country=country, subdivision=subdivision)


@settings(deadline=None, max_examples=300)
@given(
    regime=st.sampled_from([k for k, r in RULES.items() if r.unit is Unit.DAYS]), start=ALL_DATES
)
def test_calendar_day_regimes_are_exactly_period_and_period_plus_extension(regime, start):
    rule = rule_for(regime)
    assert due_date(regime, start) - start == timedelta(days=rule.period)
    assert extended_due_date(regime, start) - start == timedelta(days=rule.period + rule.extension)


@settings(deadline=None, max_examples=300)
@given(start=ALL_DATES)
def test_gdpr_weekends_only_due_within_28_to_33_days_and_extended_within_89_to_94(start):
    # One calendar month is 28-31 days and three are 89-92 (Feb+Mar+Apr = 89); a
    # weekend roll adds at most 2 days.
    assert 28 <= (due_date("gdpr", start) - start).days <= 33
    assert 89 <= (extended_due_date("gdpr", start) - start).days <= 94


@settings(deadline=None, max_examples=300)
@given(start=ALL_DATES)
def test_uk_gdpr_due_within_28_to_35_days(start):
    # England's longest run of non-working days is four (Good Friday to Easter Monday,
    # or Christmas with weekend substitutes), so the roll adds at most 4 days.
    assert 28 <= (due_date("uk_gdpr", start) - start).days <= 35


@settings(deadline=None, max_examples=300)
@given(received=ALL_DATES)
def test_ccpa_acknowledgement_is_the_tenth_california_working_day_after_receipt(received):
    ack = acknowledge_by("ccpa", received)
    assert ack is not None
    days = [received + timedelta(days=n) for n in range(1, (ack - received).days + 1)]
    working = [d for d in days if is_working_day(d, country="US", subdivision="CA")]
    assert len(working) == 10 and working[-1] == ack


@settings(deadline=None, max_examples=200)
@given(
    regime=st.sampled_from(sorted(RULES)),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59)),
)
def test_a_datetime_gives_the_same_deadlines_as_its_date(regime, moment):
    assert due_date(regime, moment) == due_date(regime, moment.date())
    assert extended_due_date(regime, moment) == extended_due_date(regime, moment.date())
    assert acknowledge_by(regime, moment) == acknowledge_by(regime, moment.date())


def test_rule_type_is_exported():
    assert all(isinstance(rule, Rule) for rule in RULES.values())
