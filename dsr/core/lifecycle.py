"""Every status change of a request goes through :func:`transition`.

The allowed moves are one table. A move is a conditional UPDATE (``WHERE status
= <from>``), so two workers or a double click cannot both apply it, and its
audit event is written in the same transaction. Repeating a move that already
happened is a harmless no-op.
"""

from __future__ import annotations

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
    fields = dict(fields or {})
    if target in TERMINAL_STATUSES:
        fields.setdefault("closed_at", timezone.now())
    current = request.status
    if not can_transition(current, target):
        if current == target:
            return False
        raise InvalidTransition(request.reference, current, target)
    # No savepoint: nothing below raises but a database error, which dooms the caller's
    # transaction anyway; the refusal is raised after the block.
    with transaction.atomic(savepoint=False):
        changed = DataSubjectRequest.objects.filter(pk=request.pk, status=current).update(
            status=target, updated_at=timezone.now(), **fields
        )
        if changed:
            audit.record(
                f"status.{target}",
                actor=actor,
                request=request,
                details={"from": current, "to": target, **(details or {})},
            )
    if not changed:
        request.refresh_from_db()
        if request.status == target:
            return False
        raise InvalidTransition(request.reference, request.status, target)
    request.status = target
    for name, value in fields.items():
        setattr(request, name, value)
    return True
