"""Finding a person's records at a vendor by running a template's ``find`` steps.

The steps form a tree: a step with ``for_each: customer`` runs once for every record
the ``customer`` step found, and reads that record as ``{{ customer.id }}``. The tree
is walked depth first, one page at a time, so an export streams: nothing holds more
than the current page of each level.

A step that needs an identifier the person did not give (``{{ subject.phone }}`` for
someone known only by e-mail) is skipped, not failed: there is nothing to look up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..base import ConnectorError
from .client import VendorClient
from .expressions import Missing, Scope, lookup
from .paging import Call, pages
from .template import FindStep, Template


@dataclass(frozen=True)
class Found:
    """One record, with the scope its step saw plus the record under the step's name."""

    step: FindStep
    record: Mapping[str, Any]
    scope: Scope


class Skip(Exception):
    """A request needs an identifier this person does not have."""


def call_for(request: Mapping[str, Any], scope: Scope, *, template: Template) -> Call:
    """A template request with its placeholders filled in; raises :class:`Skip`."""
    try:
        return Call(
            method=request["method"],
            target=scope.render(request["path"], segment=True),
            what=f"{request['method']} {request['path']}",
            query=scope.render(request.get("query", {})),
            json=scope.render(request["json"]) if "json" in request else None,
            form=scope.render(request["form"]) if "form" in request else None,
            headers=scope.render(request.get("headers", {})),
        )
    except Missing as missing:
        raise _missing(missing, request, template) from None


def _missing(missing: Missing, request: Mapping[str, Any], template: Template) -> Exception:
    if missing.root == "subject":
        return Skip(missing.what)
    return ConnectorError(
        f"{template.name}: {request['method']} {request['path']}: "
        f"{{{{ {missing.what} }}}} has no value",
        permanent=True,
    )


class Finder:
    def __init__(self, template: Template, client: VendorClient, *, max_pages: int) -> None:
        self.template = template
        self.client = client
        self.max_pages = max_pages
        self.skipped: list[str] = []

    def needed(self, names: set[str]) -> set[str]:
        """``names`` and every step above them."""
        wanted = set()
        for name in names:
            while name is not None:
                wanted.add(name)
                name = self.template.step(name).for_each
        return wanted

    def walk(
        self, scope: Scope, *, wanted: set[str] | None = None, children_first: bool = False
    ) -> Iterator[Found]:
        """Every record the steps find; ``children_first`` puts a record after its children
        (an erasure deletes a user's tickets before the user, while it can still find them)."""
        for step in self.template.find:
            if step.for_each is None and (wanted is None or step.name in wanted):
                yield from self._walk(step, scope, wanted, children_first)

    def _walk(
        self, step: FindStep, scope: Scope, wanted: set[str] | None, children_first: bool
    ) -> Iterator[Found]:
        children = [
            child
            for child in self.template.find
            if child.for_each == step.name and (wanted is None or child.name in wanted)
        ]
        for record in self.records(step, scope):
            here = scope.child(**{step.name: record})
            found = Found(step, record, here)
            if not children_first:
                yield found
            for child in children:
                yield from self._walk(child, here, wanted, children_first)
            if children_first:
                yield found

    def records(self, step: FindStep, scope: Scope) -> Iterator[Mapping[str, Any]]:
        """The records one step finds for one parent, page by page, those that match."""
        try:
            call = call_for(step.request, scope, template=self.template)
            try:
                wanted = [(rule, str(scope.render(rule["equals"]))) for rule in step.match]
            except Missing as missing:
                raise _missing(missing, step.request, self.template) from None
        except Skip:
            self.skipped.append(step.name)
            return
        send = partial(self.client.send, accept=step.not_found)
        for page in pages(send, call, step.paging, step.records, max_pages=self.max_pages):
            for record in page:
                if isinstance(record, Mapping) and all(_matches(record, *rule) for rule in wanted):
                    yield {k: v for k, v in record.items() if k not in step.omit}


def _matches(record: Mapping[str, Any], rule: Mapping[str, Any], wanted: str) -> bool:
    """Vendors' searches are fuzzy (prefixes, other fields): keep only the person's records."""
    value = lookup(record, rule["field"])
    if value is None:
        return False
    if rule.get("case_sensitive", False):
        return str(value) == wanted
    return str(value).casefold() == wanted.casefold()
