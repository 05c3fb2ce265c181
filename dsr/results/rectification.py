"""Rectification: the officer decides each correction, seeing the value each system holds now.

Each item of ``request.changes`` is ``{"field", "value"}`` as the person asked, and then:

- ``current``: ``{system: [values]}`` read from the systems (``dsr.engine.current``),
  with ``read_at``; what the officer sees next to the requested value;
- ``decision`` (``accepted`` or ``rejected``), ``reason``, and ``seen``: the ``current``
  the officer saw when deciding. Before a correction is written, the engine reads the
  system again; if the value is no longer the one seen, the job stops for a new decision
  instead of overwriting a change made since (by another request, or in the system);
- ``from``: the reference of a request merged into this one (a duplicate).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from dsr.core import audit, lifecycle, queue
from dsr.core.audit import Actor
from dsr.core.models import ConnectorJob, DataSubjectRequest, JobStatus, Kind, Status
from dsr.core.queue import Task


class DecisionRefused(Exception):
    pass


def undecided(request: DataSubjectRequest) -> list[int]:
    return [i for i, item in enumerate(request.changes or []) if item.get("decision") not in ("accepted", "rejected")]


def waiting_for_decision(request: DataSubjectRequest) -> list[ConnectorJob]:
    """Rectify jobs stopped because a value changed since the decision."""
    return [
        job for job in request.jobs.filter(action="rectify", status=JobStatus.WAITING).select_related("system")
        if (job.result or {}).get("stale")
    ]


def decide(
    request: DataSubjectRequest, decisions: dict[int, tuple[bool, str]], *, actor: Actor
) -> DataSubjectRequest:
    """``decisions`` maps an item's index to (accepted, reason); a rejection needs a reason.

    An acceptance records the values the officer saw (``seen``), which the engine checks
    before it writes. Allowed before approval, and again when a job stopped for a new one.
    """
    if request.kind != Kind.RECTIFICATION:
        raise DecisionRefused("Only rectification requests have corrections to decide.")
    if request.status != Status.VERIFIED and not (
        request.status == Status.IN_PROGRESS and waiting_for_decision(request)
    ):
        raise DecisionRefused("Decide the corrections before approving the request.")
    with transaction.atomic():
        request = DataSubjectRequest.objects.locked().get(pk=request.pk)
        items = [dict(item) for item in request.changes or []]
        for index, (accepted, reason) in decisions.items():
            if not 0 <= index < len(items):
                raise DecisionRefused(f"There is no correction number {index + 1}.")
            if not accepted and not reason.strip():
                raise DecisionRefused(f"Say why correction {index + 1} is rejected; the person is told.")
            if accepted and not items[index].get("read_at"):
                raise DecisionRefused("The current values have not been read from the systems yet. "
                                      "Wait a moment, or read them again, then decide.")
            items[index].update(decision="accepted" if accepted else "rejected", reason=reason.strip(),
                                seen=dict(items[index].get("current") or {}) if accepted else None)
        _one_value_per_field(items)
        DataSubjectRequest.objects.filter(pk=request.pk).update(changes=items)
        request.changes = items
        audit.record(
            "rectification.decided", actor=actor, request=request,
            details={"accepted": sum(1 for i in items if i.get("decision") == "accepted"),
                     "rejected": sum(1 for i in items if i.get("decision") == "rejected")},
        )
    return request


def _one_value_per_field(items: list[dict[str, Any]]) -> None:
    accepted: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.get("decision") != "accepted":
            continue
        earlier = accepted.setdefault(item["field"], index)
        if earlier != index and items[earlier]["value"] != item["value"]:
            raise DecisionRefused(
                f"Corrections {earlier + 1} and {index + 1} both change {item['field']}: accept one of them."
            )


def accepted_changes(request: DataSubjectRequest) -> dict[str, str]:
    return {item["field"]: item["value"] for item in request.changes or [] if item.get("decision") == "accepted"}


def record_current(request_id: Any, system: str | None, values: dict[str, list[Any]], *, every: set[str]) -> None:
    """Keep what ``system`` holds now for each field (``every``: the fields it was asked for).

    ``system`` None only notes that the systems have been read (some may have none to read).
    """
    now = timezone.now().isoformat()
    with transaction.atomic():
        request = DataSubjectRequest.objects.locked().get(pk=request_id)
        items = [dict(item) for item in request.changes or []]
        for item in items:
            if item["field"] in every:
                if system is not None:
                    item["current"] = {**(item.get("current") or {}), system: values.get(item["field"], [])}
                item["read_at"] = now
        DataSubjectRequest.objects.filter(pk=request_id).update(changes=items)


def stale(request: DataSubjectRequest, system: str, now: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    """The accepted corrections whose value in ``system`` is no longer the one the officer saw.

    A value already equal to the correction, or a field the system does not hold, is no
    conflict. A system the officer did not see at all is one when it holds another value.
    """
    found = {}
    for item in request.changes or []:
        if item.get("decision") != "accepted":
            continue
        holds = now.get(item["field"], [])
        if holds in ([], [item["value"]]):
            continue
        saw = (item.get("seen") or {}).get(system)
        if saw is None or _key(saw) != _key(holds):
            found[item["field"]] = {"seen": saw, "now": holds}
    return found


def _key(values: list[Any]) -> list[str]:
    return sorted("" if v is None else str(v) for v in values)


def merge_into(original: DataSubjectRequest, duplicate: DataSubjectRequest, *, actor: Actor) -> None:
    """A second correction request while the first awaits its decisions: one request, not two."""
    with transaction.atomic():
        target = DataSubjectRequest.objects.locked().get(pk=original.pk)
        added = [{"field": c["field"], "value": c["value"], "from": duplicate.reference}
                 for c in duplicate.changes or []]
        DataSubjectRequest.objects.filter(pk=target.pk).update(changes=[*(target.changes or []), *added])
        audit.record("rectification.merged", actor=actor, request=target,
                     details={"from": duplicate.reference, "items": len(added)})
        lifecycle.transition(
            duplicate, Status.CANCELLED, actor=actor,
            details={"reason": "merged", "into": target.reference},
            fields={"outcome": "merged", "duplicate_of": target},
        )
        queue.on_commit(Task.READ_CURRENT, str(target.pk))
