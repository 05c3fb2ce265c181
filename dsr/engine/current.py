"""What a system holds now, for the fields a correction would change.

Read for the officer before they decide, and again by the rectify job just before it
writes: if the value is no longer the one the officer saw, the job stops for a new
decision (``dsr.results.rectification``). A system is read through its connector's
export, so only systems that answer at once (not webhooks, pull systems or people)
can be read; the others are marked as not read.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.base import Action, Connector, ConnectorError, Subject
from dsr.core.models import DataSubjectRequest, SystemConnection
from dsr.results.rectification import record_current

from .connections import connector_for

log = logging.getLogger(__name__)


class NeedsDecision(Exception):
    """The system holds another value than the one the officer saw: decide again."""

    def __init__(self, fields: dict[str, dict[str, Any]], now: dict[str, list[Any]]) -> None:
        super().__init__(", ".join(sorted(fields)))
        self.fields = fields
        self.now = now


def readable(connector: Connector) -> bool:
    return Action.EXPORT in connector.actions and not connector.external


def read_values(connector: Connector, subject: Subject, fields: list[str]) -> dict[str, list[Any]]:
    """Each field's distinct values in the person's records (a field it does not hold: absent)."""
    found: dict[str, set[Any]] = {}
    for record in connector.export(subject):
        for name in fields:
            if name in record.fields:
                value = record.fields[name]
                found.setdefault(name, set()).add(None if value is None else str(value))
    return {name: sorted(values, key=lambda v: (v is None, v or "")) for name, values in found.items()}


def read_current(request_id: str) -> list[str]:
    """Read every system that corrects data, for the request's fields; returns the systems read."""
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or not request.changes or request.purged_at:
        return []
    fields = sorted({item["field"] for item in request.changes})
    subject = Subject(request_id=str(request.pk), identifiers=dict(request.identifiers or {}))
    done = []
    for system in SystemConnection.objects.filter(enabled=True).order_by("name"):
        if Action.RECTIFY not in system.actions:
            continue
        try:
            with connector_for(system) as connector:
                if Action.RECTIFY not in connector.actions or not readable(connector):
                    continue
                values = read_values(connector, subject, fields)
        except ConnectorError as exc:
            log.warning("could not read %s for %s: %s", system.name, request.reference, exc.message)
            continue
        except Exception as exc:  # noqa: BLE001 - an unreadable system is shown as not read, never a crash
            log.warning("could not read %s for %s: %s", system.name, request.reference, type(exc).__name__)
            continue
        record_current(request.pk, system.name, values, every=set(fields))
        done.append(system.name)
    record_current(request.pk, None, {}, every=set(fields))  # read, even where none could be
    return done

