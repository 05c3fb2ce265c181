"""The table map of a SQL system: its configuration parsed and checked, and values made plain.

The configuration describes a small forest of tables: root tables hold the person's
identifiers, other tables hang off them through a foreign key (``via``); each table
is erased by deleting its rows or masking columns (null, a fixed value, a keyed hash).
``connectors.sql`` runs the actions over this map.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
NAME_RE = re.compile(rf"{NAME}\Z")
QUALIFIED_RE = re.compile(rf"{NAME}(?:\.{NAME})?\Z")
MODES = ("delete", "mask")
TABLE_KEYS = frozenset({"table", "key", "identifiers", "via", "category", "erase", "rectify"})
VIA_KEYS = frozenset({"column", "parent", "parent_column"})
HASHED_RE = re.compile(r"[0-9a-f]{64}\Z")


class ConfigProblem(ValueError):
    """A configuration mistake; the connector turns it into a permanent error naming the system."""


@dataclass(frozen=True)
class MaskRule:
    kind: str  # "null" | "fixed" | "hash"
    value: Any = None

    def apply(self, old: Any, hash_key: str) -> Any:
        if self.kind != "hash":
            return self.value
        # Hashing a hash would change the row on every erase; a 64-hex value counts as done.
        if old is None or (isinstance(old, str) and HASHED_RE.match(old)):
            return old
        message = str(json_value(old)).encode()
        return hmac.new(hash_key.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Via:
    column: str
    parent: str
    parent_column: str


@dataclass(frozen=True)
class TableSpec:
    table: str
    key: str
    category: str
    identifiers: Mapping[str, str]  # identifier kind -> column; empty for a ``via`` table
    via: Via | None
    mode: str
    mask: Mapping[str, MaskRule]
    rectify: tuple[str, ...]
    depth: int  # 0 for a root table


@dataclass(frozen=True)
class Layout:
    tables: tuple[TableSpec, ...]  # parents before children
    identity_fields: tuple[str, ...]

    @property
    def erase_order(self) -> list[TableSpec]:
        """Deepest first: a child's rows are found through its parent, so parents go last."""
        return sorted(self.tables, key=lambda spec: -spec.depth)

    def spec(self, table: str) -> TableSpec:
        return next(spec for spec in self.tables if spec.table == table)

    def required_columns(self) -> dict[str, list[str]]:
        """Every column the configuration names, per table, for ``check()``."""
        need: dict[str, list[str]] = {spec.table: [spec.key] for spec in self.tables}
        for spec in self.tables:
            need[spec.table] += [*spec.identifiers.values(), *spec.mask, *spec.rectify]
            if spec.via:
                need[spec.table].append(spec.via.column)
                need[spec.via.parent].append(spec.via.parent_column)
        return {table: list(dict.fromkeys(columns)) for table, columns in need.items()}


def _name(value: Any, where: str, *, qualified: bool = False) -> str:
    if not isinstance(value, str) or not (QUALIFIED_RE if qualified else NAME_RE).match(value):
        raise ConfigProblem(f"{where}: {value!r} is not a plain SQL name")
    return value


def _mask_rule(value: Any, where: str) -> MaskRule:
    if value is None:
        return MaskRule("null")
    if value == "hash":
        return MaskRule("hash")
    if isinstance(value, dict) and set(value) == {"fixed"}:
        return MaskRule("fixed", value["fixed"])
    if isinstance(value, (str, int, float, bool)):
        return MaskRule("fixed", value)
    raise ConfigProblem(f"{where}: use null, hash, {{fixed: value}} or a plain value")


def _table(raw: Any, index: int, allow_schema: bool) -> dict[str, Any]:
    """One entry of ``tables``, checked: the TableSpec fields but ``depth``, which needs all."""
    if not isinstance(raw, dict):
        raise ConfigProblem(f"tables[{index}] must be a mapping")
    table = _name(raw.get("table"), f"tables[{index}].table", qualified=allow_schema)
    where = f"table {table}"
    if unknown := sorted(set(raw) - TABLE_KEYS):
        raise ConfigProblem(f"{where}: unknown setting(s) {', '.join(unknown)}")
    key = _name(raw.get("key", "id"), f"{where}: key")
    identifiers, via = raw.get("identifiers") or {}, raw.get("via") or None
    if bool(identifiers) == bool(via):
        raise ConfigProblem(f"{where}: give either identifiers or via (not both, not neither)")
    if not isinstance(identifiers, dict):
        raise ConfigProblem(f"{where}: identifiers must map identifier kinds to columns")
    identifiers = {str(k): _name(c, f"{where}: identifiers.{k}") for k, c in identifiers.items()}
    if via is not None:
        if not isinstance(via, dict) or not {"column", "parent"} <= set(via) <= VIA_KEYS:
            raise ConfigProblem(f"{where}: via needs column, parent and maybe parent_column")
        via = {k: _name(v, f"{where}: via.{k}", qualified=allow_schema and k == "parent")
               for k, v in via.items()}  # fmt: skip
    erase = raw.get("erase")
    mode = erase.get("mode") if isinstance(erase, dict) else erase
    if mode not in MODES:
        raise ConfigProblem(f"{where}: erase.mode must be delete or mask, not {mode!r}")
    fields = erase.get("fields") if mode == "mask" else {}
    if mode == "mask" and (not isinstance(fields, dict) or not fields):
        raise ConfigProblem(f"{where}: erase mode mask needs fields")
    mask = {_name(c, f"{where}: erase.fields"): _mask_rule(r, f"{where}: erase.fields.{c}")
            for c, r in fields.items()}  # fmt: skip
    if key in mask:
        raise ConfigProblem(f"{where}: erase cannot mask the key column {key}")
    rectify = raw.get("rectify", [])
    if not isinstance(rectify, list):
        raise ConfigProblem(f"{where}: rectify must be a list of columns")
    category = raw.get("category", table)
    if not isinstance(category, str) or not category:
        raise ConfigProblem(f"{where}: category must be a non-empty string")
    rectify = tuple(_name(c, f"{where}: rectify") for c in rectify)
    return {"table": table, "key": key, "category": category, "identifiers": identifiers,
            "via": via, "mode": mode, "mask": mask, "rectify": rectify}


def parse_config(
    config: Mapping[str, Any], secrets: Mapping[str, str], *, allow_schema: bool
) -> Layout:
    """Check the shape of the configuration and order the tables parents first."""
    tables = config.get("tables")
    if not isinstance(tables, list) or not tables:
        raise ConfigProblem("tables must be a non-empty list")
    raw = {}
    for index, entry in enumerate(tables):
        table = _table(entry, index, allow_schema)
        if raw.setdefault(table["table"], table) is not table:
            raise ConfigProblem(f"table {table['table']} is configured twice")
    depths = {}
    for table in raw.values():
        chain, node = [table["table"]], table
        while node["via"]:  # walk up to the root: an unknown parent or a loop is an error
            parent = node["via"]["parent"]
            if parent not in raw:
                unknown = f"via.parent {parent} is not a configured table"
                raise ConfigProblem(f"table {node['table']}: {unknown}")
            if parent in chain:
                cycle = " -> ".join([*chain, parent])
                raise ConfigProblem(f"table {table['table']}: via forms a cycle ({cycle})")
            chain.append(parent)
            node = raw[parent]
        depths[table["table"]] = len(chain) - 1
    specs = []
    for table in raw.values():
        if via := table["via"]:
            parent_column = via.get("parent_column", raw[via["parent"]]["key"])
            table = {**table, "via": Via(via["column"], via["parent"], parent_column)}
        specs.append(TableSpec(**table, depth=depths[table["table"]]))
    hashing = any(rule.kind == "hash" for spec in specs for rule in spec.mask.values())
    if hashing and not secrets.get("hash_key"):
        raise ConfigProblem("a hash mask needs secrets.hash_key")
    identity = config.get("identity_fields", [])
    if not isinstance(identity, list) or not all(isinstance(kind, str) for kind in identity):
        raise ConfigProblem("identity_fields must be a list of identifier kinds")
    return Layout(tuple(sorted(specs, key=lambda spec: spec.depth)), tuple(identity))



# The commonest values JSON has no form for, each to its text (looked up by exact type: fast).
AS_TEXT: dict[type, Callable[[Any], str]] = {
    datetime: datetime.isoformat, date: date.isoformat, time: time.isoformat, Decimal: str, uuid.UUID: str,
}


def json_value(value: Any) -> Any:
    """A database value in a JSON-friendly form, for exports and hashing."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if (as_text := AS_TEXT.get(type(value))) is not None:
        return as_text(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return str(value)  # Decimal, UUID, timedelta...: their exact text form
