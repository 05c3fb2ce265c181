"""The deadlines watch: remind the desk as an open request's due date nears, and when it passes.

Runs hourly from beat. Each reminder is sent once per request and marker, the
markers kept in ``DataSubjectRequest.reminders_sent``:

- ``due:T`` when the effective due date is T days away or less, for each T in
  ``DSR_REMINDER_DAYS`` (only the smallest threshold crossed: a request first seen
  at 1 day left gets ``due:2``, not ``due:7`` as well);
- ``overdue`` once the effective due date has passed (instead of any ``due:T``);
- ``ack`` when a CCPA acknowledgement is still unsent 2 days before it is due.

Candidates are found in the database in one pass; then each chunk of them is
locked (``SKIP LOCKED``), re-checked, marked and audited in one transaction, so two
runs at once never remind twice. The emails go out after the marks are committed:
one per recipient per run, listing that recipient's requests (the most urgent
``MAX_LISTED``; the rest are counted). A failed send is logged, not retried: the
marker is already set, so a reminder is lost rather than ever sent twice.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone

from dsr.core import audit, emails, labels, queue
from dsr.core.audit import Actor
from dsr.core.models import OPEN_STATUSES, DataSubjectRequest
from dsr.core.queue import Task
from dsr.core.roles import acting_staff

log = logging.getLogger(__name__)

VERB = "deadline.reminder"
OVERDUE = "overdue"
ACK = "ack"
ACK_WARNING_DAYS = 2  # CCPA: the 10-business-day acknowledgement, flagged 2 days ahead
CHUNK = 2000  # requests locked, marked and audited per transaction
MAX_LISTED = 100  # requests listed in one email; the rest are counted (the queue has them all)
TEMPLATE = "deadline_reminder"
_TEAM = object()  # the recipient key for unassigned requests: every officer and administrator
# What the sweep reads of each locked request, as plain values: building model instances
# (and the assignee's) cost more than everything else the sweep does in Python.
COLUMNS = (
    "pk", "reference", "kind", "regime", "due_on", "extended_due_on", "acknowledge_by",
    "acknowledged_at", "reminders_sent", "assignee__email", "assignee__is_active",
)


@dataclass(slots=True)
class Candidate:
    """One locked request, as far as the reminders go (same names as the model's fields)."""

    pk: Any
    reference: str
    kind: str
    regime: str
    due_on: date
    extended_due_on: date | None
    acknowledge_by: date | None
    acknowledged_at: Any
    reminders_sent: list[str] | None
    assignee_email: str | None
    assignee_is_active: bool | None

    @property
    def effective_due_on(self) -> date:
        return self.extended_due_on or self.due_on


def thresholds() -> list[int]:
    """The configured reminder days, smallest first (a negative one makes no sense: dropped)."""
    return sorted({int(t) for t in settings.DSR_REMINDER_DAYS if int(t) >= 0})


def due_marker(days_left: int, steps: list[int]) -> str | None:
    """The one due-date marker a request at ``days_left`` has earned, if any."""
    if days_left < 0:
        return OVERDUE
    for step in steps:
        if days_left <= step:
            return f"due:{step}"
    return None


def markers_due(request: DataSubjectRequest | Candidate, today: date, steps: list[int]) -> list[str]:
    """Every marker the request has earned today, sent or not."""
    markers = []
    marker = due_marker((request.effective_due_on - today).days, steps)
    if marker:
        markers.append(marker)
    if (
        request.acknowledge_by is not None
        and request.acknowledged_at is None
        and (request.acknowledge_by - today).days <= ACK_WARNING_DAYS
    ):
        markers.append(ACK)
    return markers


# -- finding the candidates in the database ------------------------------------------------


def _due_between(low: date | None, high: date | None) -> Q:
    """The effective due date (the extended one if set) within [low, high], on the columns
    themselves rather than through COALESCE."""
    extended, original = Q(extended_due_on__isnull=False), Q(extended_due_on__isnull=True)
    if low is not None:
        extended &= Q(extended_due_on__gte=low)
        original &= Q(due_on__gte=low)
    if high is not None:
        extended &= Q(extended_due_on__lte=high)
        original &= Q(due_on__lte=high)
    return extended | original


def _not_sent(marker: str) -> Q:
    # A text match on the JSON list works the same on SQLite and PostgreSQL (jsonb ``@>``
    # does not exist on SQLite). The quotes make "due:7" not match "due:70". This only
    # narrows the candidates: each locked row is checked again in Python before sending.
    return ~Q(_sent__contains=json.dumps(marker))


def pending(today: date, steps: list[int]) -> QuerySet[DataSubjectRequest]:
    """Open requests with a marker earned and not yet sent: the same rules as ``markers_due``."""
    wanted = _due_between(None, today - timedelta(days=1)) & _not_sent(OVERDUE)
    low = today
    for step in steps:
        wanted |= _due_between(low, today + timedelta(days=step)) & _not_sent(f"due:{step}")
        low = today + timedelta(days=step + 1)
    wanted |= Q(
        acknowledge_by__isnull=False,
        acknowledged_at__isnull=True,
        acknowledge_by__lte=today + timedelta(days=ACK_WARNING_DAYS),
    ) & _not_sent(ACK)
    return (
        DataSubjectRequest.objects.filter(status__in=OPEN_STATUSES)
        .alias(_sent=Cast("reminders_sent", output_field=TextField()))
        .filter(wanted)
        .order_by()
    )


def _batches(ids: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while batch := list(itertools.islice(ids, size)):
        yield batch


# -- what the email lists -----------------------------------------------------------------


@dataclass
class Item:
    reference: str
    kind: str
    regime: str
    due_on: date
    days_left: int
    crossed: list[str]
    pk: Any
    urgency: int  # the fewest days left on anything crossed: the list is sorted by it

    @property
    def url(self) -> str:
        """The request on the desk (worked out only for the requests an email lists)."""
        return emails.absolute(reverse("desk:request", args=[self.pk]))

    @property
    def left(self) -> str:
        days = abs(self.days_left)
        plural = "" if days == 1 else "s"
        if self.days_left > 0:
            return f"{days} day{plural} left"
        return "due today" if days == 0 else f"{days} day{plural} overdue"


@dataclass
class Digest:
    """The most urgent ``MAX_LISTED`` items for one recipient, and how many there were in all.

    Only those listed ever become an :class:`Item`; the rest are counted.
    """

    total: int = 0
    _heap: list[tuple[int, int, Candidate, list[str], date]] = field(default_factory=list)
    _order: Any = field(default_factory=itertools.count)

    def add(self, request: Candidate, crossed: list[str], today: date) -> None:
        self.total += 1
        entry = (-_urgency(request, crossed, today), next(self._order), request, crossed, today)
        if len(self._heap) < MAX_LISTED:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heappushpop(self._heap, entry)  # the least urgent goes (counted, not listed)

    def items(self) -> list[Item]:
        return [_item(request, crossed, today) for _, _, request, crossed, today in self._heap]


def _describe(marker: str, request: Candidate, days_left: int) -> str:
    if marker == OVERDUE:
        return "overdue"
    if marker == ACK:
        return f"CCPA acknowledgement due {request.acknowledge_by.isoformat()}"
    if days_left == 0:
        return "due today"
    return f"due in {days_left} day{'' if days_left == 1 else 's'}"


def _urgency(request: Candidate, markers: list[str], today: date) -> int:
    """The fewest days left on anything crossed: the email lists the smallest first."""
    urgency = (request.effective_due_on - today).days
    if ACK in markers:
        urgency = min(urgency, (request.acknowledge_by - today).days)
    return urgency


def _item(request: Candidate, markers: list[str], today: date) -> Item:
    days_left = (request.effective_due_on - today).days
    return Item(
        reference=request.reference,
        kind=labels.kind(request.kind),  # the desk's words: "Erasure, California (CCPA)"
        regime=labels.regime(request.regime),
        due_on=request.effective_due_on,
        days_left=days_left,
        crossed=[_describe(m, request, days_left) for m in markers],
        pk=request.pk,
        urgency=_urgency(request, markers, today),
    )


def _recipient_key(request: Candidate) -> Any:
    if request.assignee_is_active and request.assignee_email:
        return request.assignee_email
    return _TEAM


def team_addresses() -> list[str]:
    """Active officers, administrators and superusers with an email address (never auditors)."""
    return list(acting_staff().exclude(email="").order_by("email").values_list("email", flat=True).distinct())


# -- the run --------------------------------------------------------------------------------


def _claim(
    candidates: QuerySet[DataSubjectRequest], ids: list[Any], today: date, steps: list[int],
    digests: dict[Any, Digest],
) -> None:
    """Lock, re-check, mark and audit one chunk of candidates.

    Rows another run holds are skipped (that run reminds them); the filter and the Python
    check run again on the locked rows, so a marker set meanwhile is never sent twice.
    """
    actor = Actor.scheduler()
    with transaction.atomic():
        rows = [
            Candidate(*values)
            for values in candidates.filter(pk__in=ids)
            .locked(skip_locked=True, of=("self",))
            .values_list(*COLUMNS)
        ]
        entries, listed = [], []
        # One UPDATE per distinct new list (a handful: "due:7", "due:7 + due:2", "overdue", ...):
        # far cheaper than bulk_update's CASE per row; the rows are locked, so no list is lost.
        by_value: dict[tuple[str, ...], list[Any]] = {}
        for request in rows:
            sent = list(request.reminders_sent or [])
            new = [m for m in markers_due(request, today, steps) if m not in sent]
            if not new:
                continue
            by_value.setdefault(tuple(sent + new), []).append(request.pk)
            for marker in new:
                when = request.acknowledge_by if marker == ACK else request.effective_due_on
                entries.append((request.pk, {"marker": marker, "days_left": (when - today).days}))
            listed.append((_recipient_key(request), request, new))
        for value, pks in by_value.items():
            DataSubjectRequest.objects.filter(pk__in=pks).update(reminders_sent=list(value))
        audit.record_many(VERB, entries, actor=actor)
    # Only once committed: a chunk rolled back is reminded by the next run, so not listed now.
    for key, request, new in listed:
        digests.setdefault(key, Digest()).add(request, new, today)


def _merge(digests: Iterable[Digest]) -> tuple[list[Item], int]:
    items = [item for digest in digests for item in digest.items()]
    items.sort(key=lambda i: (i.urgency, i.reference))
    return items[:MAX_LISTED], sum(d.total for d in digests)


def _send_all(digests: dict[Any, Digest]) -> int:
    """One email per recipient (an assignee who is also on the team gets one, not two)."""
    if not digests:
        return 0
    team = team_addresses() if _TEAM in digests else []
    own = {k: v for k, v in digests.items() if k is not _TEAM}
    by_address: dict[str, tuple[str, list[Digest]]] = {}
    for address, digest in own.items():
        by_address.setdefault(address.lower(), (address, []))[1].append(digest)
    for address in team:
        by_address.setdefault(address.lower(), (address, []))[1].append(digests[_TEAM])
    queue_url = emails.absolute(reverse("desk:queue"))
    sent = 0
    for address, parts in by_address.values():
        items, total = _merge(parts)
        context = {"items": items, "total": total, "more": total - len(items),
                   "queue_url": queue_url}
        # Rendered now, delivered by a mail task that retries: a mail-server outage
        # delays a reminder, never drops it (the markers are already saved).
        queue.enqueue(Task.DELIVER, address, *emails.render(TEMPLATE, context))
        sent += 1
    if _TEAM in digests and not team:
        log.warning("%d unassigned requests need a reminder, but no active officer or "
                    "administrator has an email address", digests[_TEAM].total)
    return sent


def remind(*, today: date | None = None) -> int:
    """Send the reminders due now; returns how many emails went out."""
    today = today or timezone.localdate()
    steps = thresholds()
    candidates = pending(today, steps)
    digests: dict[Any, Digest] = {}
    # One pass over the candidates' ids (a sequential scan, streamed through a server-side
    # cursor on PostgreSQL), then each chunk is locked by id. Walking the primary key in
    # order with LIMIT instead would read a random-UUID table in random order every hour.
    ids = candidates.values_list("pk", flat=True).iterator(chunk_size=CHUNK)
    try:
        for batch in _batches(ids, CHUNK):
            _claim(candidates, batch, today, steps, digests)
    finally:
        # Marks already committed are never re-sent, so their emails go out even if a
        # later chunk failed (the error is raised again afterwards).
        sent = _send_all(digests)
    if digests:
        total = sum(d.total for d in digests.values())
        log.info("deadline reminders: %d emails for %d requests", sent, total)
    return sent
