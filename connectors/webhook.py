"""A system we push jobs to: one signed POST per action (see ``connectors.signing``).

The system answers at once (``{"status": "completed", ...}``) or takes the job
and reports later through ``callback_url`` (202, or ``{"status": "accepted"}``),
in which case we raise :class:`Deferred`. Only the identifier kinds listed in
``send_identifiers`` ever leave this process: a system receives what it is
configured to receive, nothing the person happened to give us besides.

Request body::

    {"job_id", "action", "idempotency_key", "identifiers": {kind: value},
     "changes" (rectify only), "callback_url", "callback_token", "deadline"}

Headers: ``X-DSR-Signature``, ``Idempotency-Key`` (the job's key, so a retried
POST is recognised as the same job).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from . import http
from .base import (
    MAX_COUNT,
    Action,
    Connector,
    ConnectorError,
    Deferred,
    JobContext,
    LocateResult,
    Receipt,
    Record,
    Subject,
)

ALL_ACTIONS = frozenset(Action)
SKIPPED = "the subject has none of the identifier kinds this system receives"


class WebhookConnector(Connector):
    key = "webhook"
    queue_class = "http"
    actions = ALL_ACTIONS
    external = True

    def validate(self) -> None:
        if not self.secrets.get("signing_secret"):
            raise self.config_error("secrets.signing_secret is required (every call is signed)")
        url = self.config.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
            raise self.config_error(f"url must be an http(s) URL, got {url!r}")
        kinds = self.config.get("send_identifiers")
        if (
            not isinstance(kinds, list)
            or not kinds
            or not all(isinstance(k, str) and k for k in kinds)
        ):
            raise self.config_error("send_identifiers must be a non-empty list of identifier kinds")
        wanted = self.config.get("actions", sorted(ALL_ACTIONS))
        if not isinstance(wanted, list) or not set(map(str, wanted)) <= set(ALL_ACTIONS):
            known = "/".join(sorted(ALL_ACTIONS))
            raise self.config_error(f"actions must be a list of {known}, got {wanted!r}")
        timeout = self.config.get("timeout", 10)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise self.config_error(
                f"timeout must be a positive number of seconds, got {timeout!r}"
            )
        # the engine reads ``actions`` to know what to ask this system
        self.actions = frozenset(Action(a) for a in wanted)  # type: ignore[misc]

    @property
    def url(self) -> str:
        return str(self.config["url"])

    @property
    def host(self) -> str:
        return http.host_of(self.url)

    # -- transport ----------------------------------------------------------------
    def _post(
        self, payload: dict[str, Any], *, idempotency_key: str | None = None
    ) -> http.Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return http.post_json(
            self.url,
            payload,
            secret=self.secrets["signing_secret"],
            timeout=float(self.config.get("timeout", 10)),
            headers=headers,
        )

    def _raise_for_status(self, status: int) -> None:
        if status in (408, 429) or status >= 500:
            raise ConnectorError(f"{self.host} answered {status} (temporary)")
        if status >= 300:
            raise ConnectorError(f"{self.host} answered {status}", permanent=True)

    def _call(
        self, action: Action, subject: Subject, job: JobContext | None, **extra: Any
    ) -> dict[str, Any] | None:
        """POST one job; the body of a completed answer, None when there is nothing to ask."""
        if action not in self.actions:
            raise self._unsupported(action)
        if job is None:
            raise ConnectorError(
                f"{self.key} connector needs a job context for {action}", permanent=True
            )
        identifiers = self.identifiers_for(subject)
        if not identifiers:
            return None  # the system could only be asked about someone unnamed
        payload = {
            "job_id": job.job_id,
            "action": action.value,
            "idempotency_key": job.idempotency_key,
            "identifiers": identifiers,
            **extra,
            "callback_url": job.callback_url,
            "callback_token": job.callback_token,
            "deadline": job.deadline.isoformat() if job.deadline else None,
        }
        answer = self._post(payload, idempotency_key=job.idempotency_key)
        if answer.status_code == 202:
            raise Deferred(f"accepted by {self.host}; waiting for its callback")
        self._raise_for_status(answer.status_code)
        body = answer.json
        if not isinstance(body, dict):
            raise ConnectorError(f"{self.host} answered {answer.status_code} without a JSON object")
        status = body.get("status")
        if status == "completed":
            return body
        if status == "accepted":
            raise Deferred(f"accepted by {self.host}; waiting for its callback")
        if status == "failed":
            reason = str(body.get("error") or "no reason given")[:300]
            raise ConnectorError(
                f"{self.host} failed the job: {reason}", permanent=body.get("permanent") is True
            )
        raise ConnectorError(
            f"{self.host} answered an unknown status {str(status)[:40]!r}", permanent=True
        )

    def identifiers_for(self, subject: Subject) -> dict[str, str]:
        """Only the configured kinds, and only those the subject has."""
        found = {kind: subject.get(kind) for kind in self.config["send_identifiers"]}
        return {kind: value for kind, value in found.items() if value is not None}

    # -- reading answers ----------------------------------------------------------
    def _count(self, body: Mapping[str, Any], name: str) -> int:
        value = body.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
            raise ConnectorError(f"{self.host} answered a bad {name!r}: {value!r}", permanent=True)
        return value

    def _by_category(self, body: Mapping[str, Any]) -> dict[str, int]:
        value = body.get("by_category") or {}
        if not isinstance(value, dict):
            raise ConnectorError(f"{self.host} answered a bad 'by_category'", permanent=True)
        if any("\x00" in str(category) for category in value):
            raise ConnectorError(f"{self.host} answered a bad 'by_category' (a NUL in a name)", permanent=True)
        return {str(category): self._count(value, category) for category in value}

    def _receipt(self, action: Action, body: Mapping[str, Any] | None) -> Receipt:
        if body is None:
            return Receipt(action=action, detail={"mode": "remote", "skipped": SKIPPED})
        by_category = self._by_category(body)
        affected = (
            self._count(body, "affected") if "affected" in body else sum(by_category.values())
        )
        return Receipt(
            action=action, affected=affected, by_category=by_category, detail={"mode": "remote"}
        )

    # -- actions ------------------------------------------------------------------
    def check(self) -> None:
        # the nonce makes every check a body of its own, so a receiver refusing replays never
        # mistakes a second check for one
        answer = self._post({"action": "check", "nonce": secrets.token_hex(8)})
        self._raise_for_status(answer.status_code)

    def locate(self, subject: Subject, *, job: JobContext | None = None) -> LocateResult:
        body = self._call(Action.LOCATE, subject, job)
        if body is None:
            return LocateResult()
        by_category = self._by_category(body)
        found = self._count(body, "found") if "found" in body else sum(by_category.values())
        learned = body.get("identifiers") or {}
        if not isinstance(learned, dict):
            raise ConnectorError(f"{self.host} answered bad 'identifiers'", permanent=True)
        return LocateResult(
            found=found,
            by_category=by_category,
            identifiers={str(k): str(v) for k, v in learned.items() if v not in (None, "")},
        )

    def export(self, subject: Subject, *, job: JobContext | None = None) -> Iterator[Record]:
        # eager on purpose: Deferred and errors surface when export() is called
        records = (self._call(Action.EXPORT, subject, job) or {}).get("records") or []
        if not isinstance(records, list) or not all(
            isinstance(r, dict) and isinstance(r.get("fields"), dict) for r in records
        ):
            raise ConnectorError(
                f"{self.host} answered bad 'records' (want [{{category, fields}}])", permanent=True
            )
        return iter(
            [Record(self.name, str(r.get("category") or "records"), r["fields"]) for r in records]
        )

    def erase(self, subject: Subject, *, job: JobContext | None = None) -> Receipt:
        return self._receipt(Action.ERASE, self._call(Action.ERASE, subject, job))

    def rectify(
        self, subject: Subject, changes: Mapping[str, Any], *, job: JobContext | None = None
    ) -> Receipt:
        body = self._call(Action.RECTIFY, subject, job, changes=dict(changes))
        return self._receipt(Action.RECTIFY, body)
