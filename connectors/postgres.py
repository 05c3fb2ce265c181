"""PostgreSQL: the table tree of ``connectors.sql`` over psycopg 3.

Names are composed only with ``psycopg.sql``; values are always parameters. Exports
stream through a named (server-side) cursor so a person with many rows never sits
in memory whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from .base import ConnectorError
from .sql import SQLConnector
from .sql_layout import QUALIFIED_RE

CONNECT_TIMEOUT = 5
# Connection failures that retrying will not cure: a refused credential, a missing database.
PERMANENT_CONNECT = (
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
    "no password supplied",
)
# SQLSTATE classes whose primary message names tables, columns or constraints, never values.
SAFE_CLASSES = ("0A", "23", "25", "42")
SAFE_STATES = ("22001",)  # "value too long for type character varying(5)": the type, not the value


class PostgresDialect:
    def ident(self, name: str) -> sql.Composable:
        if not QUALIFIED_RE.match(name):  # validated already; a second guard costs nothing
            raise ValueError(f"not a plain SQL name: {name!r}")
        return sql.Identifier(*name.split("."))

    def sql(self, template: str, *parts: Any) -> sql.Composable:
        return sql.SQL(template).format(*parts)  # type: ignore[arg-type]  # templates are constants

    def join(self, separator: str, parts: Iterable[Any]) -> sql.Composable:
        return sql.SQL(separator).join(parts)  # type: ignore[arg-type]

    def in_list(self, column: Any, values: Sequence[Any]) -> tuple[Any, list[Any]]:
        return sql.SQL("{} = ANY(%s)").format(column), [list(values)]

    def root_match(
        self, table: Any, key: Any, column: Any, rows: Sequence[tuple[int, Any]]
    ) -> tuple[Any, list[Any]]:
        values = sql.SQL(", ").join([sql.SQL("(%s, %s)")] * len(rows))
        statement = sql.SQL(
            "SELECT _v.i AS i, _t.{} AS k FROM {} AS _t "
            "JOIN (VALUES {}) AS _v(i, v) ON _t.{} = _v.v"
        ).format(key, table, values, column)
        return statement, [x for row in rows for x in row]


class PostgresConnector(SQLConnector):
    key = "postgres"
    allow_schema = True
    dialect = PostgresDialect()
    driver_errors = (psycopg.Error,)

    _cursor_names = itertools.count(1)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.secrets["dsn"],
            connect_timeout=CONNECT_TIMEOUT,
            application_name="dsr",
            autocommit=False,
        )

    def _alive(self, conn: psycopg.Connection[Any]) -> bool:
        return not conn.closed and not conn.broken

    def _configured(self, cur: psycopg.Cursor[Any], found: dict[tuple[str, str], Any]) -> dict[str, Any]:
        """Each configured table's entry of ``found`` (keyed by schema and name), by the search path."""
        cur.execute("SELECT current_schemas(false)")
        search_path = cur.fetchone()[0]
        result: dict[str, Any] = {}
        for spec in self.layout.tables:
            schema, _, name = spec.table.rpartition(".")
            for candidate in [schema] if schema else search_path:
                if (candidate, name) in found:
                    result[spec.table] = found[(candidate, name)]
                    break
        return result

    def _names(self) -> list[str]:
        return sorted({spec.table.rpartition(".")[2] for spec in self.layout.tables})

    def _load_columns(self, cur: psycopg.Cursor[Any]) -> dict[str, dict[str, str]]:
        cur.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns WHERE table_name = ANY(%s) ORDER BY ordinal_position",
            [self._names()],
        )
        found: dict[tuple[str, str], dict[str, str]] = {}
        for schema, table, column, data_type in cur.fetchall():
            found.setdefault((schema, table), {})[column] = data_type
        return self._configured(cur, found)

    def _load_limits(self, cur: psycopg.Cursor[Any]) -> dict[str, dict[str, tuple[bool, int | None]]]:
        cur.execute(
            "SELECT table_schema, table_name, column_name, is_nullable, character_maximum_length "
            "FROM information_schema.columns WHERE table_name = ANY(%s)",
            [self._names()],
        )
        found: dict[tuple[str, str], dict[str, tuple[bool, int | None]]] = {}
        for schema, table, column, nullable, most in cur.fetchall():
            found.setdefault((schema, table), {})[column] = (nullable == "YES", most)
        return self._configured(cur, found)

    def _load_unique(self, cur: psycopg.Cursor[Any]) -> dict[str, set[str]]:
        # Unique indexes on one column (a primary key has one), not partial, not on an expression.
        cur.execute(
            "SELECT n.nspname, c.relname, a.attname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
            "WHERE i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL "
            "AND c.relname = ANY(%s)",
            [self._names()],
        )
        found: dict[tuple[str, str], set[str]] = {}
        for schema, table, column in cur.fetchall():
            found.setdefault((schema, table), set()).add(column)
        return self._configured(cur, found)

    def _stream(self, statement: Any, params: list[Any]) -> Iterator[tuple[Sequence[str], Sequence[Sequence[Any]]]]:
        name = f"dsr_export_{next(self._cursor_names)}"
        with self._conn.cursor(name=name) as cur:
            cur.execute(statement, params)
            names = [column.name for column in cur.description or ()]
            while rows := cur.fetchmany(self.stream_batch):
                yield names, rows
                if len(rows) < self.stream_batch:  # the last batch: no round trip to hear there is no more
                    break

    def _translate(self, exc: Exception) -> ConnectorError:
        """A short message without the DSN or any value; retry only what may pass later."""
        sqlstate = getattr(exc, "sqlstate", None) or ""
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            if not sqlstate:  # libpq itself: connecting failed or the connection dropped
                reason = str(exc).splitlines()[0].rpartition("failed: ")[2].replace("FATAL:  ", "")
                reason = reason.replace(self.secrets["dsn"], "<dsn>") or type(exc).__name__
                permanent = any(words in reason for words in PERMANENT_CONNECT)
                return self.error(
                    f"cannot connect to the database server: {reason}", permanent=permanent
                )
            return self.error(
                f"database busy or unavailable ({type(exc).__name__}, {sqlstate})", permanent=False
            )
        primary = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
        safe = sqlstate[:2] in SAFE_CLASSES or sqlstate in SAFE_STATES
        detail = f": {primary}" if primary and safe else ""
        return self.error(
            f"{type(exc).__name__} ({sqlstate or 'no SQLSTATE'}){detail}", permanent=True
        )
