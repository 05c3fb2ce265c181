"""Models of the host Django project, reached by ``app_label.ModelName``.

Config::

    {"models": [
      {"model": "auth.User", "identifiers": {"email": "email"}, "category": "accounts",
       "exclude": ["password"],
       "erase": {"mode": "mask", "fields": {"email": "", "username": {"hash": true}}},
       "rectify": ["first_name", "last_name"]},
      {"model": "admin.LogEntry", "via": {"field": "user", "parent": "auth.User"},
       "category": "admin_log", "erase": {"mode": "delete"}}],
     "using": "default", "chunk_size": 500}

A row belongs to the subject when any identifier field equals the subject's value
of that kind (emails compare case-insensitively), or when its ``via`` foreign key
points at a parent row that belongs to the subject. Erase defaults to ``delete``;
``mask`` overwrites fields (``null`` → NULL, a literal, or ``{"hash": true}`` →
HMAC-SHA256 keyed with ``secrets.hash_key``, a stable pseudonym). Children are
handled before their parents, so they are still found through their parents.
This module imports Django but never ``dsr``: it sees the host's models only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models import Q

from .base import (
    Action,
    Connector,
    ConnectorError,
    JobContext,
    LocateResult,
    Receipt,
    Record,
    Subject,
)

_ENCODER = DjangoJSONEncoder()
CHUNK = 500


def _hmac(key: bytes, value: Any) -> str:
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()


def jsonable(value: Any) -> Any:
    """DjangoJSONEncoder's forms (ISO dates, Decimal/UUID as str), applied ahead of time."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return _ENCODER.default(value)


class DjangoModelsConnector(Connector):
    key = "django"
    actions = frozenset({Action.LOCATE, Action.EXPORT, Action.ERASE, Action.RECTIFY})

    # -- configuration ------------------------------------------------------------
    def validate(self) -> None:
        specs = self.config.get("models")
        if not isinstance(specs, list) or not specs or not all(isinstance(s, dict) for s in specs):
            raise self.config_error("models must be a non-empty list of {model, ...} objects")
        self._models: dict[str, type[models.Model]] = {}
        for spec in specs:
            self._models[self._label(spec)] = self._model(spec)
        categories = [self.category(s) for s in specs]
        if len(set(categories)) != len(categories):
            raise self.config_error(f"each model needs its own category; got {categories}")
        if len(self._models) != len(specs):
            raise self.config_error("each model may be listed once")
        for spec in specs:
            self._validate_spec(spec)
        for spec in specs:
            self.depth(spec)  # raises on a cycle of parents

    def _label(self, spec: Mapping[str, Any]) -> str:
        return str(spec.get("model"))

    def _model(self, spec: Mapping[str, Any]) -> type[models.Model]:
        try:
            return apps.get_model(self._label(spec))
        except (LookupError, ValueError) as exc:
            raise self.config_error(f"model {spec.get('model')!r} does not exist: {exc}") from exc

    def _field(self, spec: Mapping[str, Any], name: Any, role: str) -> models.Field:
        model = self._models[self._label(spec)]
        try:
            field = model._meta.get_field(str(name))
        except FieldDoesNotExist as exc:
            raise self.config_error(f"{model._meta.label} has no field {name!r} ({role})") from exc
        if not getattr(field, "concrete", False) or field.many_to_many:
            raise self.config_error(f"{model._meta.label}.{name} is not a column ({role})")
        return field  # type: ignore[return-value]

    def _validate_spec(self, spec: Mapping[str, Any]) -> None:
        label = self._label(spec)
        identifiers, via = spec.get("identifiers") or {}, spec.get("via")
        if not isinstance(identifiers, dict) or not (identifiers or via):
            raise self.config_error(f"{label} needs identifiers {{kind: field}} or via")
        for name in identifiers.values():
            self._field(spec, name, "identifiers")
        if via is not None:
            if not isinstance(via, dict) or via.get("parent") not in self._models:
                raise self.config_error(f"{label}.via.parent must be one of the configured models")
            fk = self._field(spec, via.get("field"), "via.field")
            if fk.related_model is not self._models[via["parent"]]:
                raise self.config_error(f"{label}.{fk.name} is no foreign key to {via['parent']}")
        for name in spec.get("exclude") or []:
            self._field(spec, name, "exclude")
        for name in spec.get("rectify") or []:
            if self._field(spec, name, "rectify").primary_key:
                raise self.config_error(f"{label}.{name}: a primary key cannot be rectified")
        erase = spec.get("erase") or {"mode": "delete"}
        if not isinstance(erase, dict) or erase.get("mode") not in ("delete", "mask"):
            raise self.config_error(f"{label}.erase.mode must be 'delete' or 'mask'")
        if erase["mode"] == "mask":
            rules = erase.get("fields")
            if not isinstance(rules, dict) or not rules:
                raise self.config_error(f"{label}.erase.fields is required for mask mode")
            for name, rule in rules.items():
                self._validate_rule(spec, self._field(spec, name, "erase.fields"), rule)

    def _validate_rule(self, spec: Mapping[str, Any], field: models.Field, rule: Any) -> None:
        where = f"{self._label(spec)}.{field.name}"
        if field.primary_key:
            raise self.config_error(f"{where}: a primary key cannot be masked")
        if rule is None and not field.null:
            raise self.config_error(f"{where} is NOT NULL; mask it with a value")
        if not isinstance(rule, dict):
            return
        if rule != {"hash": True}:
            raise self.config_error(f'{where}: a rule object must be {{"hash": true}}')
        if not self.secrets.get("hash_key"):
            raise self.config_error(f"{where} is hashed but secrets.hash_key is missing")
        if field.max_length is not None and field.max_length < 64:
            raise self.config_error(f"{where} is too short for a hash (64 characters)")

    def category(self, spec: Mapping[str, Any]) -> str:
        return str(spec.get("category") or self._label(spec).lower())

    def depth(self, spec: Mapping[str, Any], seen: tuple[str, ...] = ()) -> int:
        """How many parents up the ``via`` chain: children are erased first."""
        label = self._label(spec)
        if label in seen:
            raise self.config_error(f"via parents form a cycle: {' -> '.join((*seen, label))}")
        via = spec.get("via")
        if not via:
            return 0
        return 1 + self.depth(self._spec(via["parent"]), (*seen, label))

    def _spec(self, label: str) -> Mapping[str, Any]:
        return next(s for s in self.config["models"] if self._label(s) == label)

    # -- querying -----------------------------------------------------------------
    def _manager(self, spec: Mapping[str, Any]) -> models.Manager:
        model = self._models[self._label(spec)]
        return model._default_manager.db_manager(self.using)

    def rows(self, spec: Mapping[str, Any], subject: Subject) -> models.QuerySet:
        """The subject's rows of one model (a lazy queryset, usable as a subquery)."""
        match = Q()
        for kind, field in (spec.get("identifiers") or {}).items():
            value = subject.get(kind)
            if value is not None:
                match |= Q(**{f"{field}__iexact" if kind == "email" else field: value})
        via = spec.get("via")
        if via:
            parents = self.rows(self._spec(via["parent"]), subject).values("pk")
            match |= Q(**{f"{via['field']}__in": parents})
        manager = self._manager(spec)
        return manager.filter(match) if match else manager.none()

    def _ordered(self, *, children_first: bool) -> list[Mapping[str, Any]]:
        return sorted(self.config["models"], key=self.depth, reverse=children_first)

    @property
    def using(self) -> str:
        return str(self.config.get("using", "default"))

    @contextmanager
    def _database(self, action: str, *, atomic: bool = False) -> Iterator[None]:
        """Database errors as ConnectorErrors, without row values (they are personal data)."""
        try:
            with transaction.atomic(using=self.using) if atomic else nullcontext():
                yield
        except IntegrityError as exc:  # also ProtectedError / RestrictedError
            raise self.config_error(
                f"{action} refused by a database constraint ({type(exc).__name__}); nothing changed"
            ) from exc
        except DatabaseError as exc:
            first_line = (str(exc).strip().splitlines() or [""])[0]
            raise ConnectorError(
                f"system {self.name!r}: {action} failed: {type(exc).__name__}: {first_line}"
            ) from exc

    # -- actions ------------------------------------------------------------------
    def check(self) -> None:
        with self._database("check"):
            for spec in self.config["models"]:
                list(self._manager(spec).order_by().values("pk")[:1])

    def locate(self, subject: Subject, *, job: JobContext | None = None) -> LocateResult:
        result = LocateResult()
        with self._database("locate"):
            for spec in self.config["models"]:
                n = self.rows(spec, subject).count()
                result.found += n
                if n:
                    result.by_category[self.category(spec)] = n
        return result

    def export(self, subject: Subject, *, job: JobContext | None = None) -> Iterator[Record]:
        chunk = int(self.config.get("chunk_size", CHUNK))
        for spec in self._ordered(children_first=False):
            skip = set(spec.get("exclude") or [])
            columns = self._models[self._label(spec)]._meta.concrete_fields
            names = [f.attname for f in columns if f.name not in skip and f.attname not in skip]
            rows = self.rows(spec, subject).order_by("pk").values(*names)
            with self._database("export"):
                for row in rows.iterator(chunk_size=chunk):
                    values = {k: jsonable(v) for k, v in row.items()}
                    yield Record(self.name, self.category(spec), values)

    def erase(self, subject: Subject, *, job: JobContext | None = None) -> Receipt:
        receipt = Receipt(action=Action.ERASE, detail={"tables": {}})
        with self._database("erase", atomic=True):
            for spec in self._ordered(children_first=True):
                self._erase_one(spec, subject, receipt)
        return receipt

    def _erase_one(self, spec: Mapping[str, Any], subject: Subject, receipt: Receipt) -> None:
        model, category = self._models[self._label(spec)], self.category(spec)
        erase = spec.get("erase") or {"mode": "delete"}
        before = self.rows(spec, subject).count()
        table: dict[str, Any] = {"mode": erase["mode"], "before": before}
        if erase["mode"] == "delete":
            _total, per_model = self.rows(spec, subject).delete()
            affected = per_model.get(model._meta.label, 0)
            cascaded = {k: v for k, v in per_model.items() if k != model._meta.label and v}
            if cascaded:
                table["cascaded"] = cascaded
        else:
            affected = self._mask(spec, subject, erase["fields"])
        table["after"] = self.rows(spec, subject).count()
        receipt.detail["tables"][category] = table
        receipt.affected += affected
        if affected:
            receipt.by_category[category] = affected

    def _mask(self, spec: Mapping[str, Any], subject: Subject, rules: Mapping[str, Any]) -> int:
        hashed = [name for name, rule in rules.items() if isinstance(rule, dict)]
        fixed = {name: rule for name, rule in rules.items() if not isinstance(rule, dict)}
        key = self.secrets.get("hash_key", "").encode()
        # primary keys first: masking an identifier field takes the row out of the filter,
        # and SQLite must not be written to while a cursor over the same table is open
        pks = list(self.rows(spec, subject).values_list("pk", flat=True))
        manager = self._manager(spec)
        for start in range(0, len(pks), CHUNK):
            chunk = pks[start : start + CHUNK]
            if not hashed:
                manager.filter(pk__in=chunk).update(**fixed)
                continue
            for row in list(manager.filter(pk__in=chunk).values("pk", *hashed)):
                values = dict(fixed)
                for name in hashed:
                    old = row[name]
                    values[name] = None if old is None else _hmac(key, old)
                manager.filter(pk=row["pk"]).update(**values)
        return len(pks)

    def rectify(
        self, subject: Subject, changes: Mapping[str, Any], *, job: JobContext | None = None
    ) -> Receipt:
        receipt = Receipt(action=Action.RECTIFY, detail={"fields": {}})
        used: set[str] = set()
        with self._database("rectify", atomic=True):
            for spec in self._ordered(children_first=True):
                allowed = {n: v for n, v in changes.items() if n in (spec.get("rectify") or [])}
                if not allowed:
                    continue
                values = {n: self._clean(spec, n, v) for n, v in allowed.items()}
                n = self.rows(spec, subject).update(**values)
                used |= set(allowed)
                category = self.category(spec)
                receipt.detail["fields"][category] = sorted(allowed)
                receipt.affected += n
                if n:
                    receipt.by_category[category] = n
        receipt.detail["ignored"] = sorted(set(changes) - used)
        return receipt

    def _clean(self, spec: Mapping[str, Any], name: str, value: Any) -> Any:
        field = self._field(spec, name, "rectify")
        try:
            return field.clean(value, None)
        except ValidationError as exc:  # its messages may quote the value: name the rules only
            codes = ", ".join(sorted({str(e.code) for e in exc.error_list}))
            raise ConnectorError(
                f"{self._label(spec)}.{name}: the new value is refused ({codes})", permanent=True
            ) from exc
