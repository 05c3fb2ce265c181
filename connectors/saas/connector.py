"""The SaaS connector: one class that reaches any vendor a template describes.

A connected system names its template and gives the template's settings and secrets::

    config:  {template: hubspot, ...the template's settings,
              base_url: (optional) replaces the template's base URL,
              token_url: (optional, OAuth templates) replaces the template's token URL,
              timeout: 10, max_pages: 1000, concurrency: (the template's), retry_after_max: 30}
    secrets: {access_token: "..."}  # the template's secrets

``base_url`` replaces the template's base URL for every request: a region, a sandbox,
a proxy, a test server. Templates are looked up in the built-in folder, the folders
in ``DSR_TEMPLATE_DIRS`` and the ``dsr.templates`` entry points (``catalogue``).

Nothing the person gave us and no secret ever reaches a message: every error and
``Deferred`` leaving this class has those values (and what they rendered to, such as
an e-mail's MD5) replaced by ``[redacted]``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from ..base import (
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
from . import auth, catalogue
from .client import VendorClient, scrub
from .erase import Erasure
from .expressions import Missing, Scope, lookup
from .paging import Call
from .steps import Finder, Skip, call_for
from .template import Template

DEFAULTS = {"timeout": 10, "max_pages": 1000, "retry_after_max": 30}


class SaasConnector(Connector):
    key = "saas"
    queue_class = "http"
    actions = frozenset(Action)  # narrowed to what the template can do in validate()

    # -- configuration ------------------------------------------------------------
    def validate(self) -> None:
        self.template = self._template()
        self._settings = {
            key: self.config.get(key, spec.get("default"))
            for key, spec in self.template.settings.items()
        }
        self._secret_values = {value for value in self.secrets.values() if value}
        scope = Scope({"config": self._settings, "secrets": dict(self.secrets)})
        try:
            base_url = str(self.config.get("base_url") or scope.render(self.template.base_url))
        except Missing as missing:
            raise self.config_error(f"{{{{ {missing.what} }}}} in base_url has no value") from None
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise self.config_error(f"base_url must be an http(s) URL, got {base_url!r}")
        self.max_pages = int(self._number("max_pages", DEFAULTS["max_pages"]))
        self.client = VendorClient(
            label=f"{self.name} ({self.template.name})",
            base_url=base_url,
            timeout=self._number("timeout", DEFAULTS["timeout"]),
            concurrency=int(self._number("concurrency", self.template.concurrency)),
            retry_after_max=self._number("retry_after_max", DEFAULTS["retry_after_max"]),
            error_paths=self.template.error_message,
        )
        self.client.auth = auth.build(
            self.template.auth,
            scope,
            token_url=self.config.get("token_url"),
            send=lambda call: self.client.send(call, authenticate=False),
            note_secret=self._secret_values.add,
        )
        self.actions = self.template.actions  # type: ignore[misc]

    def _template(self) -> Template:
        """The named template, once its settings and secrets are all given."""
        name = self.config.get("template")
        if not isinstance(name, str) or not name:
            raise self.config_error("config.template must name a SaaS template")
        try:
            template = catalogue.load(name, extra_dirs=catalogue.env_dirs())
        except catalogue.UnknownTemplate as exc:
            raise self.config_error(exc.message) from exc
        missing = [key for key in template.secrets if not self.secrets.get(key)]
        missing += [
            f"config.{key}"
            for key, spec in template.settings.items()
            if self.config.get(key) in (None, "") and "default" not in spec
        ]
        if missing:
            raise self.config_error(f"template {name!r} needs {', '.join(missing)}")
        return template

    def _number(self, key: str, default: float) -> float:
        value = self.config.get(key, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise self.config_error(f"{key} must be a positive number, got {value!r}")
        return float(value)

    def close(self) -> None:
        self.client.close()

    # -- plumbing -----------------------------------------------------------------
    def _scope(self, subject: Subject | None = None) -> Scope:
        identifiers = dict(subject.identifiers) if subject else {}
        scope = Scope({"config": self._settings, "subject": identifiers})
        scope.sensitive.update(str(value) for value in identifiers.values() if value)
        return scope

    def _finder(self) -> Finder:
        return Finder(self.template, self.client, max_pages=self.max_pages)

    @contextmanager
    def _guard(self, scope: Scope) -> Iterator[None]:
        """Whatever leaves, leaves without the person's identifiers or our secrets."""
        try:
            yield
        except (ConnectorError, Deferred) as exc:
            exc.message = scrub(exc.message, scope.sensitive | self._secret_values)
            exc.args = (exc.message,)
            raise

    def _unsupported_unless(self, action: Action) -> None:
        if action not in self.actions:
            raise self._unsupported(action)

    # -- actions ------------------------------------------------------------------
    def check(self) -> None:
        scope = self._scope()
        with self._guard(scope):
            for request in self.template.check:
                self.client.send(call_for(request, scope, template=self.template))

    def locate(self, subject: Subject, *, job: JobContext | None = None) -> LocateResult:
        self._unsupported_unless(Action.LOCATE)
        scope = self._scope(subject)
        counts: Counter[str] = Counter()
        learned: dict[str, str] = {}
        with self._guard(scope):
            for found in self._finder().walk(scope):
                counts[found.step.category] += 1
                for kind, path in (found.step.learn or {}).items():
                    value = lookup(found.record, path)
                    if value not in (None, ""):
                        learned.setdefault(kind, str(value))
        return LocateResult(
            found=sum(counts.values()), by_category=dict(counts), identifiers=learned
        )

    def export(self, subject: Subject, *, job: JobContext | None = None) -> Iterator[Record]:
        self._unsupported_unless(Action.EXPORT)
        scope = self._scope(subject)
        with self._guard(scope):
            for found in self._finder().walk(scope):
                yield Record(self.name, found.step.category, found.record)

    def erase(self, subject: Subject, *, job: JobContext | None = None) -> Receipt:
        self._unsupported_unless(Action.ERASE)
        scope = self._scope(subject)
        state = job.state if job is not None else {}
        with self._guard(scope):
            erasure = Erasure(self.template, self.client, self._finder(), self._settings)
            return erasure.run(scope, state)

    def rectify(
        self, subject: Subject, changes: Mapping[str, Any], *, job: JobContext | None = None
    ) -> Receipt:
        self._unsupported_unless(Action.RECTIFY)
        # Like the SQL connectors: a field this vendor does not hold is not ours to change
        # here; it is listed as ignored in the receipt, and the rest is applied.
        known = {name for step in self.template.rectify for name in step.fields}
        ignored = sorted(str(name) for name in changes if name not in known)
        changes = {name: value for name, value in changes.items() if name in known}
        scope = self._scope(subject)
        scope.sensitive.update(str(value) for value in changes.values() if value)
        finder = self._finder()
        changed: Counter[str] = Counter()
        with self._guard(scope):
            targets = {step.for_each for step in self.template.rectify}
            # all found first: a changed e-mail must not move the search being paged through
            for found in list(finder.walk(scope, wanted=finder.needed(targets))):
                for step in self.template.rectify:
                    mapped = {
                        path: changes[name] for name, path in step.fields.items() if name in changes
                    }
                    if step.for_each != found.step.name or not mapped:
                        continue
                    try:
                        call = call_for(step.request, found.scope, template=self.template)
                    except Skip:
                        continue
                    self.client.send(_with_changes(call, mapped))
                    changed[found.step.category] += 1
        return Receipt(
            action="rectify",
            affected=sum(changed.values()),
            by_category=dict(changed),
            detail={"template": self.template.name, "fields": sorted(changes), "ignored": ignored},
        )


def _with_changes(call: Call, changes: Mapping[str, Any]) -> Call:
    """The request with each change at its path: ``properties.firstname`` nests in JSON,
    ``attributes.0.first_name`` goes into the first item of a list the request's JSON
    already has (Braze's ``/users/track``); a form's keys stay flat (``address[city]``)."""
    if call.form is not None:
        return replace(call, form={**call.form, **changes})
    body = dict(call.json or {})
    for path, value in changes.items():
        _put(body, path, value)
    return replace(call, json=body)


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    """Set ``properties.firstname`` in a JSON body, making the objects on the way; a number
    picks an item of a list that is already there."""
    *parents, last = path.split(".")
    place: Any = body
    for part in parents:
        place = place[int(part)] if isinstance(place, list) else place.setdefault(part, {})
    if isinstance(place, list):
        place[int(last)] = value
    else:
        place[last] = value
