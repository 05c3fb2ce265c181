"""MySQL and MariaDB: the table tree of ``connectors.sql`` over PyMySQL.

PyMySQL has no identifier composer, so names are backtick-quoted only after the
plain-name check; values are always parameters. Exports stream through an
unbuffered ``SSDictCursor``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql
import pymysql.cursors
from pymysql.constants import CLIENT

from .base import ConnectorError
from .sql import SQLConnector
from .sql_layout import NAME_RE

CONNECT_TIMEOUT = 5
SCHEMES = ("mysql", "mariadb", "mysql+pymysql")
# Connection trouble, lock waits and deadlocks pass with time; everything else does not.
TRANSIENT = frozenset({1040, 1053, 1205, 1213, 1927, 2002, 2003, 2005, 2006, 2013, 2055, 4031})
# Errors whose message names tables, columns, users or constraints, never a value
# (a syntax error quotes the statement, which holds the interpolated values).
SAFE_MESSAGES = frozenset(
    {1044, 1045, 1048, 1049, 1054, 1142, 1143, 1146, 1205, 1213, 1406, 1451, 1452, 2003, 2006, 2013}
)


def parse_dsn(dsn: str) -> dict[str, Any]:
    """``mysql://user:password@host:3306/database`` as PyMySQL keyword arguments."""
    parts = urlsplit(dsn)
    database = unquote(parts.path.lstrip("/"))
    if parts.scheme not in SCHEMES or not parts.hostname or not database:
        raise ValueError("secrets.dsn must look like mysql://user:password@host:3306/database")
    return {
        "host": parts.hostname,
        "port": parts.port or 3306,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": database,
    }


class MySQLDialect:
    def ident(self, name: str) -> str:
        if not NAME_RE.match(name):  # validated already; the quoting relies on it
            raise ValueError(f"not a plain SQL name: {name!r}")
        return f"`{name}`"

    def sql(self, template: str, *parts: Any) -> str:
        return template.format(*parts)

    def join(self, separator: str, parts: Iterable[Any]) -> str:
        return separator.join(parts)

    def in_list(self, column: Any, values: Sequence[Any]) -> tuple[Any, list[Any]]:
        return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)

    def root_match(
        self, table: Any, key: Any, column: Any, rows: Sequence[tuple[int, Any]]
    ) -> tuple[Any, list[Any]]:
        # No derived table of values to join: its collation handling differs between MySQL
        # and MariaDB. The IN list finds the rows (one index range or one scan) and CASE
        # names the first subject whose value matches; both compare column = literal with
        # the column's collation, exactly as for a single subject.
        cases = " ".join([f"WHEN _t.{column} = %s THEN %s"] * len(rows))
        marks = ", ".join(["%s"] * len(rows))
        statement = (
            # Not injectable: table, key and column come quoted from ident(), which checks them
            # against NAME_RE; every value is a %s parameter.
            f"SELECT CASE {cases} END AS i, _t.{key} AS k FROM {table} AS _t "  # nosec B608
            f"WHERE _t.{column} IN ({marks})"
        )
        return statement, [x for i, v in rows for x in (v, i)] + [v for _, v in rows]


class MySQLConnector(SQLConnector):
    key = "mysql"
    dialect = MySQLDialect()
    driver_errors = (pymysql.err.Error,)

    def validate(self) -> None:
        super().validate()
        try:
            self._params = parse_dsn(self.secrets["dsn"])
        except ValueError as exc:
            raise self.config_error(str(exc)) from None

    def _connect(self) -> pymysql.connections.Connection:
        return pymysql.connect(
            **self._params,
            connect_timeout=CONNECT_TIMEOUT,
            charset="utf8mb4",
            autocommit=False,
            client_flag=CLIENT.FOUND_ROWS,  # rowcount = rows matched, as on PostgreSQL
        )

    def _alive(self, conn: pymysql.connections.Connection) -> bool:
        return bool(conn.open)

    def _load_columns(self, cur: pymysql.cursors.Cursor) -> dict[str, dict[str, str]]:
        columns: dict[str, dict[str, str]] = {}
        select = "SELECT table_name, column_name, data_type FROM information_schema.columns"
        for table, column, data_type in self._query_tables(cur, select, order="ORDER BY ordinal_position"):
            columns.setdefault(table, {})[column] = data_type.lower()
        return columns

    def _query_tables(self, cur: pymysql.cursors.Cursor, select: str, where: str = "", order: str = "") -> list[tuple]:
        """``select`` from information_schema for the configured tables of this database."""
        names = [spec.table for spec in self.layout.tables]
        cur.execute(  # not injectable: constant text and %s placeholders; the names are parameters
            f"{select} WHERE table_schema = DATABASE() {where}"  # nosec B608
            f"AND table_name IN ({', '.join(['%s'] * len(names))}) {order}",
            names,
        )
        return list(cur.fetchall())

    def _load_limits(self, cur: pymysql.cursors.Cursor) -> dict[str, dict[str, tuple[bool, int | None]]]:
        limits: dict[str, dict[str, tuple[bool, int | None]]] = {}
        select = "SELECT table_name, column_name, is_nullable, character_maximum_length FROM information_schema.columns"
        for table, column, nullable, most in self._query_tables(cur, select):
            limits.setdefault(table, {})[column] = (nullable == "YES", most)
        return limits

    def _load_unique(self, cur: pymysql.cursors.Cursor) -> dict[str, set[str]]:
        select = "SELECT table_name, index_name, column_name FROM information_schema.statistics"
        indexes: dict[tuple[str, str], list[str]] = {}
        for table, index, column in self._query_tables(cur, select, "AND non_unique = 0 "):
            indexes.setdefault((table, index), []).append(column)
        unique: dict[str, set[str]] = {}
        for (table, _), columns in indexes.items():
            if len(columns) == 1:  # a key on one column; a composite one does not make it unique
                unique.setdefault(table, set()).add(columns[0])
        return unique

    def _stream(self, statement: Any, params: list[Any]) -> Iterator[tuple[Sequence[str], Sequence[Sequence[Any]]]]:
        cur = self._conn.cursor(pymysql.cursors.SSCursor)
        try:
            cur.execute(statement, params)
            names = [column[0] for column in cur.description or ()]
            while rows := cur.fetchmany(self.stream_batch):
                yield names, rows
                if len(rows) < self.stream_batch:  # the last batch: no round trip to hear there is no more
                    break
        finally:
            cur.close()

    def _translate(self, exc: Exception) -> ConnectorError:
        """A short message without the DSN or any value; retry only what may pass later."""
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        if isinstance(exc, pymysql.err.InterfaceError) or code in TRANSIENT:
            permanent = False
        else:
            permanent = True
        text = exc.args[1] if code in SAFE_MESSAGES and len(exc.args) > 1 else type(exc).__name__
        if code in (2002, 2003, 2005):
            message = f"cannot connect to the database server: {text}"
        elif isinstance(exc, pymysql.err.InterfaceError):
            message = "the connection to the database server was lost"
        else:
            message = f"MySQL error {code}: {text}" if code else text
        return self.error(message, permanent=permanent)
