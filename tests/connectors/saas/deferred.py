"""Driving an erasure that finishes later the way the engine does (Segment, SendGrid)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connectors.base import Deferred, JobContext, Receipt, Subject
from connectors.saas.connector import SaasConnector


def erase_until_done(
    connector: SaasConnector,
    subject: Subject,
    *,
    calls: int = 10,
    between: Callable[[], object] | None = None,
) -> tuple[Receipt, list[Deferred]]:
    """What the engine does: call erase again with the state of the last Deferred.

    ``between`` runs while the engine would wait (the vendor working through its queue).
    """
    state: dict[str, Any] = {}
    deferrals = []
    for _ in range(calls):
        try:
            return connector.erase(
                subject, job=JobContext("job-1", "idem-1", state=state)
            ), deferrals
        except Deferred as waiting:
            deferrals.append(waiting)
            state = json.loads(json.dumps(waiting.state))  # what the engine stores is JSON
            if between is not None:
                between()
    raise AssertionError("still deferred")
