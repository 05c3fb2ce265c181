"""What the PostgreSQL and MySQL connectors share: the actions over a system's table map.

The table map (``connectors.sql_layout``) is a small forest of tables: root tables hold
the person's identifiers, other tables hang off them through a foreign key. All that
does not depend on the driver lives here, written once against a :class:`Dialect`
(quote a name, compose a statement, pass a list of values); ``postgres.py`` and
``mysql.py`` add the connection, the streaming cursor and the error mapping.

Rows are attributed to subjects in SQL by one statement shape for one subject and for
a batch, so ``erase`` is ``erase_many`` of one and their receipts cannot disagree.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from decimal import Decimal
from typing import Any, ClassVar, Protocol

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
from .sql_layout import AS_TEXT, ConfigProblem, TableSpec, json_value, parse_config

CHUNK = 500  # subjects per statement, keys per IN list: far below every parameter limit
INT_TYPES = frozenset({"smallint", "integer", "bigint", "tinyint", "mediumint", "int"})
NO_MATCH = object()  # an identifier that no value of the column's type can equal


def coerce(value: Any, data_type: str) -> Any:
    """An identifier (text) as the column's type, so the comparison can use the column's index.

    A value that is not of that type cannot match; MySQL would otherwise compare
    ``'42abc'`` with an integer column as 42.
    """
    text = str(value).strip()
    if data_type in INT_TYPES:
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else NO_MATCH
    if data_type in ("numeric", "decimal"):
        return Decimal(text) if re.fullmatch(r"[+-]?\d+(\.\d+)?", text) else NO_MATCH
    if data_type == "uuid":
        try:
            return uuid.UUID(text)
        except ValueError:
            return NO_MATCH
    return str(value)


def chunked(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _same(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return old is new
    return str(json_value(old)) == str(json_value(new))


def _bump(counts: dict[str, int], category: str, n: int) -> None:
    if n:
        counts[category] = counts.get(category, 0) + n


# Values a JSON encoder takes as they are: the most common cells skip json_value.
_JSON_NATIVE = frozenset({str, int, float, bool, type(None)})

class Dialect(Protocol):
    """How a driver quotes names and composes statements; values always go as parameters."""

    def ident(self, name: str) -> Any: ...
    def sql(self, template: str, *parts: Any) -> Any: ...
    def join(self, separator: str, parts: Iterable[Any]) -> Any: ...
    def in_list(self, column: Any, values: Sequence[Any]) -> tuple[Any, list[Any]]: ...
    def root_match(
        self, table: Any, key: Any, column: Any, rows: Sequence[tuple[int, Any]]
    ) -> tuple[Any, list[Any]]:
        """Select ``(i, k)``: key ``k`` of each row whose ``column`` equals subject i's value."""
        ...


class SQLConnector(Connector):
    """The actions over a configured table tree; subclasses supply the driver hooks."""

    actions = frozenset({Action.LOCATE, Action.EXPORT, Action.ERASE, Action.RECTIFY})
    allow_schema: ClassVar[bool] = False
    dialect: ClassVar[Dialect]
    driver_errors: ClassVar[tuple[type[Exception], ...]] = ()
    stream_batch: ClassVar[int] = 1000

    def __init__(self, **kwargs: Any) -> None:
        self._conn: Any = None
        self._types: dict[str, dict[str, str]] | None = None
        self._erasable = False
        super().__init__(**kwargs)

    # -- driver hooks ------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _alive(self, conn: Any) -> bool:
        raise NotImplementedError

    def _load_columns(self, cur: Any) -> dict[str, dict[str, str]]:
        """Configured table name -> {column: data_type}, for the tables that exist."""
        raise NotImplementedError

    def _load_limits(self, cur: Any) -> dict[str, dict[str, tuple[bool, int | None]]]:
        """Configured table name -> {column: (nullable, most characters or None)}."""
        raise NotImplementedError

    def _load_unique(self, cur: Any) -> dict[str, set[str]]:
        """Configured table name -> the columns that are, alone, its primary key or unique."""
        raise NotImplementedError

    def _stream(self, statement: Any, params: list[Any]) -> Iterator[tuple[Sequence[str], Sequence[Sequence[Any]]]]:
        """(column names, a batch of rows as tuples) from a server-side cursor, a batch at a time."""
        raise NotImplementedError

    def _translate(self, exc: Exception) -> ConnectorError:
        raise NotImplementedError

    # -- plumbing ----------------------------------------------------------------------
    def error(self, message: str, *, permanent: bool) -> ConnectorError:
        return ConnectorError(f"system {self.name!r} ({self.key}): {message}", permanent=permanent)

    def validate(self) -> None:
        if not isinstance(self.secrets.get("dsn"), str) or not self.secrets["dsn"]:
            raise self.config_error("secrets.dsn is required")
        try:
            self.layout = parse_config(self.config, self.secrets, allow_schema=self.allow_schema)
        except ConfigProblem as exc:
            raise self.config_error(str(exc)) from None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):  # already gone: nothing left to release
                conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor in one transaction on the reused connection; driver errors translated."""
        try:
            if self._conn is None or not self._alive(self._conn):
                self.close()
                self._conn = self._connect()
            conn = self._conn
            cur = conn.cursor()
            try:
                yield cur
                conn.commit()
            except BaseException:
                with suppress(Exception):
                    conn.rollback()
                raise
            finally:
                cur.close()
        except self.driver_errors as exc:
            error = self._translate(exc)
            if not error.permanent:
                self.close()  # a broken connection is not reused
            if doing := getattr(exc, "dsr_doing", ""):  # the table and columns it was changing
                error = ConnectorError(f"{error.message}, while {doing}", permanent=error.permanent)
            raise error from None  # the driver's text may quote identifiers: keep it out of logs

    @contextmanager
    def _doing(self, what: str) -> Iterator[None]:
        """Statements that change ``what``: a driver error raised in them says so."""
        try:
            yield
        except self.driver_errors as exc:
            exc.dsr_doing = what  # type: ignore[attr-defined]  # read by _transaction
            raise

    def _schema(self, cur: Any) -> dict[str, dict[str, str]]:
        """Column types, loaded once per connector after checking every configured name."""
        if self._types is None:
            found = self._load_columns(cur)
            for table, columns in self.layout.required_columns().items():
                if table not in found:
                    raise self.config_error(f"table {table} does not exist")
                for column in columns:
                    if column not in found[table]:
                        raise self.config_error(f"table {table} has no column {column}")
            self._types = found
        return self._types

    # -- whose rows --------------------------------------------------------------------
    def _match(self, spec: TableSpec, subjects: Sequence[Subject]) -> tuple[Any, list] | None:
        """A query of ``(i, k)``: key ``k`` of each row of ``spec`` belonging to subject ``i``."""
        d = self.dialect
        if spec.via is None:
            types, parts, params = (self._types or {}).get(spec.table, {}), [], []
            for kind, column in spec.identifiers.items():
                given = [
                    (i, s.get(kind)) for i, s in enumerate(subjects) if s.get(kind) is not None
                ]
                typed = [(i, coerce(value, types.get(column, ""))) for i, value in given]
                if rows := [(i, value) for i, value in typed if value is not NO_MATCH]:
                    names = (d.ident(spec.table), d.ident(spec.key), d.ident(column))
                    part, values = d.root_match(*names, rows)
                    parts.append(part)
                    params += values
            return (d.join(" UNION ALL ", parts), params) if parts else None
        parent = self.layout.spec(spec.via.parent)
        if (inner := self._match(parent, subjects)) is None:
            return None
        statement = d.sql(
            "SELECT _m.i AS i, _c.{} AS k FROM {} AS _c JOIN {} AS _p ON _c.{} = _p.{} "
            "JOIN ({}) AS _m ON _m.k = _p.{}",
            d.ident(spec.key), d.ident(spec.table), d.ident(parent.table),
            d.ident(spec.via.column), d.ident(spec.via.parent_column), inner[0],
            d.ident(parent.key),
        )  # fmt: skip
        return statement, inner[1]

    def _owners(self, cur: Any, spec: TableSpec, subjects: Sequence[Subject]) -> dict[Any, int]:
        """Row key -> index of its subject; a row that two subjects share goes to the first."""
        if (match := self._match(spec, subjects)) is None:
            return {}
        cur.execute(self.dialect.sql("SELECT DISTINCT _x.i, _x.k FROM ({}) AS _x", match[0]),
                    match[1])  # fmt: skip
        owners: dict[Any, int] = {}
        for i, key in cur.fetchall():
            owners[key] = min(i, owners.get(key, i))
        return owners

    def _select_mine(
        self, spec: TableSpec, subject: Subject, what: Any, tail: str, *tail_parts: Any
    ) -> tuple[Any, list[Any]] | None:
        """``SELECT <what> FROM <table> AS _t <the subject's rows> <tail>``; None: no rows."""
        if (match := self._match(spec, [subject])) is None:
            return None
        d = self.dialect
        # The template is constant; its parts are identifiers from the dialect's ident() and
        # queries built the same way, with every value passed as a parameter.
        template = "SELECT {} FROM {} AS _t WHERE _t.{} IN (SELECT _x.k FROM ({}) AS _x) " + tail  # nosec B608
        parts = (what, d.ident(spec.table), d.ident(spec.key), match[0], *tail_parts)
        return d.sql(template, *parts), match[1]

    # -- actions -----------------------------------------------------------------------
    def _erase_problems(self, cur: Any) -> list[str]:
        """What the first erasure would fail on, though every configured column exists."""
        limits, unique, problems = self._load_limits(cur), self._load_unique(cur), []
        for spec in self.layout.tables:
            if spec.key not in unique.get(spec.table, set()):
                problems.append(
                    f"table {spec.table}: its key {spec.key} is neither its primary key nor unique, "
                    "so its rows cannot be told apart (set key: to a column that is)"
                )
            for column, rule in spec.mask.items():
                nullable, most = limits.get(spec.table, {}).get(column, (True, None))
                if rule.kind == "null" and not nullable:
                    problems.append(
                        f"table {spec.table}: erase masks {column} with null, but the column is NOT NULL "
                        "(mask it with a fixed value or hash)"
                    )
                size = 64 if rule.kind == "hash" else len(str(rule.value)) if rule.kind == "fixed" else 0
                if most is not None and size > most:
                    what = "a hash (64 characters)" if rule.kind == "hash" else f"a fixed value of {size} characters"
                    problems.append(
                        f"table {spec.table}: erase masks {column} with {what}, but the column holds at most {most}"
                    )
        return problems

    def _check_erasable(self, cur: Any) -> None:
        """Refuse, naming table and column, what the erasure would fail on (once per connector)."""
        if not self._erasable:
            if problems := self._erase_problems(cur):
                raise self.config_error("; ".join(problems))
            self._erasable = True

    def check(self) -> None:
        self._types, self._erasable = None, False
        with self._transaction() as cur:
            self._schema(cur)
            self._check_erasable(cur)

    def locate(self, subject: Subject, *, job: JobContext | None = None) -> LocateResult:
        d, result = self.dialect, LocateResult()
        with self._transaction() as cur:
            self._schema(cur)
            for spec in self.layout.tables:
                owners = self._owners(cur, spec, [subject])
                n = len(self._holding(cur, spec, owners))  # the same count erase starts from
                result.found += n
                _bump(result.by_category, spec.category, n)
            for kind in self.layout.identity_fields:
                for spec in self.layout.tables:
                    if kind in result.identifiers or (column := spec.identifiers.get(kind)) is None:
                        continue
                    col, key = d.ident(column), d.ident(spec.key)
                    tail = "AND _t.{} IS NOT NULL ORDER BY _t.{} LIMIT 1"
                    if query := self._select_mine(
                        spec, subject, d.sql("_t.{}", col), tail, col, key
                    ):
                        cur.execute(*query)
                        if row := cur.fetchone():
                            result.identifiers[kind] = str(json_value(row[0]))
        return result

    def export(self, subject: Subject, *, job: JobContext | None = None) -> Iterator[Record]:
        with self._transaction() as cur:
            self._schema(cur)
            for spec in self.layout.tables:
                what, key = self.dialect.sql("_t.*"), self.dialect.ident(spec.key)
                if (query := self._select_mine(spec, subject, what, "ORDER BY _t.{}", key)) is None:
                    continue
                with closing(self._stream(*query)) as batches:
                    for names, rows in batches:
                        for row in rows:
                            fields = {k: v if (t := type(v)) in _JSON_NATIVE else AS_TEXT.get(t, json_value)(v)
                                      for k, v in zip(names, row)}
                            yield Record(self.name, spec.category, fields)

    def erase(self, subject: Subject, *, job: JobContext | None = None) -> Receipt:
        return self.erase_many([subject])[subject.request_id]

    def erase_many(self, subjects: Iterable[Subject]) -> dict[str, Receipt]:
        """Per chunk of subjects a few statements per table, all in one transaction."""
        subjects = list(subjects)
        receipts = {s.request_id: Receipt(Action.ERASE, detail={"tables": {}}) for s in subjects}
        if subjects:
            with self._transaction() as cur:
                self._schema(cur)
                self._check_erasable(cur)
                for chunk in chunked(subjects):
                    for spec in self.layout.erase_order:
                        self._erase_table(cur, spec, chunk, [receipts[s.request_id] for s in chunk])
        return receipts

    def _erase_table(
        self, cur: Any, spec: TableSpec, chunk: Sequence[Subject], receipts: list[Receipt]
    ) -> None:
        d = self.dialect
        owners = self._owners(cur, spec, chunk)
        if spec.mode == "delete":
            with self._doing(f"deleting from table {spec.table}"):
                for part in chunked(list(owners)):
                    where, params = d.in_list(d.ident(spec.key), part)
                    cur.execute(d.sql("DELETE FROM {} WHERE {}", d.ident(spec.table), where), params)
            changed, after = list(owners), Counter[int]()
        else:
            with self._doing(f"masking table {spec.table} (columns {', '.join(spec.mask)})"):
                changed = self._mask(cur, spec, list(owners))
            after = Counter(self._holding(cur, spec, self._owners(cur, spec, chunk)).values())
        # before: the rows that held the person's data, which are the rows changed
        before = done = Counter(owners[key] for key in changed)
        for i, receipt in enumerate(receipts):
            receipt.affected += done[i]
            _bump(receipt.by_category, spec.category, done[i])
            entry = receipt.detail["tables"].setdefault(
                spec.category, {"mode": spec.mode, "before": 0, "after": 0}
            )
            if entry["mode"] != spec.mode:  # two tables share the category
                entry["mode"] = "mixed"
            entry["before"] += before[i]
            entry["after"] += after[i]

    def _holding(self, cur: Any, spec: TableSpec, owners: dict[Any, int]) -> dict[Any, int]:
        """The rows of ``owners`` that still hold the person's data.

        A masked row stays in its table and may still be found by its key (a learned
        ``customer_id``), but it holds nothing left to erase: only rows the mask would
        change count, so the check after an erasure finds nothing.
        """
        if spec.mode != "mask" or not owners:
            return owners
        return {key: owners[key] for key, _ in self._unmasked(cur, spec, list(owners))}

    def _unmasked(
        self, cur: Any, spec: TableSpec, keys: list[Any], *, lock: bool = False
    ) -> list[tuple[Any, list[Any]]]:
        """``(key, masked values)`` of the rows with these keys that the mask would change."""
        d, columns, hash_key = self.dialect, list(spec.mask), self.secrets.get("hash_key", "")
        table, key, names = d.ident(spec.table), d.ident(spec.key), [d.ident(c) for c in columns]
        unmasked: list[tuple[Any, list[Any]]] = []
        for part in chunked(keys):
            where, params = d.in_list(key, part)
            lock_clause = " FOR UPDATE" if lock else ""
            # A constant template filled with identifiers from ident(); the keys are parameters.
            select = "SELECT {}, {} FROM {} WHERE {}" + lock_clause  # nosec B608
            cur.execute(d.sql(select, key, d.join(", ", names), table, where), params)
            for row_key, *old in cur.fetchall():
                new = [spec.mask[c].apply(o, hash_key) for c, o in zip(columns, old, strict=True)]
                if not all(map(_same, old, new)):
                    unmasked.append((row_key, new))
        return unmasked

    def _mask(self, cur: Any, spec: TableSpec, keys: list[Any]) -> list[Any]:
        """Mask the rows with these keys; returns the keys of the rows that really changed."""
        d, columns = self.dialect, list(spec.mask)
        table, key, names = d.ident(spec.table), d.ident(spec.key), [d.ident(c) for c in columns]
        changed = self._unmasked(cur, spec, keys, lock=True)
        for part in chunked(changed):
            sets, params = [], []
            for index, (column, name) in enumerate(zip(columns, names, strict=True)):
                rule = spec.mask[column]
                if rule.kind == "hash":  # a value per row
                    cases = d.join(" ", [d.sql("WHEN %s THEN %s")] * len(part))
                    sets.append(d.sql("{} = CASE {} {} ELSE {} END", name, key, cases, name))
                    params += [x for row_key, new in part for x in (row_key, new[index])]
                else:
                    sets.append(d.sql("{} = %s", name))
                    params.append(rule.value)
            where, values = d.in_list(key, [row_key for row_key, _ in part])
            update = d.sql("UPDATE {} SET {} WHERE {}", table, d.join(", ", sets), where)
            cur.execute(update, params + values)
        return [row_key for row_key, _ in changed]

    def rectify(
        self, subject: Subject, changes: Mapping[str, Any], *, job: JobContext | None = None
    ) -> Receipt:
        allowed = {column for spec in self.layout.tables for column in spec.rectify}
        fields = [c for c in changes if c in allowed]
        ignored = sorted(str(c) for c in changes if c not in allowed)
        receipt = Receipt(Action.RECTIFY, detail={"fields": fields, "ignored": ignored})
        if not fields:
            return receipt
        d = self.dialect
        with self._transaction() as cur:
            self._schema(cur)
            for spec in self.layout.erase_order:  # children first: they are found via parents
                if not (columns := [c for c in fields if c in spec.rectify]):
                    continue
                sets = d.join(", ", [d.sql("{} = %s", d.ident(c)) for c in columns])
                for part in chunked(list(self._owners(cur, spec, [subject]))):
                    where, params = d.in_list(d.ident(spec.key), part)
                    update = d.sql("UPDATE {} SET {} WHERE {}", d.ident(spec.table), sets, where)
                    with self._doing(f"correcting table {spec.table} (columns {', '.join(columns)})"):
                        cur.execute(update, [changes[c] for c in columns] + params)
                    receipt.affected += cur.rowcount
                    _bump(receipt.by_category, spec.category, cur.rowcount)
        return receipt
