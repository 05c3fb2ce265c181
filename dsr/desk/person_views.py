"""One person at the desk: every request filed with their email address, and their history.

The person is found by the keyed hash of their email (the key in the page's address),
never by the address in clear; the address is shown from the requests themselves,
where it is stored encrypted.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from dsr.core.models import AuditEvent
from dsr.desk import wording
from dsr.desk.auth import desk_page
from dsr.desk.queries import days_left, is_person_key, person_requests, urgency

HISTORY = 100


@require_safe
@desk_page()
def person_page(request: HttpRequest, key: str) -> HttpResponse:
    rows = person_requests(key) if is_person_key(key) else []
    if not rows:
        raise Http404("No request has this person's email address.")
    names = sorted({r.identifiers.get("name") for r in rows if (r.identifiers or {}).get("name")})
    phones = sorted({r.identifiers.get("phone") for r in rows if (r.identifiers or {}).get("phone")})
    events = AuditEvent.objects.filter(request__in=rows).select_related("request").order_by("-seq")[:HISTORY]
    history = wording.describe_all(events)
    references = {r.pk: r.reference for r in rows}
    return render(request, "desk/person.html", {
        "email": next((r.email for r in rows if r.email), ""),
        "names": names,
        "phones": phones,
        "rows": [{"r": r, "days_left": days_left(r), "urgency": urgency(r)} for r in rows],
        "open_count": sum(1 for r in rows if r.is_open),
        "history": [(line, references.get(line.request_id, "")) for line in history],
        "history_cut": len(history) == HISTORY,
    })
