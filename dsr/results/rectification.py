"""Rectification: the officer accepts or rejects each requested correction, with a reason."""

from __future__ import annotations

from django.db import transaction

from dsr.core import audit
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Kind, Status


class DecisionRefused(Exception):
    pass


def undecided(request: DataSubjectRequest) -> list[int]:
    return [i for i, item in enumerate(request.changes or []) if item.get("decision") not in ("accepted", "rejected")]


def decide(
    request: DataSubjectRequest, decisions: dict[int, tuple[bool, str]], *, actor: Actor
) -> DataSubjectRequest:
    """``decisions`` maps an item's index to (accepted, reason); a rejection needs a reason."""
    if request.kind != Kind.RECTIFICATION:
        raise DecisionRefused("Only rectification requests have corrections to decide.")
    if request.status != Status.VERIFIED:
        raise DecisionRefused("Decide the corrections before approving the request.")
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        items = [dict(item) for item in request.changes or []]
        for index, (accepted, reason) in decisions.items():
            if not 0 <= index < len(items):
                raise DecisionRefused(f"There is no correction number {index + 1}.")
            if not accepted and not reason.strip():
                raise DecisionRefused(f"Say why correction {index + 1} is rejected; the person is told.")
            items[index].update(decision="accepted" if accepted else "rejected", reason=reason.strip())
        DataSubjectRequest.objects.filter(pk=request.pk).update(changes=items)
        request.changes = items
        audit.record(
            "rectification.decided", actor=actor, request=request,
            details={"accepted": sum(1 for i in items if i.get("decision") == "accepted"),
                     "rejected": sum(1 for i in items if i.get("decision") == "rejected")},
        )
    return request


def accepted_changes(request: DataSubjectRequest) -> dict[str, str]:
    return {item["field"]: item["value"] for item in request.changes or [] if item.get("decision") == "accepted"}
