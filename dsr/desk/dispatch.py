"""Every officer action by name, shared by the desk pages (form data) and the officer API (JSON).

Each handler takes the request (or job), the submitted data and the acting user,
calls the one service that owns the change, and returns a sentence for the officer.
A refusal raises one of ``REFUSALS`` with a message to show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.http import Http404

from dsr.core import queue, selectors
from dsr.core.audit import Actor
from dsr.core.lifecycle import InvalidTransition
from dsr.core.models import (
    ConnectorJob,
    DataSubjectRequest,
    Message,
    ReplyTemplate,
    Status,
    SystemConnection,
)
from dsr.core.queue import Task
from dsr.desk import actions
from dsr.engine import fanout
from dsr.results import access, closing, erasure, messaging, notices, rectification

REFUSALS = (
    InvalidTransition,
    fanout.NotReadyToApprove,
    rectification.DecisionRefused,
    erasure.ExceptionRefused,
    access.NotReady,
    closing.CannotClose,
    actions.ActionRefused,
    notices.NoticeRefused,
    messaging.MessageRefused,
)

Handler = Callable[[DataSubjectRequest, Mapping[str, Any], Any, Actor], str]


class InvalidInput(actions.ActionRefused):
    """The submitted data cannot be used at all (not a number, a NUL character): a 400, not a 409."""


# A whole number as typed: ASCII digits only ("²".isdigit() is true), small enough to store.
_WHOLE = re.compile(r"[0-9]{1,9}")


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    text = str(value).strip() if value is not None else ""
    if "\x00" in text:
        raise InvalidInput(f"{name} must not contain NUL characters.")
    return text


def _whole(text: str, message: str) -> int:
    if not _WHOLE.fullmatch(text):
        raise InvalidInput(message)
    return int(text)


def _user(data: Mapping[str, Any], name: str = "assignee") -> Any:
    value = _text(data, name)
    if not value:
        return None
    pk = _whole(value, f"{name} must be a user id.")
    user = get_user_model().objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise actions.ActionRefused(f"No active user {value}.")
    return user


def approve(r, data, user, actor):
    fanout.approve(r, actor=actor)
    return "Approved: the systems are at work."


def deny(r, data, user, actor):
    closing.deny(r, reason=_text(data, "reason"), actor=actor)
    return "Denied; the person has been told why."


def extend(r, data, user, actor):
    closing.extend(r, reason=_text(data, "reason"), actor=actor)
    return f"Extended to {r.extended_due_on:%d %B %Y}; the person has been told."


def assign(r, data, user, actor):
    target = _user(data)
    actions.assign(r, target, actor=actor)
    return f"Assigned to {target.username}." if target else "Unassigned."


def note(r, data, user, actor):
    actions.add_note(r, _text(data, "text"), author=user, actor=actor)
    return "Note added."


def regime(r, data, user, actor):
    actions.correct_regime(r, _text(data, "regime"), actor=actor)
    return f"Regime corrected; now due {r.due_on:%d %B %Y}."


def release(r, data, user, actor):
    access.release(r, actor=actor, user=user)
    return "Released: the person has been emailed."


def reissue(r, data, user, actor):
    access.reissue(r, actor=actor, user=user)
    return "A new download has been issued."


def close(r, data, user, actor):
    if r.status != Status.REVIEW or r.kind in access.EXPORT_KINDS:
        raise actions.ActionRefused("Close reviewed rectifications here; release access results instead.")
    closing.complete(r, actor=actor)
    return "Closed; the person has been emailed."


def complete(r, data, user, actor):
    """Finish a reviewed request, whatever its kind: release a bundle, or close."""
    return (release if r.kind in access.EXPORT_KINDS else close)(r, data, user, actor)


def decide(r, data, user, actor):
    decisions: dict[int, tuple[bool, str]] = {}
    listed = data.get("decisions")
    if isinstance(listed, list):  # the API: [{"index": 1, "accept": true, "reason": ""}]
        for item in listed:
            message = "Each decision needs an index (from 1) and accept true/false."
            if not isinstance(item, Mapping):
                raise InvalidInput(message)
            index = _whole(str(item.get("index", "")), message)
            decisions[index - 1] = (bool(item.get("accept")), str(item.get("reason") or ""))
    else:  # the page: decision_<i> = accept|reject, reason_<i>
        for index, _item in enumerate(r.changes or []):
            choice = data.get(f"decision_{index}")
            if choice in ("accept", "reject"):
                decisions[index] = (choice == "accept", _text(data, f"reason_{index}"))
    r = rectification.decide(r, decisions, actor=actor)
    resumed = fanout.resume_decided(r, actor=actor) if r.status == Status.IN_PROGRESS else 0
    return "Corrections decided." + (f" {resumed} system(s) will now apply them." if resumed else "")


def read(r, data, user, actor):
    """Read again what the systems hold now for the corrections' fields."""
    if r.kind != "rectification" or not r.is_open:
        raise actions.ActionRefused("Only an open rectification has values to read.")
    queue.enqueue(Task.READ_CURRENT, str(r.pk))
    return "Reading the current values from the systems; reload the page in a moment."


def keep(r, data, user, actor):
    system = SystemConnection.objects.filter(pk=_uuid(data, "system")).first()
    if system is None:
        raise actions.ActionRefused("Choose a connected system.")
    erasure.add_exception(r, system, ground=_text(data, "ground"), reason=_text(data, "reason"),
                          actor=actor, user=user)
    return f"The data in {system.name} will be kept."


def withhold(r, data, user, actor):
    job = ConnectorJob.objects.filter(pk=_uuid(data, "job"), request=r).first()
    if job is None:
        raise actions.ActionRefused("Choose one of this request's export jobs.")
    index = _text(data, "record")
    record = _whole(index, "A record number is a whole number.") if index else None
    access.withhold(r, job, category=_text(data, "category"), reason=_text(data, "reason"),
                     record_index=record, actor=actor, user=user)
    return "Withheld from the bundle."


def told(r, data, user, actor):
    """A recipient of the person's data has been told of the change (Art. 19 and its likes)."""
    notice = r.notices.filter(pk=_uuid(data, "notice")).first()
    if notice is None:
        raise actions.ActionRefused("Choose one of this request's recipients.")
    notices.mark_told(notice, actor=actor, user=user, note=_text(data, "note"))
    return f"{notice.name}: recorded as told."


MESSAGE_WRITTEN = "Message written; it is on its way to the person by email."


def write_message(r: DataSubjectRequest, data: Mapping[str, Any], user: Any) -> Message:
    """The officer's message from the page's form or the API's JSON: its text and its template."""
    chosen = _text(data, "template")
    template = None
    if chosen:
        template = ReplyTemplate.objects.filter(pk=_whole(chosen, "template must be a template's id.")).first()
        if template is None:
            raise actions.ActionRefused("No reply template has that id.")
    return messaging.write(r, text=_text(data, "text"), actor=Actor.officer(user), author=user, template=template)


def message(r, data, user, actor):
    write_message(r, data, user)
    return MESSAGE_WRITTEN


def revoke(r, data, user, actor):
    actions.revoke_status_links(r, actor=actor)
    return "Every status link sent so far no longer works; the person's next email carries a new one."


def _uuid(data: Mapping[str, Any], name: str) -> str | None:
    return selectors.as_uuid(_text(data, name))


REQUEST_ACTIONS: dict[str, Handler] = {
    f.__name__: f
    for f in (approve, deny, extend, assign, note, regime, release, reissue, close, complete, decide, keep, withhold,
              told, read, message, revoke)
}


def retry(job, data, user, actor):
    if not fanout.retry_job(job, actor=actor):
        raise actions.ActionRefused("Only a failed job can be retried.")
    return f"{job.system.name}: queued again."


def skip(job, data, user, actor):
    actions.skip_job(job, reason=_text(data, "reason"), actor=actor)
    return f"{job.system.name}: skipped."


def complete_task(job, data, user, actor, files: Any = None):
    upload = files.get("file") if files else None
    documents = [actions.document_record(upload.name, upload.read(), upload.content_type)] if upload else None
    affected = _text(data, "affected")
    count = _whole(affected, "affected must be a whole number.") if affected else 0
    actions.complete_task(job, note=_text(data, "note"), actor=actor, documents=documents, affected=count)
    return f"{job.system.name}: done."


JOB_ACTIONS = {"retry": retry, "skip": skip, "complete": complete_task}


def run_request_action(name: str, r: DataSubjectRequest, data: Mapping[str, Any], user: Any) -> str:
    handler = REQUEST_ACTIONS.get(name)
    if handler is None:
        raise Http404("Unknown action.")
    return handler(r, data, user, Actor.officer(user))


def run_job_action(name: str, job: ConnectorJob, data: Mapping[str, Any], user: Any, files: Any = None) -> str:
    handler = JOB_ACTIONS.get(name)
    if handler is None:
        raise Http404("Unknown action.")
    if name == "complete":
        return complete_task(job, data, user, Actor.officer(user), files=files)
    return handler(job, data, user, Actor.officer(user))


MAX_BULK = 500


def run_bulk(name: str, ids: list[str], data: Mapping[str, Any], user: Any) -> dict[str, int]:
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"Choose at most {MAX_BULK} requests at a time.")
    bad = [k for k in ids if not selectors.is_request_key(str(k))]
    if bad:
        raise InvalidInput(f"{len(bad)} of the chosen items are not request ids or references.")
    if not ids:
        raise InvalidInput("Choose at least one request.")
    chosen = selectors.requests_by_keys(ids)
    actor = Actor.officer(user)
    if name == "approve":
        done = refused = 0
        for item in chosen:
            try:
                done += fanout.approve(item, actor=actor)
            except REFUSALS:
                refused += 1
        return {"done": done, "refused": refused}
    if name == "assign":
        target = _user(data)
        count = 0
        for item in chosen:
            actions.assign(item, target, actor=actor)
            count += 1
        return {"done": count, "refused": 0}
    raise Http404("Unknown bulk action.")
