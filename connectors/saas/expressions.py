"""The placeholders in a template: ``{{ subject.email | lower | md5 }}``.

A placeholder is a path into data we already hold (the person's identifiers, the
system's settings and secrets, records found by earlier steps) followed by named
filters. There is nothing else: no calls, no arithmetic, no loops. A template is
data written by a vendor's integrator, not code, so it can never run anything here.

A path is dotted names and list indexes, and ``[...]`` takes a key from another path
(``subject[config.user_id_identifier]``). A string that is one placeholder and
nothing more keeps its value's type (a number, a list); otherwise the values are
written into the string. In a request path every value is percent-encoded as one
path segment, so an identifier can never add segments or climb out with ``..``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

#: ``{{ ... }}`` with no other ``{{`` or ``}}`` inside
PLACEHOLDER = re.compile(r"\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")

#: SOQL's escape sequences inside a quoted string literal (Salesforce, "Quoted String Escape
#: Sequences"). Any other control character is written as \uXXXX, which SOQL also accepts; so is
#: backspace, as the documentation names \b "bell", and which of the two it means is unclear.
_SOQL_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\f": "\\f",
}


def soql(text: str) -> str:
    """``text`` safe between the single quotes of a SOQL string literal."""
    return "".join(
        _SOQL_ESCAPES.get(char) or (f"\\u{ord(char):04x}" if ord(char) < 0x20 else char)
        for char in text
    )


FILTERS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "trim": str.strip,
    "md5": lambda text: hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
    "sha256": lambda text: hashlib.sha256(text.encode()).hexdigest(),
    "urlencode": lambda text: quote(text, safe=""),
    "soql": soql,
    "last_segment": lambda text: text.rsplit("/", 1)[-1],
}

#: Roots whose values are personal data or secrets: what they render to is scrubbed
#: from every message.
SENSITIVE_ROOTS = frozenset({"subject", "secrets"})


class ExpressionError(ValueError):
    """A placeholder that cannot be read (a template mistake, found when it is loaded)."""


class Missing(LookupError):
    """A placeholder points at nothing: ``what`` names the path, never a value."""

    def __init__(self, what: str, root: str) -> None:
        super().__init__(what)
        self.what = what
        self.root = root


@dataclass(frozen=True)
class Expression:
    text: str
    path: tuple[str | Expression, ...]  # a nested Expression is a ``[...]`` key
    filters: tuple[str, ...]

    @property
    def root(self) -> str:
        return str(self.path[0])

    def nested(self) -> Iterator[Expression]:
        """This expression and those inside its ``[...]`` keys."""
        yield self
        for part in self.path:
            if isinstance(part, Expression):
                yield from part.nested()


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Expression:
    """``a.b[c.d].0 | lower`` → an :class:`Expression`; raises :class:`ExpressionError`."""
    path_text, *filters = (part.strip() for part in text.split("|"))
    for name in filters:
        if name not in FILTERS:
            known = ", ".join(sorted(FILTERS))
            raise ExpressionError(f"unknown filter {name!r} in {{{{ {text.strip()} }}}} ({known})")
    path, end = _path(path_text, 0)
    if end != len(path_text) or not path:
        raise ExpressionError(f"cannot read {{{{ {text.strip()} }}}}")
    return Expression(text.strip(), tuple(path), tuple(filters))


def _path(text: str, at: int) -> tuple[list[str | Expression], int]:
    parts: list[str | Expression] = []
    while at < len(text):
        if text[at] == "[":
            inner, end = _path(text, at + 1)
            if end >= len(text) or text[end] != "]" or not inner:
                raise ExpressionError(f"unclosed [ in {text!r}")
            parts.append(Expression(text[at + 1 : end], tuple(inner), ()))
            at = end + 1
        elif text[at] == "." and parts:
            at += 1
        elif text[at] == "]":
            break
        else:
            name = _NAME.match(text, at)
            if name is None:
                raise ExpressionError(f"cannot read {text!r} at {text[at : at + 10]!r}")
            parts.append(name.group())
            at = name.end()
    return parts, at


def expressions_in(value: Any) -> Iterator[tuple[tuple[str | int, ...], Expression]]:
    """Every placeholder in a template value, with where it is (for messages with lines)."""
    if isinstance(value, str):
        for found in PLACEHOLDER.finditer(value):
            yield (), parse(found.group(1))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            for where, expression in expressions_in(item):
                yield (key, *where), expression
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for where, expression in expressions_in(item):
                yield (index, *where), expression


def lookup(value: Any, path: str | tuple[str | int, ...]) -> Any:
    """Follow a dotted path (``paging.next.after``, ``errors.0.message``); None if absent."""
    parts = path.split(".") if isinstance(path, str) else path
    for part in parts:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and str(part).lstrip("-").isdigit():
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


@dataclass
class Scope:
    """What placeholders may read, and the rendered values that must never be shown."""

    roots: dict[str, Any]
    sensitive: set[str] = field(default_factory=set)

    def child(self, **more: Any) -> Scope:
        """The same scope with more roots (a found record under its step's name)."""
        return Scope({**self.roots, **more}, self.sensitive)

    def evaluate(self, expression: Expression) -> Any:
        root = expression.root
        if root not in self.roots:
            raise Missing(expression.text, root)
        value: Any = self.roots[root]
        for part in expression.path[1:]:
            key = str(self.evaluate(part)) if isinstance(part, Expression) else part
            value = lookup(value, (key,))
            if value is None:
                raise Missing(expression.text, root)
        if value in ("", None):
            raise Missing(expression.text, root)
        for name in expression.filters:
            self._note(root, value)
            value = FILTERS[name](str(value))
        self._note(root, value)
        return value

    def _note(self, root: str, value: Any) -> None:
        if root in SENSITIVE_ROOTS and isinstance(value, (str, int)):
            self.sensitive.add(str(value))

    def render(self, value: Any, *, segment: bool = False) -> Any:
        """A template value with its placeholders filled in; ``segment`` for request paths."""
        if isinstance(value, str):
            return self._string(value, segment=segment)
        if isinstance(value, Mapping):
            return {key: self.render(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.render(item) for item in value]
        return value

    def _string(self, text: str, *, segment: bool) -> Any:
        whole = PLACEHOLDER.fullmatch(text.strip())
        if whole and not segment:
            return self.evaluate(parse(whole.group(1)))

        def fill(found: re.Match[str]) -> str:
            value = self.evaluate(parse(found.group(1)))
            return quote(str(value), safe="") if segment else str(value)

        return PLACEHOLDER.sub(fill, text)
