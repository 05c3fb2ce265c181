"""Template filters of the desk pages: human labels for codes, and records as rows of a table.

Loaded with ``{% load desk_labels %}`` (registered in settings.TEMPLATES).
"""

from __future__ import annotations

from typing import Any

from django import template

from dsr.core import labels

register = template.Library()

register.filter("regime_label", labels.regime)
register.filter("kind_label", labels.kind)
register.filter("action_label", labels.action)
register.filter("outcome_label", labels.outcome)
register.filter("email_label", labels.email)
register.filter("language_label", labels.language)


@register.filter
def place(request: Any) -> str:
    """Where the person lives, by name: "California, United States"."""
    return labels.place(getattr(request, "country", ""), getattr(request, "subdivision", "")) or "–"


def as_text(value: Any) -> str:
    """One cell of a table: plain words, never Python or JSON notation."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {as_text(item)}" for key, item in value.items()) or "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(item) for item in value) or "–"
    return str(value)


@register.filter
def rows(mapping: Any) -> list[tuple[str, str]]:
    """A mapping as (name, text) rows, in its own order."""
    if not isinstance(mapping, dict):
        return []
    return [(str(key), as_text(value)) for key, value in mapping.items()]
