"""The SaaS connector: one class that reaches any vendor a template describes.

A connected system names its template and gives the template's settings and secrets::

    config:  {template: hubspot, base_url: "https://api.hubapi.com" (optional), ...settings,
              timeout: 10, max_pages: 1000, concurrency: 4, retry_after_max: 30}
    secrets: {access_token: "..."}

``base_url`` replaces the template's base URL for every request: a region, a sandbox,
a proxy, a test server. Templates are looked up in the built-in folder, the folders
in ``DSR_TEMPLATE_DIRS`` and the ``dsr.templates`` entry points (``catalogue``).

Nothing the person gave us and no secret ever reaches a message: every error and
``Deferred`` leaving this class has those values (and what they rendered to, such as
an e-mail's MD5) replaced by ``[redacted]``.
"""

from __future__ import annotations

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
from .expressions import Scope, lookup
from .steps import Finder, Skip, call_for
from .template import Template

DEFAULTS = {"timeout": 10, "max_pages": 1000, "retry_after_max": 30}


class SaasConnector(Connector):
    key = "saas"
    actions = frozenset(Action)  # narrowed to what the template can do in validate()

    # -- configuration ------------------------------------------------------------
    def validate(self) -> None:
        name = self.config.get("template")
        if not isinstance(name, str) or not name:
            raise self.config_error("config.template must name a SaaS template")
        try:
            self.template: Template = catalogue.load(name, extra_dirs=catalogue.env_dirs())
        except catalogue.UnknownTemplate as exc:
            raise self.config_error(exc.message) from exc
        missing = [key for key in self.template.secrets if not self.secrets.get(key)]
        missing += [
            f"config.{key}"
            for key, spec in self.template.settings.items()
            if key not in self.config and "default" not in spec
        ]
        if missing:
            raise self.config_error(f"template {name!r} needs {', '.join(missing)}")
        numbers = {key: self._number(key, default) for key, default in DEFAULTS.items()}
        concurrency = int(self._number("concurrency", self.template.concurrency))
        settings = {
            key: self.config.get(key, spec.get("default"))
            for key, spec in self.template.settings.items()
        }
        self._secret_values = {value for value in self.secrets.values() if value}
        scope = Scope({"config": settings, "secrets": dict(self.secrets)})
        self._settings = settings
        base_url = self.config.get("base_url") or scope.render(self.template.base_url)
        parts = urlsplit(str(base_url))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise self.config_error(f"base_url must be an http(s) URL, got {base_url!r}")
        self.client = VendorClient(
            label=f"{self.name} ({name})",
            base_url=str(base_url),
            timeout=numbers["timeout"],
            concurrency=concurrency,
            retry_after_max=numbers["retry_after_max"],
            error_paths=self.template.error_message,
        )
        self.client.auth = auth.build(
            self.template.auth,
            scope,
            token_url=self.config.get("token_url"),
            send=lambda call: self.client.send(call, authenticate=False),
            note_secret=self._secret_values.add,
        )
        self.max_pages = int(numbers["max_pages"])
        self.actions = self.template.actions  # type: ignore[misc]

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
        result = LocateResult()
        with self._guard(scope):
            for found in self._finder().walk(scope):
                category = found.step.category
                result.by_category[category] = result.by_category.get(category, 0) + 1
                for kind, path in (found.step.learn or {}).items():
                    value = lookup(found.record, path)
                    if value not in (None, ""):
                        result.identifiers.setdefault(kind, str(value))
        result.found = sum(result.by_category.values())
        return result

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
        known = {name for step in self.template.rectify for name in step.fields}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConnectorError(
                f"{self.name} ({self.template.name}) cannot change {', '.join(map(repr, unknown))}; "
                f"it can change {', '.join(sorted(known))}",
                permanent=True,
            )
        scope = self._scope(subject)
        scope.sensitive.update(str(value) for value in changes.values() if value)
        finder = self._finder()
        by_category: dict[str, int] = {}
        with self._guard(scope):
            targets = {step.for_each for step in self.template.rectify}
            for found in finder.walk(scope, wanted=finder.needed(targets)):
                for step in self.template.rectify:
                    mapped = {name: path for name, path in step.fields.items() if name in changes}
                    if step.for_each != found.step.name or not mapped:
                        continue
                    try:
                        call = call_for(step.request, found.scope, template=self.template)
                    except Skip:
                        continue
                    if call.form is not None:  # a form's keys are flat: ``address[city]``
                        form = {**call.form, **{path: changes[name] for name, path in mapped.items()}}
                        call = replace(call, form=form)
                    else:
                        body = dict(call.json or {})
                        for name, path in mapped.items():
                            _put(body, path, changes[name])
                        call = replace(call, json=body)
                    self.client.send(call)
                    by_category[found.step.category] = by_category.get(found.step.category, 0) + 1
        detail = {"template": self.template.name, "fields": sorted(changes)}
        return Receipt(
            action="rectify", affected=sum(by_category.values()), by_category=by_category,
            detail=detail,
        )


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    """Set ``properties.firstname`` in a JSON body, making the objects on the way."""
    *parents, last = path.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[last] = value

