"""The desk's reports: a dashboard of charts (inline SVG, drawn here), CCPA §7102 metrics,
and the CCPA §7101 request records as a streamed CSV. Read-only: auditors see them too.
"""

from __future__ import annotations

import csv
import math
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from dsr.core.models import Kind, Regime
from dsr.desk import reports
from dsr.desk.auth import desk_page
from dsr.results.bundle import csv_cell

# One colour per kind, distinguishable with the common colour-vision deficiencies.
KIND_COLOURS = {
    Kind.ACCESS: "#0b5cad",
    Kind.PORTABILITY: "#6cb6ff",
    Kind.RECTIFICATION: "#d4a72c",
    Kind.ERASURE: "#8250df",
}
RECORD_CHUNK = 2000


def _nice_max(value: int) -> tuple[int, int]:
    """An axis maximum at or above ``value`` and a round step for about four gridlines."""
    if value <= 4:
        return 4, 1
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return int(math.ceil(value / step) * step), int(step)


def weekly_chart(weeks: list[reports.Week]) -> dict[str, Any]:
    """Geometry of the stacked bars: requests per ISO week, one colour per kind."""
    width, height = 960, 300
    left, right, top, bottom = 40, 8, 22, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value, step = _nice_max(max((w.total for w in weeks), default=0))
    band = plot_w / max(len(weeks), 1)
    bar = band * 0.62

    def y(value: float) -> float:
        return round(top + plot_h - value / top_value * plot_h, 1)

    bars = []
    for i, w in enumerate(weeks):
        x = round(left + i * band + (band - bar) / 2, 1)
        year, number = w.iso
        day = f"{w.monday.day} {w.monday:%b}"
        label = f"Week {number} of {year}, from {day}"
        segments, base = [], 0
        for kind in Kind.values:
            n = w.counts.get(kind, 0)
            if n:
                segments.append({
                    "x": x, "y": y(base + n), "width": round(bar, 1), "height": round(y(base) - y(base + n), 1),
                    "fill": KIND_COLOURS[kind], "title": f"{label}: {n} {kind}",
                })
                base += n
        bars.append({
            "segments": segments, "total": w.total, "total_y": y(w.total) - 5, "center": round(x + bar / 2, 1),
            "week": f"W{number}", "date": day, "title": f"{label}: {w.total} in all",
        })
    ticks = [{"value": v, "y": y(v)} for v in range(0, top_value + 1, step)]
    return {
        "width": width, "height": height, "left": left, "right": width - right, "bottom": top + plot_h,
        "label_y": top + plot_h + 18, "date_y": top + plot_h + 34, "bars": bars, "ticks": ticks,
        "empty": not any(w.total for w in weeks),
    }


def legend(weeks: list[reports.Week]) -> list[dict[str, Any]]:
    return [
        {"kind": kind, "colour": KIND_COLOURS[kind], "total": sum(w.counts[kind] for w in weeks)}
        for kind in Kind.values
    ]


def failures_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of the horizontal bars: failed jobs per system."""
    width, label_w, row_h = 620, 170, 28
    bar_space = width - label_w - 50
    most = max((r["n"] for r in rows), default=0) or 1
    bars = []
    for i, r in enumerate(rows):
        name = r["system__name"]
        length = max(round(r["n"] / most * bar_space, 1), 2)
        bars.append({
            "name": name if len(name) <= 22 else name[:21] + "…", "full_name": name, "n": r["n"],
            "y": i * row_h + 4, "text_y": i * row_h + 19, "width": length, "count_x": label_w + length + 6,
        })
    return {"width": width, "height": len(rows) * row_h + 8, "label_w": label_w, "bars": bars}


def ring(rate: float | None) -> dict[str, Any]:
    """A ring gauge for the on-time rate, coloured by how good it is."""
    radius = 52
    circumference = 2 * math.pi * radius
    share = rate or 0
    colour = "#1a7f37" if share >= 0.95 else "#9a6700" if share >= 0.8 else "#b42318"
    return {
        "radius": radius, "circumference": round(circumference, 2), "filled": round(share * circumference, 2),
        "colour": colour, "percent": None if rate is None else round(rate * 100),
    }


@require_safe
@desk_page()
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    weeks = reports.weekly_by_kind(today)
    summary = reports.status_summary(today)
    closing = reports.time_to_close(today)
    failures = reports.failures_by_system()
    return render(request, "desk/reports.html", {
        "reports_url": reverse("desk:reports"),
        "today": today,
        "weeks": weeks,
        "chart": weekly_chart(weeks),
        "legend": legend(weeks),
        "kinds": Kind.values,
        "summary": summary,
        "ring": ring(summary["on_time_rate"]),
        "closing": closing,
        "failures": failures_chart(failures),
        "year": today.year,
    })


@require_safe
@desk_page()
def ccpa_metrics(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    context: dict[str, Any] = {
        "reports_url": reverse("desk:reports"), "first_year": reports.FIRST_YEAR, "this_year": today.year,
        "recent_years": list(range(today.year, max(today.year - 5, reports.FIRST_YEAR - 1), -1)),
    }
    try:
        year = reports.parse_year(request.GET.get("year"), today=today)
    except reports.BadParameter as exc:
        context.update(error=str(exc), year=request.GET.get("year", "")[:20])
        return render(request, "desk/ccpa_metrics.html", context, status=400)
    context.update(year=year, metrics=reports.ccpa_metrics(year))
    return render(request, "desk/ccpa_metrics.html", context)


class _Echo:
    """A file-like object that hands back what the csv writer writes, for streaming."""

    def write(self, value: str) -> str:
        return value


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=400, content_type="text/plain; charset=utf-8")


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@desk_page()
def ccpa_metrics_csv(request: HttpRequest) -> HttpResponse:
    try:
        year = reports.parse_year(request.GET.get("year"))
    except reports.BadParameter as exc:
        return _bad_request(str(exc))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    writer = csv.writer(response)
    writer.writerow(reports.CCPA_COLUMNS)
    for row in reports.ccpa_rows(reports.ccpa_metrics(year)):
        writer.writerow([csv_cell(cell) for cell in row])
    return _attachment(response, f"ccpa-metrics-{year}.csv")


@require_safe
@desk_page()
def request_records_csv(request: HttpRequest) -> HttpResponse:
    """CCPA §7101 records, streamed: one row per request, no personal identifiers."""
    today = timezone.localdate()
    try:
        year = reports.parse_year(request.GET.get("year"), today=today) if request.GET.get("year") else None
        regime = reports.parse_regime(request.GET.get("regime"))
    except reports.BadParameter as exc:
        return _bad_request(str(exc))
    records = reports.request_records(year=year, regime=regime, today=today)

    def lines():
        writer = csv.writer(_Echo())
        yield writer.writerow(reports.RECORD_COLUMNS)
        for values in records.iterator(chunk_size=RECORD_CHUNK):
            yield writer.writerow([csv_cell(cell) for cell in reports.record_row(values)])

    period = str(year) if year else f"24-months-to-{today:%Y-%m-%d}"
    scope = f"-{Regime(regime).value}" if regime else ""
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    return _attachment(response, f"request-records{scope}-{period}.csv")
