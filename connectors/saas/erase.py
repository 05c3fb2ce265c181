"""Erasing a person at a vendor: find what is theirs, then send one request per thing.

The find steps run first and the erase requests are planned from what they found
(children before parents: a user's tickets before the user). Only then is anything
deleted, so deleting never disturbs the paging of a list still being read.

Idempotent: what is already gone (404/410, or a step's ``gone`` statuses) counts as
done, and a second erasure finds nothing and affects nothing.

Three things make an erasure span several calls, all carried in ``Deferred.state``
and handed back by the engine as ``JobContext.state``:

- a vendor deletion that finishes later (``poll``): the first call starts it, later
  calls ask its status endpoint until it says done (or failed), or answers one of the
  poll's ``gone`` statuses (the thing is no longer there);
- a vendor deletion that finishes later and reports no status (``confirm_after``):
  the first call requests it, later calls look again with the find steps until what
  it deleted is no longer there (Klaviyo, Braze);
- a transient failure after some requests went through (a long 429 between
  Zendesk's two deletions): the rest of the plan is kept, so the next call resumes
  where this one stopped instead of finding nothing and calling that done.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from ..base import ConnectorError, Deferred, Receipt
from .client import RateLimited, VendorClient
from .expressions import Scope, lookup
from .paging import Call
from .steps import Finder, Skip, call_for
from .template import Template

#: How soon a plan interrupted by a transient failure is worth resuming (seconds).
RESUME_AFTER = 60.0
#: How soon a started vendor deletion is worth asking about, unless the template says.
POLL_AFTER = 3600.0


class Erasure:
    def __init__(
        self, template: Template, client: VendorClient, finder: Finder, config: Mapping[str, Any]
    ) -> None:
        self.template = template
        self.client = client
        self.finder = finder
        self.config = config

    def run(self, scope: Scope, state: Mapping[str, Any]) -> Receipt:
        progress = copy.deepcopy(state["erase"]) if "erase" in state else self._plan(scope)
        started = self._send_plan(progress)
        if progress["polls"]:
            if not started:
                try:
                    self._poll(progress)
                except ConnectorError as exc:
                    if exc.permanent:
                        raise
                    raise Deferred(  # the deletion runs on; only asking about it failed
                        f"could not ask {self.template.title} how the deletion is going, asking "
                        f"again later: {exc.message}",
                        poll_after=RESUME_AFTER,
                        state={"erase": progress},
                    ) from exc
            if progress["polls"]:
                after = max(
                    (self.template.erase[poll["step"]].poll or {}).get("poll_after", POLL_AFTER)
                    for poll in progress["polls"]
                )
                raise Deferred(
                    f"{self.template.title} is still erasing "
                    f"({len(progress['polls'])} deletion(s) running); asking again later",
                    poll_after=after,
                    state={"erase": progress},
                )
        self._confirm(scope, progress)
        detail: dict[str, Any] = {"template": self.template.name, "kept": progress["kept"]}
        if progress["finished"]:
            detail["vendor_deletions"] = progress["finished"]
        if progress["skipped"]:
            detail["skipped"] = sorted(set(progress["skipped"]))
        by_category = {k: v for k, v in progress["affected"].items() if v}
        return Receipt(
            action="erase",
            affected=sum(by_category.values()),
            by_category=by_category,
            detail=detail,
        )

    def _confirm(self, scope: Scope, progress: dict[str, Any]) -> None:
        """For deletions the vendor only queues: done once the find steps no longer find them."""
        steps = [step for step in self.template.erase if step.confirm_after and step.for_each]
        if not steps:
            return
        targets = {step.for_each for step in steps}
        try:
            left = sum(1 for found in self.finder.walk(scope, wanted=self.finder.needed(targets))
                       if found.step.name in targets)
        except ConnectorError as exc:
            if exc.permanent:
                raise
            left = -1  # could not look: look again later
        if left:
            state = "has not yet carried out" if left > 0 else "could not be asked about"
            raise Deferred(
                f"{self.template.title} {state} the deletion it queued; looking again later",
                poll_after=max(step.confirm_after for step in steps),
                state={"erase": progress},
            )

    def _plan(self, scope: Scope) -> dict[str, Any]:
        template = self.template
        targets = {step.for_each for step in template.erase if step.for_each}
        kept_categories = {kept.category for kept in template.cannot_erase}
        counted = {step.name for step in template.find if step.category in kept_categories}
        found_in: Counter[str] = Counter()
        todo: list[dict[str, Any]] = []
        skipped: list[str] = []
        for found in self.finder.walk(
            scope, wanted=self.finder.needed(targets | counted), children_first=True
        ):
            found_in[found.step.category] += 1
            for index, step in enumerate(template.erase):
                if step.for_each == found.step.name:
                    todo.append(self._planned(index, found.scope, skipped))
        for index, step in enumerate(template.erase):
            if step.for_each is None:
                todo.append(self._planned(index, scope, skipped))
        searched = {step.category for step in template.find if step.name in counted}
        kept = []
        for item in template.cannot_erase:
            kept.append(asdict(item))
            if item.category in searched:  # the count is known only where a step looked
                kept[-1]["count"] = found_in[item.category]
        return {
            "todo": [item for item in todo if item],
            "polls": [],
            "finished": [],
            "affected": {},
            "kept": kept,
            "skipped": skipped + self.finder.skipped,
            "sent": 0,
        }

    def _planned(self, index: int, scope: Scope, skipped: list[str]) -> dict[str, Any]:
        request = self.template.erase[index].request
        try:
            call = call_for(request, scope, template=self.template)
        except Skip:
            skipped.append(f"erase.{index}")
            return {}
        return {"step": index, "call": asdict(call)}

    def _send_plan(self, progress: dict[str, Any]) -> bool:
        """Send what is left of the plan; True if it started a vendor deletion."""
        started = False
        while progress["todo"]:
            planned = progress["todo"][0]
            step = self.template.erase[planned["step"]]
            try:
                answer = self.client.send(Call(**planned["call"]), accept=step.gone)
            except ConnectorError as exc:
                if exc.permanent or not progress["sent"]:
                    raise
                wait = exc.retry_after if isinstance(exc, RateLimited) else None
                raise Deferred(
                    f"erasure interrupted after {progress['sent']} request(s), resuming later: "
                    f"{exc.message}",
                    poll_after=max(RESUME_AFTER, wait or 0),
                    state={"erase": progress},
                ) from exc
            progress["todo"].pop(0)
            progress["sent"] += 1
            if answer is None:
                continue  # already gone
            if step.counts:
                affected = progress["affected"]
                affected[step.category] = affected.get(step.category, 0) + 1
            if step.poll is not None:
                vendor_id = lookup(answer.body, step.poll["id"])
                if vendor_id in (None, ""):  # GraphQL, for one, says why in a 2xx answer
                    said = self.client.said(answer.body)
                    raise ConnectorError(
                        f"{self.template.name}: {planned['call']['what']} answered without "
                        f"{step.poll['id']}; cannot follow the deletion"
                        + (f": {said}" if said else ""),
                        permanent=True,
                    )
                progress["polls"].append({"step": planned["step"], "id": str(vendor_id)})
                started = True
        return started

    def _poll(self, progress: dict[str, Any]) -> None:
        """Ask about each running deletion; ``progress`` changes only if all could be asked."""
        running, finished = [], []
        for poll in progress["polls"]:
            spec = self.template.erase[poll["step"]].poll
            assert spec is not None
            scope = Scope({"config": self.config, "id": poll["id"]})
            call = call_for(spec["request"], scope, template=self.template)
            answer = self.client.send(call, accept=spec.get("gone", ()))
            if answer is None:  # the vendor no longer has the thing: its deletion is done
                finished.append({"id": poll["id"], "status": "gone"})
                continue
            status = lookup(answer.body, spec["status"])
            if status in spec.get("done", ()):
                finished.append({"id": poll["id"], "status": status})
            elif status in spec["running"]:
                running.append(poll)
            else:
                raise ConnectorError(
                    f"{self.template.title} reports deletion {poll['id']} as "
                    f"{str(status)[:40]!r}, not done",
                    permanent=True,
                )
        progress["polls"] = running
        progress["finished"] += finished
