"""The queue as a query: filters, search, sort. Shared by the desk page and the officer API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from dsr.core.crypto import identifier_hash
from dsr.core.models import (
    OPEN_STATUS_LIST,
    OPEN_STATUSES,
    DataSubjectRequest,
    Kind,
    Regime,
    Status,
)

STATES = ("", "open", "closed")
SORTS = {
    "due": ("due_by", "received_at"),
    "-due": ("-due_by", "-received_at"),
    "received": ("received_at",),
    "-received": ("-received_at",),
    "reference": ("reference",),
}


@dataclass
class QueueFilter:
    status: str = ""
    kind: str = ""
    regime: str = ""
    assignee: str = ""  # a user id, "me" or "none"
    overdue: bool = False
    due_within: int | None = None
    q: str = ""
    sort: str = "due"
    state: str = ""  # "open", "closed", or "" for every request (a status filter wins)

    @classmethod
    def from_params(cls, params: Any) -> tuple[QueueFilter, dict[str, str]]:
        """Parse query parameters; returns the filter and any errors by parameter."""
        errors: dict[str, str] = {}
        f = cls(
            status=params.get("status", ""),
            kind=params.get("kind", ""),
            regime=params.get("regime", ""),
            assignee=params.get("assignee", ""),
            overdue=params.get("overdue", "") in {"1", "true", "on", "yes"},
            q=params.get("q", "").replace("\x00", "").strip()[:254],  # NUL matches nothing
            sort=params.get("sort", "due") or "due",
            state=params.get("state", "") or "",
        )
        if f.state == "all":
            f.state = ""
        if not f.state and params.get("open", "") in {"1", "true", "on", "yes"}:  # the older spelling
            f.state = "open"
        if f.state not in STATES:
            errors["state"] = "Open, closed or all."
        for name, allowed in (("status", Status.values), ("kind", Kind.values), ("regime", Regime.values)):
            if getattr(f, name) and getattr(f, name) not in allowed:
                errors[name] = f"Unknown {name} {getattr(f, name)!r}."
        if f.sort not in SORTS:
            errors["sort"] = f"Sort by one of {', '.join(SORTS)}."
        within = params.get("due_within", "")
        if within:
            try:
                f.due_within = int(within)
                if not 0 <= f.due_within <= 3650:
                    raise ValueError
            except ValueError:
                errors["due_within"] = "A number of days from 0 to 3650."
        if f.assignee not in ("", "me", "none") and not re.fullmatch(r"[0-9]{1,9}", f.assignee):
            errors["assignee"] = "A user id, 'me' or 'none'."
        return f, errors


def queue(f: QueueFilter, *, user: Any) -> QuerySet[DataSubjectRequest]:
    today = timezone.localdate()
    rows = DataSubjectRequest.objects.annotate(due_by=Coalesce("extended_due_on", "due_on"))
    if f.status:
        rows = rows.filter(status=f.status)
    elif f.state == "open" or f.overdue or f.due_within is not None:
        rows = rows.filter(status__in=OPEN_STATUS_LIST)
    elif f.state == "closed":
        rows = rows.exclude(status__in=OPEN_STATUS_LIST)
    if f.kind:
        rows = rows.filter(kind=f.kind)
    if f.regime:
        rows = rows.filter(regime=f.regime)
    if f.assignee == "me":
        rows = rows.filter(assignee=user)
    elif f.assignee == "none":
        rows = rows.filter(assignee__isnull=True)
    elif f.assignee:
        rows = rows.filter(assignee_id=int(f.assignee))
    if f.overdue:
        rows = rows.filter(due_by__lt=today)
    if f.due_within is not None:
        rows = rows.filter(due_by__lte=today + timedelta(days=f.due_within))
    if f.q:
        text = f.q
        if "@" in text:
            rows = rows.filter(email_hash=identifier_hash("email", text))  # never stored in clear
        else:
            rows = rows.filter(reference__icontains=text.upper().replace(" ", ""))
    return (
        rows.select_related("assignee")
        .only("id", "reference", "kind", "regime", "status", "received_at", "due_on", "extended_due_on",
              "assignee__username", "assignee__first_name", "assignee__last_name")
        .order_by(*SORTS[f.sort])
    )


def days_left(request: DataSubjectRequest) -> int | None:
    """Days until the due date (negative: overdue); None once the request is closed."""
    if request.status not in OPEN_STATUSES:
        return None
    return (request.effective_due_on - timezone.localdate()).days


def urgency(request: DataSubjectRequest) -> str:
    """A colour band for the queue: overdue, due within 2 days, within 7, or calm."""
    if request.status not in OPEN_STATUSES:
        return "closed"
    left = days_left(request) or 0
    if left < 0:
        return "overdue"
    if left <= 2:
        return "urgent"
    if left <= 7:
        return "soon"
    return "calm"


# --- one person: every request filed with the same email address ---------------------------

_PERSON_KEY = re.compile(r"[0-9a-f]{64}")


def person_key(email: str) -> str:
    """The person's key at the desk: the keyed hash of their email, never the address itself."""
    return identifier_hash("email", email)


def is_person_key(key: str) -> bool:
    return _PERSON_KEY.fullmatch(key or "") is not None


def person_requests(key: str, *, excluding: DataSubjectRequest | None = None) -> list[DataSubjectRequest]:
    """Every request of one person: the open ones first, soonest due; then the closed, newest first."""
    if not is_person_key(key):
        return []
    rows = DataSubjectRequest.objects.filter(email_hash=key).select_related("assignee").order_by("-received_at")
    if excluding is not None:
        rows = rows.exclude(pk=excluding.pk)
    rows = list(rows)
    open_ones = sorted((r for r in rows if r.is_open), key=lambda r: (r.effective_due_on, r.received_at))
    return open_ones + [r for r in rows if not r.is_open]
