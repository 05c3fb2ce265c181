"""Recipients: who receives a system's data, and how we reach them to pass on a change.

A system's ``recipients`` metadata is a list. Each item is an object::

    {"name": "Parcel carrier (EU)", "notify": "email", "email": "privacy@carrier.example"}
    {"name": "Newsletter vendor", "notify": "system", "system": "marketing"}
    {"name": "Our auditors", "notify": "manual"}

``email``: a task emails them; ``system``: they are a connected system, told by the
erase or rectify job it runs itself; ``manual``: a task for the privacy team, ticked off
on the request's page. A plain string is a recipient told by hand (``manual``).
``None`` (not given) means nobody has said; ``[]`` means there are none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

WAYS = ("email", "system", "manual")
_KEYS = {"name", "notify", "email", "system"}


@dataclass(frozen=True)
class Recipient:
    name: str
    notify: str = "manual"
    email: str = ""
    system: str = ""


def _one(index: int, item: Any) -> Recipient:
    where = f"recipients[{index}]"
    if isinstance(item, str):
        if not item.strip():
            raise ValidationError(f"{where}: a recipient needs a name")
        return Recipient(item.strip())
    if not isinstance(item, dict):
        raise ValidationError(f"{where}: give a name, or an object with name and notify")
    unknown = set(item) - _KEYS
    if unknown:
        raise ValidationError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    name, way = item.get("name"), item.get("notify", "manual")
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{where}: a recipient needs a name")
    if way not in WAYS:
        raise ValidationError(f"{where}: notify must be one of {', '.join(WAYS)}")
    email, system = item.get("email", ""), item.get("system", "")
    if way == "email":
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(f"{where}: notify by email needs a valid email address") from None
    if way == "system" and not (isinstance(system, str) and re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", system)):
        raise ValidationError(f"{where}: notify by system needs the connected system's name")
    return Recipient(name.strip(), way, email if way == "email" else "", system if way == "system" else "")


def parse(value: Any) -> list[Recipient]:
    """The recipients of a system's metadata; raises ValidationError saying what is wrong."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError("recipients must be a list")
    return [_one(index, item) for index, item in enumerate(value)]


def validate(value: Any) -> None:
    """The model field's validator (admin forms and systems files both run it)."""
    parse(value)


def names(value: Any) -> list[str]:
    """Only the names, as an access answer lists them; an unusable value gives none."""
    try:
        return [r.name for r in parse(value)]
    except ValidationError:
        return []
