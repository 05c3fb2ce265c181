"""The audit trail in words: who did what, for the desk's timeline, its audit page and the API.

Events keep codes and ids (``status.approved`` by officer ``7``); officers read
"pat approved the request" and "The worker erased 3 records in billing". The words
come from the event alone (its verb, actor and details) and one query for the
officers' names, so a page of events costs the same whatever they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model

from dsr.core import labels
from dsr.core.models import ActorType, AuditEvent, ErasureGround, Status

Details = dict[str, Any]

_SCHEDULERS = {"worker": "The worker", "auto-approval": "Automatic approval", "auto-release": "Automatic release"}
_OTHERS = {ActorType.SUBJECT: "The person", ActorType.AGENT: "Their authorized agent"}
_CHANNELS = {"web": "the web form", "api": "the API", "demo": "the demo", "integration": "an integration"}
_METHODS = {"code": "with the emailed code", "link": "with the emailed link",
            "trusted_integration": "signed in to their account (a trusted integration vouched for them)"}
_GROUNDS = dict(ErasureGround.choices)


@dataclass(frozen=True)
class Line:
    """One event as the desk shows it."""

    seq: int
    at: datetime
    actor: str  # "pat", "The worker", "The person", "billing"
    actor_type: str
    verb: str
    event: str  # a short name for the verb: "Approved", "Erased in a system"
    text: str  # the whole sentence: "pat approved the request."
    request_id: Any = None


def user_names(events: Iterable[AuditEvent]) -> dict[str, str]:
    """Usernames by the id the events carry (the officers acting, the people assigned): one query."""
    ids = set()
    for e in events:
        if e.actor_type == ActorType.OFFICER and e.actor_id.isdigit():
            ids.add(int(e.actor_id))
        assignee = str((e.details or {}).get("assignee") or "") if e.verb == "request.assigned" else ""
        if assignee.isdigit():
            ids.add(int(assignee))
    users = get_user_model().objects.filter(pk__in=ids).values_list("pk", "username") if ids else []
    return {str(pk): username for pk, username in users}


def actor_label(actor_type: str, actor_id: str, names: dict[str, str]) -> str:
    if actor_type == ActorType.OFFICER:
        return names.get(actor_id) or actor_id or "An officer"  # commands record a username
    if actor_type == ActorType.SYSTEM:
        if actor_id.startswith("integration:"):
            return f"The integration {actor_id.removeprefix('integration:')}"
        return actor_id or "A connected system"
    if actor_type == ActorType.SCHEDULER:
        return _SCHEDULERS.get(actor_id, "The system")
    return _OTHERS.get(actor_type, actor_type)


def _day(value: Any) -> str:
    """An ISO date or time from the details, as "3 Mar 2026"."""
    try:
        parsed = (datetime if "T" in str(value) else date).fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{parsed.day} {parsed:%b %Y}"


def _records(n: Any) -> str:
    n = n or 0
    return f"{n} record{'' if n == 1 else 's'}"


def _in(d: Details) -> str:
    return d.get("system", "a system")


def _job_done(d: Details) -> str:
    action = d.get("action")
    if action == "erase":
        return f"erased {_records(d.get('affected'))} in {_in(d)}"
    if action == "export":
        return f"exported {_records(d.get('found'))} from {_in(d)}"
    if action == "rectify":
        return f"corrected {_records(d.get('affected'))} in {_in(d)}"
    return f"found {_records(d.get('found'))} in {_in(d)}"


def _error(d: Details) -> str:
    return f": {d['error']}" if d.get("error") else ""


def _assigned(d: Details, names: dict[str, str]) -> str:
    who = d.get("assignee")
    if not who:
        return "unassigned the request"
    return f"assigned the request to {names.get(str(who), 'user ' + str(who))}"


def _status(target: str, d: Details) -> str:
    if target == Status.AWAITING_VERIFICATION:
        return "asked the person to confirm it is them"
    if target == Status.VERIFIED:
        return f"confirmed it is them {_METHODS.get(d.get('method', ''), '')}".rstrip()
    if target == Status.IN_PROGRESS:
        systems = d.get("systems") or []
        return f"started the work in {len(systems)} system{'' if len(systems) == 1 else 's'}" + (
            f": {', '.join(systems)}" if systems else "")
    if target == Status.REVIEW:
        return "put the results up for review: every system has answered"
    if target == Status.COMPLETED:
        return "completed the request" if d.get("outcome", "completed") == "completed" else (
            "completed the request in part")
    if target == Status.DENIED:
        return "denied the request, telling the person why"
    if target == Status.EXPIRED:
        return f"closed the request: not confirmed within {d.get('after_days', '?')} days"
    if target == Status.CANCELLED:
        return "cancelled the request" + (" as a duplicate" if d.get("outcome") == "duplicate" else "")
    if target == Status.APPROVED:
        return "approved the request"
    return f"moved the request to {target.replace('_', ' ')}"


# verb → (short name, the predicate after the actor). The predicate may read the officers' names.
Predicate = Callable[[Details, dict[str, str]], str]
_VERBS: dict[str, tuple[str, Predicate]] = {
    "request.received": ("Filed", lambda d, n: (
        f"filed the request ({labels.kind(d.get('kind', ''))}, {labels.regime(d.get('regime', ''))}) through "
        f"{_CHANNELS.get(d.get('channel', ''), d.get('channel') or 'an unknown channel')}; due {_day(d.get('due_on'))}")),
    "request.linked": ("Linked", lambda d, n: (
        f"linked it to the same request still open, {d.get('duplicate_of')}")),
    "acknowledgement.sent": ("Acknowledged", lambda d, n: "emailed the person the acknowledgement"),
    "verification.code_issued": ("Code issued", lambda d, n: (
        f"issued a {'download' if d.get('purpose') == 'download' else 'verification'} code, "
        f"valid until {_day(d.get('expires_at'))}")),
    "verification.code_resent": ("Code resent", lambda d, n: "emailed the person a new code"),
    "verification.failed": ("Wrong code", lambda d, n: (
        f"entered a wrong code ({d.get('remaining', '?')} tries left)")),
    "download.code_failed": ("Wrong download code", lambda d, n: (
        f"entered a wrong download code ({d.get('remaining', '?')} tries left)")),
    "request.assigned": ("Assigned", lambda d, n: _assigned(d, n)),
    "note.added": ("Note", lambda d, n: "added an internal note"),
    "status_links.revoked": ("Status links revoked", lambda d, n: "revoked the status links sent so far"),
    "request.regime_corrected": ("Regime corrected", lambda d, n: (
        f"corrected the regime from {labels.regime(d.get('from', ''))} to {labels.regime(d.get('to', ''))}; "
        f"now due {_day(d.get('due_on'))}")),
    "request.extended": ("Extended", lambda d, n: (
        f"extended the deadline from {_day(d.get('from'))} to {_day(d.get('to'))}, telling the person why")),
    "rectification.decided": ("Corrections decided", lambda d, n: (
        f"decided the corrections: {d.get('accepted', 0)} accepted, {d.get('rejected', 0)} rejected")),
    "erasure.exception": ("Data kept", lambda d, n: (
        f"kept the data in {_in(d)} under {_GROUNDS.get(d.get('ground', ''), d.get('ground', ''))}")),
    "results.withheld": ("Withheld", lambda d, n: (
        f"withheld {'one record of ' if d.get('scope') == 'record' else ''}the category "
        f"{d.get('category', '?')} of {_in(d)} from the bundle")),
    "bundle.released": ("Released", lambda d, n: (
        f"released the bundle ({_records(d.get('records'))}, {d.get('withheld', 0)} withheld); "
        f"its link works until {_day(d.get('expires_at'))}")),
    "bundle.downloaded": ("Downloaded", lambda d, n: "downloaded the bundle"),
    "bundle.expired": ("Bundle expired", lambda d, n: (
        f"deleted the expired bundle after {d.get('downloads', 0)} download(s)")),
    "outcome.sent": ("Outcome emailed", lambda d, n: (
        f"emailed the person the outcome: {labels.outcome(d.get('outcome', ''))}")),
    "recipient.notified": ("Recipient told", lambda d, n: (
        f"recorded that {d.get('recipient')} was told (Art. 19), through its own job")),
    "recipient.to_notify": ("Recipient to tell", lambda d, n: (
        f"recorded that {d.get('recipient')} must be told (Art. 19): a task for the privacy team")),
    "request.needs_attention": ("Needs attention", lambda d, n: (
        f"stopped: {d.get('failed_jobs', 0)} system(s) failed, an officer must retry or skip them")),
    "request.purged": ("Purged", lambda d, n: (
        f"removed the person's identifiers and data after {d.get('after_months', '?')} months")),
    "deadline.reminder": ("Reminder", lambda d, n: (
        f"sent a deadline reminder ({d.get('days_left', '?')} days left)")),
    "job.succeeded": ("Done in a system", lambda d, n: _job_done(d)),
    "job.failed": ("Failed in a system", lambda d, n: (
        f"failed in {_in(d)} after {d.get('attempts', '?')} attempt(s){_error(d)}")),
    "job.retry_scheduled": ("Will retry", lambda d, n: (
        f"will try {_in(d)} again in {round(d.get('retry_in_seconds') or 0)} s{_error(d)}")),
    "job.waiting": ("Waiting", lambda d, n: f"is waiting for {_in(d)} or a person to answer"),
    "job.poll_scheduled": ("Will ask again", lambda d, n: (
        f"will ask {_in(d)} again in {d.get('poll_in_seconds', '?')} s: {d.get('waiting', '')}")),
    "job.skipped": ("Skipped", lambda d, n: f"skipped {_in(d)} ({labels.action(d.get('action', ''))})"),
    "job.retry_requested": ("Retried", lambda d, n: f"asked {_in(d)} to try again"),
    "job.replayed": ("Replayed", lambda d, n: f"ran the erasure in {_in(d)} again after a restore from backup"),
    "job.escalated": ("Escalated", lambda d, n: (
        f"emailed the team: {_in(d)} still waits, and the request is due {_day(d.get('due_on'))}")),
    "message.written": ("Message", lambda d, n: "wrote to the person (the email log shows its delivery)"),
    "results.auto_release": ("Released without review", lambda d, n: (
        "is releasing the results without an officer's review, as DSR_AUTO_RELEASE_KINDS asks")),
}


def describe(event: AuditEvent, names: dict[str, str]) -> Line:
    details = event.details if isinstance(event.details, dict) else {}
    actor = actor_label(event.actor_type, event.actor_id, names)
    if event.verb.startswith("status."):
        target = event.verb.removeprefix("status.")
        label = Status(target).label if target in Status.values else target
        predicate = _status(target, details)
    elif event.verb in _VERBS:
        label, make = _VERBS[event.verb]
        predicate = make(details, names)
    else:
        label = event.verb.replace(".", " ").replace("_", " ").capitalize()
        predicate = f"recorded {label.lower()}"
    return Line(event.seq, event.created_at, actor, event.actor_type, event.verb, label,
                f"{actor} {predicate}.", event.request_id)


def describe_all(events: Iterable[AuditEvent]) -> list[Line]:
    events = list(events)
    names = user_names(events)
    return [describe(e, names) for e in events]
