"""The MySQL/MariaDB connector against a real scratch database (no Django database needed).

The behaviour both SQL backends share is tested in ``sql_contract.py``; this module adds
the scratch database and what only MySQL/MariaDB does (plain names only, the DSN
schemes, case-insensitive collations, the unbuffered cursor).
"""

from __future__ import annotations

import os
import secrets
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pymysql
import pytest

from connectors.base import ConnectorError, Subject
from connectors.mysql import MySQLConnector

from .sql_contract import NOBODY, Shop, SQLConnectorContract, edited

# The server, without a database; the tests create and drop their own database on it.
_URL = urlsplit(os.environ.get("DSR_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"))
SERVER = {
    "host": _URL.hostname or "127.0.0.1",
    "port": _URL.port or 3306,
    "user": _URL.username or "root",
    "password": _URL.password or "",
}
UNUSED = "mysql://root@127.0.0.1:3306/unused"  # for tests that never connect

SCHEMA = [
    """CREATE TABLE customer (
        id INT PRIMARY KEY, email VARCHAR(200), name VARCHAR(200), address VARCHAR(200),
        phone VARCHAR(100), created_on DATE, avatar VARBINARY(16)
    ) ENGINE=InnoDB""",
    """CREATE TABLE orders (
        id INT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10, 2), placed_at DATETIME,
        FOREIGN KEY (customer_id) REFERENCES customer (id)
    ) ENGINE=InnoDB""",
    """CREATE TABLE order_items (
        id INT PRIMARY KEY, order_id INT NOT NULL, sku VARCHAR(50),
        FOREIGN KEY (order_id) REFERENCES orders (id)
    ) ENGINE=InnoDB""",
    "CREATE TABLE tickets (id INT PRIMARY KEY, email VARCHAR(200), body TEXT) ENGINE=InnoDB",
    """CREATE TABLE members (
        id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, nickname VARCHAR(5), phone VARCHAR(20), age INT
    ) ENGINE=InnoDB""",
    "CREATE TABLE visits (id INT, email VARCHAR(200)) ENGINE=InnoDB",
]


def connect(database: str | None = None) -> pymysql.connections.Connection:
    return pymysql.connect(
        **SERVER, database=database, autocommit=True, connect_timeout=3, charset="utf8mb4"
    )


@pytest.fixture(scope="module")
def dsn(service_down):
    """A scratch database with a random name, dropped at the end of the module."""
    try:
        admin = connect()
    except pymysql.err.OperationalError as exc:
        service_down(f"MySQL/MariaDB ({SERVER['host']}:{SERVER['port']})", exc)
    name = f"dsr_conn_my_{secrets.token_hex(6)}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        with connect(name) as conn, conn.cursor() as cur:
            for statement in SCHEMA:
                cur.execute(statement)
        password = f":{SERVER['password']}" if SERVER["password"] else ""
        yield f"mysql://{SERVER['user']}{password}@{SERVER['host']}:{SERVER['port']}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE `{name}`")
        admin.close()


class TestMySQLConnector(SQLConnectorContract):
    connector_class = MySQLConnector
    kind = "mysql"
    unused_dsn = UNUSED
    unreachable_dsn = "mysql://root:s3cret@127.0.0.1:1/shop"
    clear = tuple(f"DELETE FROM {t}" for t in ("order_items", "orders", "customer", "tickets"))
    orders: ClassVar[list[tuple]] = [
        (10, 1, "12.50", "2024-02-01 10:30:00"),
        (11, 1, "99.99", None),
        (20, 2, "5.00", None),
    ]
    alice_orders: ClassVar[list[dict[str, Any]]] = [
        {"id": 10, "customer_id": 1, "total": "12.50", "placed_at": "2024-02-01T10:30:00"},
        {"id": 11, "customer_id": 1, "total": "99.99", "placed_at": None},
    ]

    def connect(self, dsn: str) -> pymysql.connections.Connection:
        return connect(dsn.rpartition("/")[2])

    def select_all(self, table: str) -> str:
        return f"SELECT * FROM `{table}` ORDER BY id"

    def insert_bulk_orders(self, shop: Shop, customer_id: int, ids: range) -> None:
        # Only placeholders in VALUES, so PyMySQL sends multi-row INSERTs, not 20,000 statements.
        shop.executemany(
            "INSERT INTO orders (id, customer_id, total) VALUES (%s, %s, %s)",
            [(n, customer_id, "1.00") for n in ids],
        )

    def assert_still_streaming(self, connector: MySQLConnector) -> None:
        """The export reads through an unbuffered cursor that is still reading from the server."""
        result = connector._conn._result  # PyMySQL's pending result
        assert result is not None and result.unbuffered_active

    # -- MySQL/MariaDB only ------------------------------------------------------------------
    def test_a_schema_qualified_table_is_refused(self, make):
        with pytest.raises(ConnectorError, match="'shop.tickets' is not a plain SQL name"):
            make(edited(lambda c: c["tables"][3].update(table="shop.tickets")), dsn=UNUSED)

    def test_a_dsn_that_is_not_a_mysql_url_is_refused(self, make):
        with pytest.raises(ConnectorError, match="secrets.dsn must look like mysql://") as caught:
            make(dsn="postgresql://root:s3cret@127.0.0.1/shop")
        assert "s3cret" not in caught.value.message

    def test_erase_matches_like_the_column_collation_does(self, shop, make):
        """MySQL compares text case-insensitively; the batch attributes rows the same way."""
        shouting = Subject("req-shout", {"email": "ALICE@EXAMPLE.COM"})
        assert make().locate(shouting).found == 7
        batch = make().erase_many([NOBODY, shouting])
        assert batch["req-shout"].affected == 7 and batch["req-nobody"].affected == 0
