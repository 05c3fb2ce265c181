"""The bundle as a person reads it: ``index.html`` and the pages that show the records.

The index says who we are and how to reach us, lists the records, and tells, system by
system, what the law of the request asks an access answer to say (purposes, recipients,
retention, source, automated decisions, transfers abroad). Each fact comes from the
system's metadata; a fact nobody has stated is shown as being checked, never guessed.
The records are shown as tables, ``PAGE_ROWS`` to a page, beside the JSON and CSV files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import escape
from typing import Any, Protocol

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString, mark_safe

from dsr.core import i18n, law, recipients, transfers
from dsr.core.branding import absolute_url, brand
from dsr.core.models import DataSubjectRequest, SystemConnection

PAGE_ROWS = 200
# Pages to read stop here (10,000 records); the JSON and CSV files always hold every record.
MAX_PAGES = 50


class CategoryPlan(Protocol):
    """One category of one system's records, as ``bundle.plan`` lays it out."""

    system: str
    category: str
    columns: list[str]
    count: int

    @property
    def path(self) -> str: ...


def pages(count: int) -> int:
    return min((count + PAGE_ROWS - 1) // PAGE_ROWS, MAX_PAGES)


def all_paged(count: int) -> bool:
    return count <= PAGE_ROWS * MAX_PAGES


def page_path(plan: CategoryPlan, number: int) -> str:
    return f"{plan.path}-page-{number}.html"


def cell(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def _rows(chunk: list[list[str]]) -> SafeString:
    """The table's rows, built here, every cell escaped: a template tag per cell is too slow."""
    rows = "\n".join(
        "<tr>" + "".join(["<td>" + escape(v) + "</td>" for v in values]) + "</tr>" for values in chunk)
    return mark_safe(rows)  # nosec B308, B703: every value in it is escaped just above


def render_pages(request: DataSubjectRequest, plan: CategoryPlan, rows: Iterator[dict[str, Any]],
                 shown: str) -> Iterator[tuple[str, str]]:
    """(path, html) of each page of one category's records, ``PAGE_ROWS`` at a time."""
    total = pages(plan.count)
    chunk: list[list[str]] = []
    number = 0

    def page() -> tuple[str, str]:
        with i18n.override(request.language):  # the person's language, in the worker too
            html = render_to_string("bundle/page.html", {
                "request": request, "plan": plan, "system": shown, "number": number,
                "table_rows": _rows(chunk),
                "total": total, "first": (number - 1) * PAGE_ROWS + 1,
                "last": (number - 1) * PAGE_ROWS + len(chunk),
                "previous": page_path(plan, number - 1).rsplit("/", 1)[-1] if number > 1 else "",
                "next": page_path(plan, number + 1).rsplit("/", 1)[-1] if number < total else "",
                "back": "../" * (plan.path.count("/")) + "index.html",
                "brand": brand(),
            })
        return page_path(plan, number), html

    for fields in rows:
        chunk.append([cell(fields.get(c)) for c in plan.columns])
        if len(chunk) == PAGE_ROWS:
            number += 1
            yield page()
            chunk = []
            if number == total:  # the rest are read in the JSON and CSV files
                return
    if chunk:
        number += 1
        yield page()


def _facts(system: SystemConnection, applied: law.Applied) -> dict[str, Any]:
    """What the person is told about one system; None where the metadata does not say."""
    named = recipients.names(system.recipients) if system.recipients is not None else None
    return {
        "name": system.shown_name,
        "purposes": system.purposes or None,
        "data_categories": system.data_categories or None,
        "recipients": named,
        "retention": system.retention or None,
        "source": system.source or None,
        "automated_decisions": system.automated_decisions or None,
        "abroad": transfers.abroad(system.country, system.transfers, applied.law.home_countries),
    }


def render_index(request: DataSubjectRequest, info: dict[str, Any], plans: list[CategoryPlan],
                 systems: list[SystemConnection]) -> str:
    with i18n.override(request.language):  # the person's language, in the worker too
        return _render_index(request, info, plans, systems)


def _render_index(request: DataSubjectRequest, info: dict[str, Any], plans: list[CategoryPlan],
                  systems: list[SystemConnection]) -> str:
    applied = law.for_request(request)
    facts = [_facts(s, applied) for s in systems]
    shown = {s.name: s.shown_name for s in systems}
    return render_to_string("bundle/index.html", {
        "request": request, "manifest": info, "law": applied,
        "generated_at": parse_datetime(info["generated_at"]),
        "categories": [{"plan": p, "system": shown.get(p.system, p.system), "pages": pages(p.count),
                        "all_paged": all_paged(p.count), "first_page": page_path(p, 1)} for p in plans],
        "withheld": [{**w, "system": shown.get(w["system"], w["system"])} for w in info["withheld"]],
        "systems": facts,
        "no_transfers": bool(facts) and all(f["abroad"].stated and not f["abroad"].kept_in
                                            and not f["abroad"].outside for f in facts),
        "organisation": settings.DSR_ORGANISATION,
        "controller_address": settings.DSR_CONTROLLER_ADDRESS,
        "contact": settings.DSR_CONTACT_EMAIL,
        "dpo": settings.DSR_DPO_CONTACT,
        # No logo: an image from our site would be fetched each time the person opens their own copy.
        "brand": brand(),
        "privacy_notice_url": absolute_url(settings.DSR_PRIVACY_NOTICE_URL),
    })
