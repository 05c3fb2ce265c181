"""The audit trail: append an event, verify the chain.

Every event's hash is sha256(previous hash + canonical JSON of the event), so
changing, removing or re-ordering any event breaks every hash after it. Appends
lock the single chain-head row, which keeps the chain linear under concurrency.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from dsr.core.models import ActorType, AuditChainHead, AuditEvent, DataSubjectRequest

GENESIS = "0" * 64
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class IdentifierInAuditDetails(ValueError):
    """Raised when a caller tries to write something that looks like an identifier."""


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""

    @classmethod
    def subject(cls) -> Actor:
        return cls(ActorType.SUBJECT)

    @classmethod
    def scheduler(cls) -> Actor:
        return cls(ActorType.SCHEDULER, "beat")

    @classmethod
    def worker(cls) -> Actor:
        """The Celery worker running a connector's job (a system reporting itself is ``system``)."""
        return cls(ActorType.SCHEDULER, "worker")

    @classmethod
    def officer(cls, user: Any) -> Actor:
        return cls(ActorType.OFFICER, str(user.pk))


def redact(text: str) -> str:
    """Strip anything shaped like an email address from free text (e.g. a system's error)."""
    return _EMAIL.sub("[redacted]", text)


def _check_details(value: Any) -> None:
    if isinstance(value, str) and _EMAIL.search(value):
        raise IdentifierInAuditDetails("audit details must not contain an email address")
    if isinstance(value, dict):
        for item in value.values():
            _check_details(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_details(item)


def _payload(event: AuditEvent) -> bytes:
    body = {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "verb": event.verb,
        "request": str(event.request_id) if event.request_id else None,
        "details": event.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + _payload(event)).hexdigest()


_pending = threading.local()


@contextmanager
def batch() -> Iterator[None]:
    """Run the block in a transaction and append its audit events together at its end.

    Events recorded inside the block are chained and inserted in one go just before
    the commit, so the chain head stays locked only for that moment rather than for
    the whole transaction, and a request's several events cost three queries, not three
    each. Nested batches join the outermost one. Don't record events in a savepoint
    that is rolled back while the rest of the block carries on: they would still be
    appended.

    Lock a request's row with ``DataSubjectRequest.objects.locked()`` (FOR NO KEY
    UPDATE), never plain ``select_for_update()``: see there why.
    """
    if getattr(_pending, "events", None) is not None:
        with transaction.atomic(savepoint=False):
            yield
        return
    _pending.events = []
    try:
        with transaction.atomic():
            yield
            events, _pending.events = _pending.events, None
            _append(events)
    finally:
        _pending.events = None


def _event(verb: str, actor: Actor, request_id: Any, details: dict[str, Any] | None) -> AuditEvent:
    details = dict(details or {})
    _check_details(details)
    return AuditEvent(
        actor_type=actor.type,
        actor_id=actor.id,
        verb=verb,
        request_id=request_id,
        details=json.loads(json.dumps(details, default=str)),
    )


def _append(events: list[AuditEvent]) -> None:
    """Chain ``events`` after the head, in order, and insert them: one lock, three queries."""
    if not events:
        return
    with transaction.atomic(savepoint=False):
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        seq, prev_hash, now = head.seq, head.hash, timezone.now()
        for event in events:
            seq += 1
            event.seq, event.created_at, event.prev_hash = seq, now, prev_hash
            event.hash = prev_hash = compute_hash(prev_hash, event)
        if connection.vendor == "postgresql" and len(events) <= _ONE_STATEMENT_MAX:
            _insert_and_move_head(events, seq, prev_hash)
        elif len(events) == 1:
            events[0].save(force_insert=True)
            AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev_hash)
        else:
            AuditEvent.objects.bulk_create(events, batch_size=1000)
            AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev_hash)


#: Up to this many events (10 parameters each, under PostgreSQL's 65,535), PostgreSQL
#: inserts them and moves the head in one statement; a sweep's chunk fits.
_ONE_STATEMENT_MAX = 5000
_EVENT_FIELDS = AuditEvent._meta.concrete_fields


def _insert_and_move_head(events: list[AuditEvent], seq: int, head_hash: str) -> None:
    """The events' INSERT and the head's UPDATE as one statement (a data-modifying CTE):
    one round trip instead of two for every append, under the same lock, in the same
    transaction. Table and column names are the models' own; every value is a parameter."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in _EVENT_FIELDS)
    row = "(" + ", ".join(["%s"] * len(_EVENT_FIELDS)) + ")"
    sql = (
        f"WITH appended AS (INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) "  # nosec B608: the models' names
        f"VALUES {', '.join([row] * len(events))}) "
        f"UPDATE {quote(AuditChainHead._meta.db_table)} SET seq = %s, hash = %s WHERE id = 1"
    )
    params = [f.get_db_prep_save(getattr(event, f.attname), connection) for event in events for f in _EVENT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, seq, head_hash])


def record(
    verb: str,
    *,
    actor: Actor,
    request: DataSubjectRequest | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Joins the caller's transaction, so it commits or rolls back with it.

    Inside :func:`batch` the event is appended with the others at the end of the block
    (its ``seq`` and ``hash`` are set then).
    """
    event = _event(verb, actor, request.pk if request is not None else None, details)
    pending = getattr(_pending, "events", None)
    if pending is not None:
        pending.append(event)
    else:
        _append([event])
    return event


def record_many(verb: str, entries: list[tuple[Any, dict[str, Any]]], *, actor: Actor) -> None:
    """Append one event per (request id, details) under a single lock of the chain head.

    The same chain as :func:`record`, in one insert instead of three queries per event,
    for sweeps that touch thousands of requests. Joins the caller's transaction.
    """
    events = [_event(verb, actor, request_id, details) for request_id, details in entries]
    pending = getattr(_pending, "events", None)
    if pending is not None:
        pending.extend(events)
    else:
        _append(events)


@dataclass(frozen=True)
class ChainFault:
    seq: int
    event_id: str
    reason: str

    def __str__(self) -> str:
        return f"audit event #{self.seq} ({self.event_id}): {self.reason}"


def _events_in_order(upto: int | None = None, page: int = 5000) -> Iterator[AuditEvent]:
    """Keyset pages: bounded memory, and no server-side cursor left open if we stop early."""
    after = 0
    events = AuditEvent.objects.filter(seq__lte=upto) if upto else AuditEvent.objects.all()
    while True:
        batch = list(events.filter(seq__gt=after).order_by("seq")[:page])
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].seq


def verify_chain() -> Iterator[ChainFault]:
    """Yield the faults in order; the first one is the first bad event.

    The head is read first, and the events up to it are checked: an event appended while
    the check runs comes after that head and is left for the next check, so a busy
    system (a worker writing as an auditor looks) never seems to have lost its tail.
    """
    head = AuditChainHead.objects.filter(pk=1).first()
    prev_hash, expected_seq = GENESIS, 1
    last: AuditEvent | None = None
    for event in _events_in_order(head.seq if head else None):
        if event.seq != expected_seq:
            yield ChainFault(event.seq, str(event.id), f"sequence gap: expected #{expected_seq}")
        if event.prev_hash != prev_hash:
            yield ChainFault(event.seq, str(event.id), "previous-hash link does not match")
        if compute_hash(event.prev_hash, event) != event.hash:
            yield ChainFault(event.seq, str(event.id), "content does not match its hash")
        prev_hash, expected_seq, last = event.hash, event.seq + 1, event
    if head and head.seq and (last is None or head.seq != last.seq or head.hash != last.hash):
        seq = last.seq if last else 0
        event_id = str(last.id) if last else "-"
        yield ChainFault(seq, event_id, f"chain ends before the recorded head #{head.seq}")
