"""The person cancels their own request, from its status page, before any work has started."""

from __future__ import annotations

from dsr.core import lifecycle
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Status

# Before an officer approves it, nothing has been done with the request: cancelling undoes nothing.
WITHDRAWABLE = frozenset({Status.RECEIVED, Status.AWAITING_VERIFICATION, Status.VERIFIED})


class TooLate(Exception):
    """Work has started (or the request is closed): the person must write to the privacy team."""


def can_withdraw(request: DataSubjectRequest) -> bool:
    return request.status in WITHDRAWABLE


def withdraw(request: DataSubjectRequest) -> bool:
    """Cancel ``request`` for the person, audited as theirs; True if this call cancelled it.

    The move is conditional on the status read here, so an officer approving it at the same
    moment wins and this raises :class:`TooLate`, never cancelling work under way.
    """
    if request.status == Status.CANCELLED and request.outcome == "withdrawn":
        return False
    if not can_withdraw(request):
        raise TooLate(request.reference)
    try:
        return lifecycle.transition(
            request,
            Status.CANCELLED,
            actor=Actor.subject(),
            details={"reason": "withdrawn by the person"},
            fields={"outcome": "withdrawn"},
        )
    except lifecycle.InvalidTransition as exc:
        raise TooLate(request.reference) from exc
