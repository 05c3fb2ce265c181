"""Connected systems as code: load them from YAML, and check that each one answers.

Secrets in the file are references to environment variables (``${SHOP_DSN}``),
never values: the file can live in version control. A system reached through a SaaS
template names it (``template: stripe``) instead of a connector; its actions default
to what the template can do.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from connectors import registry
from connectors.base import ConnectorError
from dsr.core.models import TERMINAL_JOB_STATUSES, ConnectorAction, ConnectorJob, SystemConnection
from dsr.engine.connections import build_connector

_ENV_REF = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)\}$")
_FIELDS = {
    "connector", "template", "config", "secrets", "enabled", "actions", "identity_source",
    "max_attempts", "public_name", "description", "purposes", "data_categories", "recipients",
    "retention", "source", "automated_decisions", "country", "transfers",
}
_LIST_FIELDS = ("purposes", "data_categories")
# What an access answer tells the person about each system (GDPR Art. 15(1)-(2)): each
# field's "not stated" value. The answer says "being checked" for these, never a guess.
PRIVACY_METADATA = {
    "public_name": "", "purposes": [], "data_categories": [], "recipients": None, "retention": "",
    "source": "", "automated_decisions": "", "country": "", "transfers": None,
}


class SystemsFileError(ValueError):
    """The systems file cannot be used; the message says where and why."""


def _secret(system: str, key: str, value: Any, environ: dict[str, str]) -> str:
    match = _ENV_REF.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise SystemsFileError(
            f"{system}: secret {key!r} must be an environment reference like ${{MY_VAR}}, not a value"
        )
    if match.group(1) not in environ:
        raise SystemsFileError(f"{system}: secret {key!r} refers to ${{{match.group(1)}}}, which is not set")
    return environ[match.group(1)]


def _has_nul(value: Any) -> bool:
    """A NUL character anywhere (PostgreSQL stores none, in text or JSON)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _stored_values(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The values as the model stores them, checked by its fields (types, ranges, JSON)."""
    system = SystemConnection(name=name, **values)
    try:
        system.clean_fields(exclude=["name", "connector", "secrets"])
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
        raise SystemsFileError(f"{name}: {problems}") from exc
    return {key: getattr(system, key) for key in values}


def parse(text: str, *, environ: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Validate a systems file; returns the field values of each system, secrets resolved."""
    environ = dict(os.environ if environ is None else environ)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SystemsFileError(f"not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("systems"), list):
        raise SystemsFileError("the file must be a mapping with a 'systems' list")
    parsed, seen = [], set()
    for index, entry in enumerate(document["systems"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise SystemsFileError(f"systems[{index}]: each system needs a 'name'")
        name = entry["name"]
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name) or name in seen:
            raise SystemsFileError(f"systems[{index}]: name {name!r} must be a unique slug")
        seen.add(name)
        unknown = set(entry) - _FIELDS - {"name"}
        if unknown:
            raise SystemsFileError(f"{name}: unknown field(s) {', '.join(sorted(unknown))}")
        if _has_nul(entry):
            raise SystemsFileError(f"{name}: a value holds a NUL character")
        values = {k: v for k, v in entry.items() if k != "name"}
        for field in ("config", "secrets"):
            if not isinstance(values.get(field) or {}, dict):
                raise SystemsFileError(f"{name}: {field} must be a mapping")
        template = values.pop("template", None)
        if template is not None:
            if not isinstance(template, str) or values.get("connector", "saas") != "saas":
                raise SystemsFileError(f"{name}: template must name a SaaS template, without a connector")
            values["connector"] = "saas"
            values["config"] = {**(values.get("config") or {}), "template": template}
        values["secrets"] = {
            key: _secret(name, key, value, environ) for key, value in (entry.get("secrets") or {}).items()
        }
        actions = values.setdefault("actions", [a.value for a in ConnectorAction])
        actions_given = "actions" in entry
        if not isinstance(actions, list) or not set(map(str, actions)) <= {a.value for a in ConnectorAction}:
            raise SystemsFileError(f"{name}: actions must be a list of locate, export, erase, rectify")
        for field in _LIST_FIELDS:
            if not isinstance(values.get(field, []), list):
                raise SystemsFileError(f"{name}: {field} must be a list")
        for field in ("recipients", "transfers"):  # null: not stated; []: none
            if values.get(field) is not None and not isinstance(values[field], list):
                raise SystemsFileError(f"{name}: {field} must be a list")
        values = _stored_values(name, values)
        try:
            cls = registry.load(str(values.get("connector", "")))
            with cls(name=name, config=values.get("config") or {}, secrets=values["secrets"]) as built:
                if template is not None and not actions_given:  # what this template can do
                    values["actions"] = [a.value for a in ConnectorAction if a.value in built.actions]
        except ConnectorError as exc:
            raise SystemsFileError(f"{name}: {exc.message}") from exc
        parsed.append({"name": name, **values})
    return parsed


def missing_from(text: str, *, environ: dict[str, str] | None = None) -> list[str]:
    """The configured systems the file does not name: what ``load(prune=True)`` would remove."""
    named = {values["name"] for values in parse(text, environ=environ)}
    return sorted(set(SystemConnection.objects.values_list("name", flat=True)) - named)


def load(text: str, *, environ: dict[str, str] | None = None, prune: bool = False) -> dict[str, list[str]]:
    """Create or update every system in the file (idempotent); returns names by outcome.

    With ``prune``, the systems the file does not name go: deleted if they never had a job,
    disabled if they did (their jobs and receipts are the record of what was done). Nothing
    is pruned while one of them still has a job to finish.
    """
    outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "removed": [], "disabled": []}
    with transaction.atomic():
        parsed = parse(text, environ=environ)
        if prune:
            _prune(SystemConnection.objects.exclude(name__in=[v["name"] for v in parsed]), outcome)
        for values in parsed:
            name = values.pop("name")
            system = SystemConnection.objects.filter(name=name).first()
            if system is None:
                SystemConnection.objects.create(name=name, **values)
                outcome["created"].append(name)
                continue
            changed = [k for k, v in values.items() if getattr(system, k) != v]
            if changed:
                for key in changed:
                    setattr(system, key, values[key])
                system.save()
                outcome["updated"].append(name)
            else:
                outcome["unchanged"].append(name)
    return outcome


def _prune(gone: Any, outcome: dict[str, list[str]]) -> None:
    busy = sorted(set(
        ConnectorJob.objects.filter(system__in=gone).exclude(status__in=TERMINAL_JOB_STATUSES)
        .values_list("system__name", flat=True)
    ))
    if busy:
        raise SystemsFileError(
            f"not pruning: {', '.join(busy)} still {'has' if len(busy) == 1 else 'have'} jobs to finish; "
            "let them finish (or skip them at the desk) first"
        )
    for system in gone.select_for_update().order_by("name"):
        if ConnectorJob.objects.filter(system=system).exists():
            if system.enabled:
                SystemConnection.objects.filter(pk=system.pk).update(enabled=False)
                outcome["disabled"].append(system.name)
        else:
            system.delete()
            outcome["removed"].append(system.name)


@dataclass
class CheckRow:
    name: str
    connector: str
    ok: bool
    message: str
    missing: list[str] = dataclasses.field(default_factory=list)  # privacy metadata not stated


def missing_metadata(system: SystemConnection) -> list[str]:
    """The privacy metadata an access answer needs that this system has not stated."""
    return [name for name, unset in PRIVACY_METADATA.items() if getattr(system, name) in (unset, None)]


def check_all() -> list[CheckRow]:
    """Run every enabled system's check(); a broken one is reported, never raised."""
    rows = []
    for system in SystemConnection.objects.filter(enabled=True).order_by("name"):
        rows.append(_check(system))
        rows[-1].missing = missing_metadata(system)
    return rows


def _check(system: SystemConnection) -> CheckRow:
    try:
        with build_connector(system) as connector:
            connector.check()
    except ConnectorError as exc:
        return CheckRow(system.name, system.connector, False, exc.message)
    except Exception as exc:  # noqa: BLE001 - the table must cover every system
        return CheckRow(system.name, system.connector, False, f"{type(exc).__name__}: {exc}")
    return CheckRow(system.name, system.connector, True, "ok")
