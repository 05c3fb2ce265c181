"""Reports for the desk, as queries: every figure is computed in the database.

Each function runs a fixed number of queries, whatever the number of requests:
aggregates with ``Count(filter=Q(...))``, ``TruncWeek`` for the weekly series, and
window functions for medians (only the one or two middle rows come back).

CCPA §7102 (yearly metrics per type of request) and §7101 (request records kept 24
months, no personal identifiers) are the two regulatory outputs here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncDate, TruncWeek
from django.utils import timezone

from dsr.core.models import (
    OPEN_STATUSES,
    ConnectorJob,
    DataSubjectRequest,
    JobStatus,
    Kind,
    Regime,
    Status,
)

WEEKS = 12
FIRST_YEAR = 2000
TOP_SYSTEMS = 20

# Closed with an answer to the person (not cancelled, not expired unverified).
RESPONDED = (Status.COMPLETED, Status.DENIED)
COMPLIED_OUTCOMES = ("completed", "partial")

# CCPA §7102 names the types of request; ours map onto them.
CCPA_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("know", (Kind.ACCESS, Kind.PORTABILITY)),
    ("delete", (Kind.ERASURE,)),
    ("correct", (Kind.RECTIFICATION,)),
)
CCPA_COLUMNS = (
    "year",
    "request_type",
    "received",
    "complied_in_whole_or_part",
    "denied",
    "not_verified",
    "median_days_to_respond",
    "mean_days_to_respond",
)
RECORD_COLUMNS = (
    "reference",
    "regime",
    "request_type",
    "received_at",
    "requested_by",
    "status",
    "closed_at",
    "response",
    "denial_basis",
)
RECORD_FIELDS = (
    "reference",
    "regime",
    "kind",
    "received_at",
    "requester_type",
    "status",
    "closed_at",
    "outcome",
    "denial_reason",
)
EMAIL_RE = re.compile(r"[^\s@<>()\[\],;:\"']+@[\w-]+(?:\.[\w-]+)+")


class BadParameter(ValueError):
    """A report parameter that cannot be used; the message is shown to the user."""


# --- dates ---------------------------------------------------------------------------------


def start_of(day: date) -> datetime:
    """Midnight at the start of ``day`` in the site's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def parse_year(raw: str | None, *, today: date | None = None) -> int:
    """A calendar year from a query parameter; the current year when absent."""
    today = today or timezone.localdate()
    if raw is None or not raw.strip():
        return today.year
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) != 4:
        raise BadParameter(f"The year must be four digits, like {today.year}; got {raw[:20]!r}.")
    year = int(text)
    if not FIRST_YEAR <= year <= today.year:
        raise BadParameter(f"Choose a year from {FIRST_YEAR} to {today.year}; got {year}.")
    return year


def parse_regime(raw: str | None) -> str:
    text = (raw or "").strip()
    if text and text not in Regime.values:
        raise BadParameter(f"Unknown regime {text[:20]!r}; use one of {', '.join(Regime.values)}.")
    return text


def year_range(year: int) -> tuple[datetime, datetime]:
    return start_of(date(year, 1, 1)), start_of(date(year + 1, 1, 1))


# --- durations -----------------------------------------------------------------------------

TOOK = ExpressionWrapper(F("closed_at") - F("received_at"), output_field=DurationField())


def _days(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 86400


def duration_stats(rows: QuerySet[DataSubjectRequest], group: str | None = None) -> dict[Any, dict[str, Any]]:
    """Median, mean (in days) and count of received→closed per ``group``, in one query.

    Window functions number the closed rows by duration within each group; only the
    middle one (odd count) or two (even count) are returned, with the group's count
    and mean alongside.
    """
    partition = [F(group)] if group else None
    middle = (
        rows.filter(closed_at__isnull=False)
        .annotate(took=TOOK)
        .annotate(
            n=Window(Count("pk"), partition_by=partition),
            mean=Window(Avg("took"), partition_by=partition),
            rank=Window(RowNumber(), partition_by=partition, order_by=[F("took").asc(), F("pk").asc()]),
        )
        .filter(rank__gte=F("n") / 2.0, rank__lte=F("n") / 2.0 + 1)
        .order_by()
    )
    stats: dict[Any, dict[str, Any]] = {}
    for key, took, n, mean in middle.values_list(group or "pk", "took", "n", "mean"):
        key = key if group else None
        entry = stats.setdefault(key, {"n": n, "mean_days": _days(mean), "middle": []})
        entry["middle"].append(_days(took))
    for entry in stats.values():
        middle_days = entry.pop("middle")
        entry["median_days"] = sum(middle_days) / len(middle_days)
    return stats


# --- the dashboard -------------------------------------------------------------------------


@dataclass
class Week:
    monday: date
    counts: dict[str, int]

    @property
    def iso(self) -> tuple[int, int]:
        year, week, _ = self.monday.isocalendar()
        return year, week

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def weekly_by_kind(today: date | None = None, weeks: int = WEEKS) -> list[Week]:
    """Requests received per ISO week (Monday to Sunday) and kind, the current week last."""
    today = today or timezone.localdate()
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=weeks - 1)
    series = [Week(first + timedelta(weeks=i), dict.fromkeys(Kind.values, 0)) for i in range(weeks)]
    by_monday = {w.monday: w for w in series}
    rows = (
        DataSubjectRequest.objects.filter(
            received_at__gte=start_of(first), received_at__lt=start_of(this_monday + timedelta(weeks=1))
        )
        .annotate(week=TruncWeek("received_at"))
        .values("week", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        week = row["week"]
        monday = timezone.localtime(week).date() if isinstance(week, datetime) else week
        if monday in by_monday and row["kind"] in by_monday[monday].counts:
            by_monday[monday].counts[row["kind"]] += row["n"]
    return series


def status_summary(today: date | None = None) -> dict[str, Any]:
    """On-time rate over requests closed in the last 12 months; open and overdue now. One query.

    On time: closed on or before the effective due date (the extended one if extended),
    comparing the closing date in the site's time zone. Only requests we answered count
    (completed or denied): an unverified one that expired, or a cancelled duplicate, was
    never owed an answer and would flatter the rate.
    """
    today = today or timezone.localdate()
    since = start_of(years_before(today, 1))
    closed = Q(status__in=RESPONDED, closed_at__gte=since)
    is_open = Q(status__in=sorted(OPEN_STATUSES))
    figures = (
        DataSubjectRequest.objects.filter(closed | is_open)
        .annotate(due_by=Coalesce("extended_due_on", "due_on"), closed_on=TruncDate("closed_at"))
        .aggregate(
            closed=Count("pk", filter=closed),
            on_time=Count("pk", filter=closed & Q(closed_on__lte=F("due_by"))),
            open=Count("pk", filter=is_open),
            overdue=Count("pk", filter=is_open & Q(due_by__lt=today)),
        )
    )
    figures["late"] = figures["closed"] - figures["on_time"]
    figures["since"] = since.date()
    figures["on_time_rate"] = figures["on_time"] / figures["closed"] if figures["closed"] else None
    return figures


def time_to_close(today: date | None = None) -> dict[str, Any]:
    """Median days from receipt to closing, over requests completed or denied in the last 12 months."""
    today = today or timezone.localdate()
    since = start_of(years_before(today, 1))
    rows = DataSubjectRequest.objects.filter(status__in=RESPONDED, closed_at__gte=since)
    stats = duration_stats(rows).get(None, {"n": 0, "median_days": None, "mean_days": None})
    return {**stats, "since": since.date()}


def failures_by_system(limit: int = TOP_SYSTEMS) -> list[dict[str, Any]]:
    """Jobs failed now (not yet retried or skipped), per connected system, most first."""
    return list(
        ConnectorJob.objects.filter(status=JobStatus.FAILED)
        .values("system__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "system__name")[:limit]
    )


# --- CCPA §7102 metrics --------------------------------------------------------------------


def _ccpa_type() -> Case:
    return Case(
        *[When(kind__in=list(kinds), then=Value(name)) for name, kinds in CCPA_TYPES],
        default=Value("other"),
        output_field=CharField(),
    )


def ccpa_metrics(year: int) -> list[dict[str, Any]]:
    """Per CCPA type, for the CCPA requests received in ``year``: two queries.

    received; complied with in whole or in part (outcome completed or partial);
    denied (status denied); not verified (expired unverified, shown apart from denials);
    median and mean days from receipt to closing over those complied with or denied.
    """
    start, end = year_range(year)
    cohort = DataSubjectRequest.objects.filter(
        regime=Regime.CCPA, received_at__gte=start, received_at__lt=end
    ).annotate(request_type=_ccpa_type())
    counts = {
        row["request_type"]: row
        for row in cohort.values("request_type")
        .annotate(
            received=Count("pk"),
            complied=Count("pk", filter=Q(outcome__in=COMPLIED_OUTCOMES)),
            denied=Count("pk", filter=Q(status=Status.DENIED)),
            not_verified=Count("pk", filter=Q(status=Status.EXPIRED, outcome="unverified")),
        )
        .order_by()
    }
    days = duration_stats(cohort.filter(status__in=RESPONDED), group="request_type")
    empty = {"received": 0, "complied": 0, "denied": 0, "not_verified": 0}
    result = []
    for name, kinds in CCPA_TYPES:
        row = {key: counts.get(name, empty)[key] for key in empty}
        stats = days.get(name, {})
        result.append({
            "year": year,
            "request_type": name,
            "kinds": [str(k.value) for k in kinds],
            **row,
            "responded": stats.get("n", 0),
            "median_days": stats.get("median_days"),
            "mean_days": stats.get("mean_days"),
        })
    return result


def _one_decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def ccpa_rows(metrics: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    """The metrics as CSV rows, in the order of :data:`CCPA_COLUMNS`."""
    for m in metrics:
        yield [
            m["year"], m["request_type"], m["received"], m["complied"], m["denied"], m["not_verified"],
            _one_decimal(m["median_days"]), _one_decimal(m["mean_days"]),
        ]


# --- CCPA §7101 request records ------------------------------------------------------------


def request_records(*, year: int | None = None, regime: str = "", today: date | None = None) -> QuerySet:
    """The records of requests received in ``year`` (default: the last 24 months).

    Only the columns of :data:`RECORD_FIELDS`: the encrypted personal fields are never read.
    """
    today = today or timezone.localdate()
    rows = DataSubjectRequest.objects.all()
    if year:
        start, end = year_range(year)
        rows = rows.filter(received_at__gte=start, received_at__lt=end)
    else:
        rows = rows.filter(received_at__gte=start_of(years_before(today, 2)))
    if regime:
        rows = rows.filter(regime=regime)
    return rows.order_by("received_at", "reference").values_list(*RECORD_FIELDS)


def _timestamp(value: datetime | None) -> str:
    return "" if value is None else timezone.localtime(value).isoformat(timespec="seconds")


def record_row(values: tuple[Any, ...]) -> list[Any]:
    """One record for the CSV; an email address typed into a denial reason is removed."""
    reference, regime, kind, received_at, requested_by, status, closed_at, outcome, denial = values
    return [
        reference, regime, kind, _timestamp(received_at), requested_by, status, _timestamp(closed_at),
        outcome, EMAIL_RE.sub("[email removed]", denial or ""),
    ]
