"""Systems whose results arrive later: a system that pulls its jobs, and a person.

Both answer every action with :class:`Deferred`; the job then waits until the
system reports through the jobs API, or an officer ticks the task off.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Action, Connector, Deferred, JobContext, LocateResult, Receipt, Record, Subject

ALL = frozenset({Action.LOCATE, Action.EXPORT, Action.ERASE, Action.RECTIFY})


class _Waiting(Connector):
    external = True
    actions = ALL
    message = "waiting"

    def locate(self, subject: Subject, *, job: JobContext | None = None) -> LocateResult:
        raise Deferred(self.message)

    def export(self, subject: Subject, *, job: JobContext | None = None) -> Iterator[Record]:
        raise Deferred(self.message)

    def erase(self, subject: Subject, *, job: JobContext | None = None) -> Receipt:
        raise Deferred(self.message)

    def rectify(
        self, subject: Subject, changes: Mapping[str, Any], *, job: JobContext | None = None
    ) -> Receipt:
        raise Deferred(self.message)


class PullConnector(_Waiting):
    """The system polls GET /api/v1/systems/jobs/ with its own token and reports back.

    config: ``send_identifiers``: the identifier kinds this system may see (default: email).
    """

    key = "pull"

    def validate(self) -> None:
        kinds = self.config.get("send_identifiers", ["email"])
        if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
            raise self.config_error("send_identifiers must be a non-empty list of identifier kinds")

    @property
    def message(self) -> str:  # type: ignore[override]
        return f"waiting for {self.name} to pull and report the job"


class ManualConnector(_Waiting):
    """A task for a person (paper files, a system with no API).

    config: ``instructions``: what the person should do; shown on the task.
    """

    key = "manual"

    @property
    def message(self) -> str:  # type: ignore[override]
        return self.config.get("instructions") or f"a task for a person: {self.name}"
