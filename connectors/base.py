"""The connector seam: plain data in, plain data out.

A connector reaches one connected system. It gets its own configuration and
secrets (already decrypted) and a :class:`Subject`; it returns counts, records and
receipts. It never imports ``dsr`` models, so it can be tested alone and shipped
as a plugin (entry-point group ``dsr.connectors``).

Errors: raise :class:`ConnectorError`; ``permanent=True`` stops retries (bad
configuration, a refused credential), anything else is retried with backoff.
A system that will answer later (a webhook that accepted the job, a pull system,
a person) raises :class:`Deferred` instead of returning.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

#: The largest count (found, affected) a job records: a system claiming more is not believed.
MAX_COUNT = 2**31 - 1


class Action(enum.StrEnum):
    LOCATE = "locate"
    EXPORT = "export"
    ERASE = "erase"
    RECTIFY = "rectify"


@dataclass(frozen=True)
class Subject:
    """One person, as a connected system may be asked about them.

    ``identifiers`` maps a kind (``email``, ``phone``, ``customer_id``, ...) to a value.
    """

    request_id: str
    identifiers: Mapping[str, str] = field(default_factory=dict)

    def get(self, kind: str) -> str | None:
        value = self.identifiers.get(kind)
        return value if value not in (None, "") else None

    @property
    def email(self) -> str | None:
        return self.get("email")

    def with_identifiers(self, extra: Mapping[str, str]) -> Subject:
        merged = {**extra, **self.identifiers}  # never overwrite what the person gave
        return Subject(self.request_id, merged)


@dataclass(frozen=True)
class Record:
    """One record of the person's data: which system, what kind, its fields."""

    system: str
    category: str
    fields: Mapping[str, Any]


@dataclass
class LocateResult:
    """Where the person's data is: counts per category, and identifiers learned on the way."""

    found: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    identifiers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receipt:
    """What an erase or rectify did."""

    action: str
    affected: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobContext:
    """What an external system needs to answer out of band (webhook callbacks).

    ``state`` is what the connector handed back in its last :class:`Deferred` for this
    job (empty on the first call): a system that works on its own clock (a vendor's
    privacy deletion) is started once and then only asked how far it has got.
    """

    job_id: str
    idempotency_key: str
    callback_url: str = ""
    callback_token: str = ""
    deadline: datetime | None = None
    state: Mapping[str, Any] = field(default_factory=dict)


class ConnectorError(Exception):
    """A connected system could not do its job; ``permanent`` stops retries."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class Deferred(Exception):
    """The system accepted the job and will report the result later.

    Two kinds of later: the system calls back (webhook, pull, a person), or we ask
    again. For the second, ``poll_after`` says in how many seconds asking again is
    worth it, and ``state`` (plain JSON) is what the engine must keep and pass back
    as ``JobContext.state`` when it calls the same action again.
    """

    def __init__(
        self,
        message: str = "waiting for the system to report",
        *,
        poll_after: float | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.poll_after = poll_after
        self.state = state


class Connector:
    """Base class: subclasses set ``key`` and ``actions`` and implement those actions.

    Actions take keyword ``job`` (a :class:`JobContext`) for systems that answer
    later; connectors that answer at once ignore it.
    """

    key: ClassVar[str] = ""
    actions: ClassVar[frozenset[Action]] = frozenset()
    #: True for systems whose results arrive later (webhook, pull, manual).
    external: ClassVar[bool] = False
    #: Which class of job queue its jobs go to: "fast" (databases, in-process) or "http"
    #: (a service across the network that may answer slowly), so a slow vendor never
    #: holds up the database systems' jobs (the operator maps classes to queues).
    queue_class: ClassVar[str] = "fast"

    def __init__(
        self, *, name: str, config: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.config = dict(config or {})
        self.secrets = dict(secrets or {})
        self.validate()

    # -- configuration ------------------------------------------------------------
    def validate(self) -> None:
        """Raise ``ConnectorError(permanent=True)`` naming what is wrong in the config."""

    # -- actions ------------------------------------------------------------------
    def check(self) -> None:
        """Raise a clear ConnectorError if the system cannot be reached or used."""

    def locate(self, subject: Subject, *, job: JobContext | None = None) -> LocateResult:
        raise self._unsupported(Action.LOCATE)

    def export(self, subject: Subject, *, job: JobContext | None = None) -> Iterator[Record]:
        raise self._unsupported(Action.EXPORT)

    def erase(self, subject: Subject, *, job: JobContext | None = None) -> Receipt:
        raise self._unsupported(Action.ERASE)

    def rectify(
        self, subject: Subject, changes: Mapping[str, Any], *, job: JobContext | None = None
    ) -> Receipt:
        raise self._unsupported(Action.RECTIFY)

    def erase_many(self, subjects: Iterable[Subject]) -> dict[str, Receipt]:
        """The batch form, keyed by ``request_id``; override for one round trip."""
        return {subject.request_id: self.erase(subject) for subject in subjects}

    def close(self) -> None:
        """Release connections; called by the engine when it is done with the connector."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unsupported(self, action: Action) -> ConnectorError:
        return ConnectorError(f"{self.key} connector does not support {action}", permanent=True)

    def config_error(self, message: str) -> ConnectorError:
        return ConnectorError(f"system {self.name!r} ({self.key}): {message}", permanent=True)
