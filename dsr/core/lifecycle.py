"""Every status change of a request goes through :func:`transition` (one move) or
:func:`transition_through` (several in a row, e.g. verified, approved and started at once).

The allowed moves are one table. A move is a conditional UPDATE (``WHERE status
= <from>``), so two workers or a double click cannot both apply it, and its
audit event is written in the same transaction; several moves are one UPDATE
with an audit event each. Repeating a move that already happened is a harmless no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from dsr.core import audit
from dsr.core.audit import Actor
from dsr.core.models import TERMINAL_STATUSES, DataSubjectRequest, Status

ALLOWED: dict[str, frozenset[str]] = {
    # received → verified directly: a trusted integration vouches for an account holder.
    Status.RECEIVED: frozenset(
        {Status.AWAITING_VERIFICATION, Status.VERIFIED, Status.CANCELLED, Status.EXPIRED}
    ),
    Status.AWAITING_VERIFICATION: frozenset({Status.VERIFIED, Status.CANCELLED, Status.EXPIRED}),
    Status.VERIFIED: frozenset({Status.APPROVED, Status.DENIED, Status.CANCELLED}),
    Status.APPROVED: frozenset({Status.IN_PROGRESS, Status.CANCELLED}),
    Status.IN_PROGRESS: frozenset({Status.REVIEW, Status.COMPLETED, Status.CANCELLED}),
    Status.REVIEW: frozenset({Status.COMPLETED, Status.DENIED, Status.CANCELLED}),
}


class InvalidTransition(Exception):
    """A status change the lifecycle does not allow."""

    def __init__(self, reference: str, current: str, target: str) -> None:
        current, target = str(Status(current).value), str(Status(target).value)
        allowed = sorted(str(s.value) for s in ALLOWED.get(Status(current), ())) or ["none: the request is closed"]
        super().__init__(
            f"{reference}: cannot move from {current!r} to {target!r} "
            f"(allowed from {current!r}: {', '.join(allowed)})"
        )
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())


@dataclass(frozen=True)
class Move:
    """One status change: where to, by whom, what its audit event adds, which fields change with it."""

    target: str
    actor: Actor
    details: dict[str, Any] | None = None
    fields: dict[str, Any] | None = None


def transition(
    request: DataSubjectRequest,
    target: str,
    *,
    actor: Actor,
    details: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
) -> bool:
    """Move ``request`` to ``target``; True if this call made the change.

    ``fields`` are written in the same UPDATE (e.g. verified_at, due date).
    Raises :class:`InvalidTransition` when the move is not allowed from the
    request's current status in the database.
    """
    return transition_through(request, [Move(target, actor, details, fields)])


def transition_through(request: DataSubjectRequest, moves: Sequence[Move]) -> bool:
    """Make ``moves``, one after the other, as one conditional UPDATE; True if this call made them.

    Each move must be allowed from where the one before it leaves the request; each gets
    its own audit event, in order, as if made alone. The UPDATE holds only while the
    request is where the first move starts from. Repeating moves whose first already
    happened is a harmless no-op (False), as is finding, at the UPDATE, that another
    caller has just made them all.
    """
    if not moves:
        raise ValueError("no move to make")
    start = current = request.status
    fields: dict[str, Any] = {}
    for move in moves:
        if not can_transition(current, move.target):
            if current == move.target and move is moves[0]:  # already made: the rest is not ours to make
                return False
            raise InvalidTransition(request.reference, current, move.target)
        current = move.target
        fields.update(move.fields or {})
    target = current
    if target in TERMINAL_STATUSES:
        fields.setdefault("closed_at", timezone.now())
    # No savepoint: nothing below raises but a database error, which dooms the caller's
    # transaction anyway; the refusal is raised after the block.
    with transaction.atomic(savepoint=False):
        changed = DataSubjectRequest.objects.filter(pk=request.pk, status=start).update(
            status=target, updated_at=timezone.now(), **fields
        )
        if changed:
            previous = start
            for move in moves:
                audit.record(
                    f"status.{move.target}",
                    actor=move.actor,
                    request=request,
                    details={"from": previous, "to": move.target, **(move.details or {})},
                )
                previous = move.target
    if not changed:
        request.refresh_from_db()
        if request.status == target:
            return False
        raise InvalidTransition(request.reference, request.status, moves[0].target)
    request.status = target
    for name, value in fields.items():
        setattr(request, name, value)
    return True
