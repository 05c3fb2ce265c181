"""An in-memory system, for tests and the demo (like Django's locmem email backend).

Each process keeps its own store per system name, seeded from ``config["records"]``:
``[{"category": "profile", "fields": {"email": "...", ...}}, ...]``. A record
belongs to a subject when any of its fields equals one of the subject's
identifiers under the same name (``email``, ``customer_id``...).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from .base import Action, Connector, JobContext, LocateResult, Receipt, Record, Subject


class MemoryConnector(Connector):
    key = "memory"
    actions = frozenset({Action.LOCATE, Action.EXPORT, Action.ERASE, Action.RECTIFY})

    _stores: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    _lock: ClassVar[threading.RLock] = threading.RLock()

    def validate(self) -> None:
        records = self.config.get("records", [])
        if not isinstance(records, list) or not all(
            isinstance(r, dict) and isinstance(r.get("fields"), dict) for r in records
        ):
            raise self.config_error("records must be a list of {category, fields} objects")

    @property
    def store(self) -> list[dict[str, Any]]:
        with self._lock:
            if self.name not in self._stores:
                self._stores[self.name] = [
                    {"category": r.get("category", "records"), "fields": dict(r["fields"])}
                    for r in self.config.get("records", [])
                ]
            return self._stores[self.name]

    @classmethod
    def reset(cls, name: str | None = None) -> None:
        with cls._lock:
            if name is None:
                cls._stores.clear()
            else:
                cls._stores.pop(name, None)

    def _matches(self, subject: Subject, record: dict[str, Any]) -> bool:
        return any(
            subject.get(kind) is not None and str(record["fields"].get(kind)) == subject.get(kind)
            for kind in subject.identifiers
        )

    def _mine(self, subject: Subject) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.store if self._matches(subject, r)]

    def locate(self, subject: Subject, *, job: JobContext | None = None) -> LocateResult:
        mine = self._mine(subject)
        result = LocateResult(found=len(mine))
        for record in mine:
            result.by_category[record["category"]] = result.by_category.get(record["category"], 0) + 1
            for kind in self.config.get("identity_fields", []):
                value = record["fields"].get(kind)
                if value is not None:
                    result.identifiers[kind] = str(value)
        return result

    def export(self, subject: Subject, *, job: JobContext | None = None) -> Iterator[Record]:
        for record in self._mine(subject):
            yield Record(self.name, record["category"], dict(record["fields"]))

    def erase(self, subject: Subject, *, job: JobContext | None = None) -> Receipt:
        with self._lock:
            store = self.store
            keep = [r for r in store if not self._matches(subject, r)]
            gone = [r for r in store if self._matches(subject, r)]
            store[:] = keep
        receipt = Receipt(action=Action.ERASE, affected=len(gone), detail={"mode": "delete"})
        for record in gone:
            receipt.by_category[record["category"]] = receipt.by_category.get(record["category"], 0) + 1
        return receipt

    def rectify(
        self, subject: Subject, changes: Mapping[str, Any], *, job: JobContext | None = None
    ) -> Receipt:
        affected = 0
        with self._lock:
            for record in self.store:
                if self._matches(subject, record):
                    for field, value in changes.items():
                        if field in record["fields"]:
                            record["fields"][field] = value
                            affected += 1
        return Receipt(action=Action.RECTIFY, affected=affected, detail={"fields": sorted(changes)})
