"""Reading a SaaS template: YAML in, a checked :class:`Template` out, or errors with lines.

A template is written by hand, so a mistake must be easy to find: every problem is
reported as ``<file>, line <n>: <what>``. The line comes from PyYAML's composed
nodes: each value's path (``find.2.request.path``) maps to the line it starts on,
and a JSON-schema error's path is looked up there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import yaml

from ..base import Action, ConnectorError
from .expressions import ExpressionError, expressions_in
from .schema import TEMPLATE

Where = tuple[str | int, ...]

_VALIDATOR = jsonschema.Draft202012Validator(TEMPLATE)
_DEFAULT_ERROR_PATHS = (
    "error.message",
    "message",
    "detail",
    "error_description",
    "description",
    "title",
    "errors.0.message",
    "error",
)


class TemplateError(ConnectorError):
    """A template that cannot be used; ``problems`` are ``(line, message)`` pairs."""

    def __init__(self, filename: str, problems: list[tuple[int, str]]) -> None:
        self.filename = filename
        self.problems = sorted(problems)
        text = "\n".join(f"{filename}, line {line}: {message}" for line, message in self.problems)
        super().__init__(text, permanent=True)


@dataclass(frozen=True)
class FindStep:
    """Records of one category: found by one request (and its pages), for each parent."""

    name: str
    category: str
    request: Mapping[str, Any]
    for_each: str | None = None
    records: str | None = None
    paging: Mapping[str, Any] | None = None
    match: tuple[Mapping[str, Any], ...] = ()
    not_found: frozenset[int] = frozenset()
    learn: Mapping[str, str] | None = None
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class EraseStep:
    request: Mapping[str, Any]
    category: str
    for_each: str | None = None
    gone: frozenset[int] = frozenset({404, 410})
    counts: bool = True
    poll: Mapping[str, Any] | None = None
    confirm_after: float | None = None


@dataclass(frozen=True)
class RectifyStep:
    for_each: str
    request: Mapping[str, Any]
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Kept:
    """Data the vendor keeps after an erasure, and the law that lets (or makes) it."""

    category: str
    reason: str
    exception: str


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    filename: str
    docs: tuple[str, ...]
    base_url: str
    settings: Mapping[str, Mapping[str, Any]]
    secrets: Mapping[str, Mapping[str, Any]]
    auth: Mapping[str, Any]
    categories: Mapping[str, str]
    check: tuple[Mapping[str, Any], ...]
    find: tuple[FindStep, ...]
    erase: tuple[EraseStep, ...]
    rectify: tuple[RectifyStep, ...]
    cannot_erase: tuple[Kept, ...]
    concurrency: int
    error_message: tuple[str, ...]

    @property
    def actions(self) -> frozenset[Action]:
        found = {Action.LOCATE, Action.EXPORT} if self.find else set()
        if self.erase:
            found.add(Action.ERASE)
        if self.rectify:
            found.add(Action.RECTIFY)
        return frozenset(found)

    def step(self, name: str) -> FindStep:
        return next(step for step in self.find if step.name == name)


def parse_template(text: str, filename: str, *, name: str | None = None) -> Template:
    """Check ``text`` and build the template; ``name`` is what the file's name says it is."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise TemplateError(filename, [(line, f"not valid YAML: {exc.problem}")]) from exc
    lines = _lines(root) if root is not None else {}

    def at(where: Where) -> int:
        while where not in lines and where:
            where = where[:-1]
        return lines.get(where, 1)

    if not isinstance(data, dict):
        raise TemplateError(filename, [(1, "a template is a mapping of keys (name, title, ...)")])
    problems = [
        (at(_where(error)), _schema_message(error)) for error in _VALIDATOR.iter_errors(data)
    ]
    if not problems:
        problems = [(at(where), message) for where, message in _meaning(data)]
        if name is not None and data["name"] != name:
            problems.append(
                (at(("name",)), f"name {data['name']!r} must match the file name {name!r}")
            )
    if problems:
        raise TemplateError(filename, problems)
    return _build(data, filename)


def _lines(node: yaml.Node, where: Where = ()) -> dict[Where, int]:
    found = {where: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found.update(_lines(value, (*where, key.value)))
            found[(*where, key.value)] = key.start_mark.line + 1  # a problem with a value: its key
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found.update(_lines(item, (*where, index)))
    return found


def _where(error: jsonschema.ValidationError) -> Where:
    """Where an error is: for a key that is not allowed, that key rather than its parent."""
    where = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        extra = [key for key in error.instance if key not in allowed]
        if extra:
            return (*where, extra[0])
    return where


def _schema_message(error: jsonschema.ValidationError) -> str:
    place = ".".join(str(part) for part in error.absolute_path) or "the template"
    return f"{place}: {error.message}"


def _meaning(data: dict[str, Any]) -> Iterator[tuple[Where, str]]:
    """What the schema cannot say: references between steps, and what placeholders read."""
    categories = set(data["categories"])
    settings, secrets = set(data.get("settings", {})), set(data.get("secrets", {}))
    yield from _reads(data["base_url"], ("base_url",), {"config"}, settings, secrets)
    yield from _reads(data["auth"], ("auth",), {"config", "secrets"}, settings, secrets)
    for index, request in enumerate(data["check"]):
        yield from _reads(request, ("check", index), {"config"}, settings, secrets)
    parents: dict[str, set[str]] = {}  # a find step → itself and the steps above it
    for index, step in enumerate(data.get("find", [])):
        where: Where = ("find", index)
        if step["name"] in parents:
            yield (*where, "name"), f"a second find step named {step['name']!r}"
        above, problem = _above(step.get("for_each"), parents)
        if problem:
            yield (*where, "for_each"), problem
        if step["category"] not in categories:
            yield (*where, "category"), f"category {step['category']!r} is not in categories"
        parents[step["name"]] = {step["name"], *above}
        readable = {"subject", "config", *above}
        for key in ("request", "match"):
            yield from _reads(step.get(key), (*where, key), readable, settings, secrets)
    for kind in ("erase", "rectify"):
        for index, step in enumerate(data.get(kind, [])):
            where = (kind, index)
            above, problem = _above(step.get("for_each"), parents)
            if problem:
                yield (*where, "for_each"), problem
            category = step.get("category")
            if category is not None and category not in categories:
                yield (*where, "category"), f"category {category!r} is not in categories"
            readable = {"subject", "config", *above}
            yield from _reads(step["request"], (*where, "request"), readable, settings, secrets)
            if "poll" in step:
                request = step["poll"]["request"]
                yield from _reads(
                    request, (*where, "poll", "request"), {"config", "id"}, settings, secrets
                )
    for index, kept in enumerate(data.get("cannot_erase", [])):
        if kept["category"] not in categories:
            yield (
                ("cannot_erase", index, "category"),
                f"category {kept['category']!r} is not in categories",
            )


def _above(parent: str | None, parents: dict[str, set[str]]) -> tuple[set[str], str | None]:
    """The find steps a step may read (its parent and theirs), or why it may not."""
    if parent is None:
        return set(), None
    if parent not in parents:
        return set(), f"for_each {parent!r} is not an earlier find step"
    return parents[parent], None


def _reads(
    value: Any, where: Where, readable: set[str], settings: set[str], secrets: set[str]
) -> Iterator[tuple[Where, str]]:
    try:
        found = list(expressions_in(value))
    except ExpressionError as exc:
        yield where, str(exc)
        return
    for inside, top in found:
        for expression in top.nested():
            if expression.root not in readable:
                allowed = ", ".join(sorted(readable))
                yield (
                    (*where, *inside),
                    f"{{{{ {top.text} }}}} reads {expression.root!r}; here it may read {allowed}",
                )
            elif expression.root in ("config", "secrets") and len(expression.path) > 1:
                declared = settings if expression.root == "config" else secrets
                key = expression.path[1]
                if isinstance(key, str) and key not in declared:
                    section = "settings" if expression.root == "config" else "secrets"
                    yield (*where, *inside), f"{{{{ {top.text} }}}}: {key!r} is not in {section}"


def _rules(match: Any) -> tuple[Mapping[str, Any], ...]:
    """``match`` is one rule or a list of them."""
    if match is None:
        return ()
    return tuple(match) if isinstance(match, list) else (match,)


def _build(data: dict[str, Any], filename: str) -> Template:
    find = tuple(
        FindStep(
            name=step["name"],
            category=step["category"],
            request=step["request"],
            for_each=step.get("for_each"),
            records=step.get("records"),
            paging=step.get("paging"),
            match=_rules(step.get("match")),
            not_found=frozenset(step.get("not_found", ())),
            learn=step.get("learn"),
            omit=tuple(step.get("omit", ())),
        )
        for step in data.get("find", [])
    )
    categories = {step.name: step.category for step in find}
    return Template(
        name=data["name"],
        title=data["title"],
        filename=filename,
        docs=tuple(data["docs"]),
        base_url=data["base_url"],
        settings=data.get("settings", {}),
        secrets=data.get("secrets", {}),
        auth=data["auth"],
        categories=data["categories"],
        check=tuple(data["check"]),
        find=find,
        erase=tuple(
            EraseStep(
                request=step["request"],
                category=step.get("category") or categories[step["for_each"]],
                for_each=step.get("for_each"),
                gone=frozenset(step.get("gone", (404, 410))),
                counts=step.get("counts", True),
                poll=step.get("poll"),
                confirm_after=step.get("confirm_after"),
            )
            for step in data.get("erase", [])
        ),
        rectify=tuple(
            RectifyStep(for_each=step["for_each"], request=step["request"], fields=step["fields"])
            for step in data.get("rectify", [])
        ),
        cannot_erase=tuple(Kept(**kept) for kept in data.get("cannot_erase", [])),
        concurrency=data.get("concurrency", 4),
        error_message=tuple(data.get("error_message", _DEFAULT_ERROR_PATHS)),
    )
