"""The PostgreSQL connector against a real scratch database (no Django database needed).

The behaviour both SQL backends share is tested in ``sql_contract.py``; this module adds
the scratch database, the ``uuid`` column and what only PostgreSQL does.
"""

from __future__ import annotations

import os
import secrets
import uuid
from typing import Any, ClassVar

import psycopg
import pytest
from psycopg import sql

from connectors.base import ConnectorError
from connectors.postgres import PostgresConnector

from .sql_contract import ALICE, Shop, SQLConnectorContract, edited

# The server, without a database; the tests create and drop their own database on it.
SERVER = os.environ.get("DSR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
REF = uuid.UUID("6f1c1c9e-9a65-4c35-8d1e-1d2b6a0c0f11")

SCHEMA = """
CREATE TABLE customer (
    id integer PRIMARY KEY, email text, name text, address text, phone text,
    created_on date, avatar bytea
);
CREATE TABLE orders (
    id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customer (id),
    total numeric(10, 2), placed_at timestamp, ref uuid
);
CREATE TABLE order_items (
    id integer PRIMARY KEY, order_id integer NOT NULL REFERENCES orders (id), sku text
);
CREATE TABLE tickets (id integer PRIMARY KEY, email text, body text);
CREATE TABLE members (
    id integer PRIMARY KEY, email varchar(100) NOT NULL, nickname varchar(5), phone varchar(20),
    age integer
);
CREATE TABLE visits (id integer, email text);
"""


@pytest.fixture(scope="module")
def dsn(service_down):
    """A scratch database with a random name, dropped at the end of the module."""
    try:
        admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        service_down(f"PostgreSQL ({SERVER.rpartition('@')[2]})", exc)
    name = f"dsr_conn_pg_{secrets.token_hex(6)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(f"{SERVER}/{name}", autocommit=True) as conn:
            conn.execute(SCHEMA)
        yield f"{SERVER}/{name}"
    finally:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


class TestPostgresConnector(SQLConnectorContract):
    connector_class = PostgresConnector
    kind = "postgres"
    unused_dsn = "postgresql://postgres@127.0.0.1:5432/unused"  # for tests that never connect
    unreachable_dsn = "postgresql://postgres:s3cret@127.0.0.1:1/shop"
    clear = ("TRUNCATE order_items, orders, customer, tickets",)
    orders: ClassVar[list[tuple]] = [
        (10, 1, "12.50", "2024-02-01 10:30:00", REF),
        (11, 1, "99.99", None, None),
        (20, 2, "5.00", None, None),
    ]
    alice_orders: ClassVar[list[dict[str, Any]]] = [
        {
            "id": 10,
            "customer_id": 1,
            "total": "12.50",
            "placed_at": "2024-02-01T10:30:00",
            "ref": str(REF),
        },
        {"id": 11, "customer_id": 1, "total": "99.99", "placed_at": None, "ref": None},
    ]

    def connect(self, dsn: str) -> psycopg.Connection:
        return psycopg.connect(dsn, autocommit=True)

    def select_all(self, table: str) -> sql.Composable:
        return sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(table))

    def insert_bulk_orders(self, shop: Shop, customer_id: int, ids: range) -> None:
        shop.execute(
            "INSERT INTO orders (id, customer_id, total) "
            "SELECT g, %s, 1.00 FROM generate_series(%s::integer, %s::integer) AS g",
            [customer_id, ids.start, ids.stop - 1],
        )

    def assert_still_streaming(self, connector: PostgresConnector) -> None:
        """The export reads through a named (server-side) cursor that is still open."""
        open_cursors = connector._conn.execute("SELECT name FROM pg_cursors").fetchall()
        assert [name for (name,) in open_cursors if name.startswith("dsr_export_")]

    # -- PostgreSQL only ---------------------------------------------------------------------
    def test_an_error_while_erasing_names_the_table_and_its_columns(self, shop, make):
        """A failure check() cannot foresee (a text into a number) says where it happened."""
        shop.execute("INSERT INTO members (id, email, age) VALUES (1, 'alice@example.com', 30)")
        config = {"tables": [{"table": "members", "identifiers": {"email": "email"},
                              "erase": {"mode": "mask", "fields": {"age": {"fixed": "unknown"}}}}]}
        with pytest.raises(ConnectorError) as caught:
            make(config).erase(ALICE)
        assert caught.value.message == (
            "system 'shop' (postgres): InvalidTextRepresentation (22P02), "
            "while masking table members (columns age)"
        )
        assert "alice" not in caught.value.message
        shop.execute("DELETE FROM members")

    def test_a_value_too_long_names_the_type_table_and_columns_never_the_value(self, shop, make):
        shop.execute("INSERT INTO members (id, email, nickname) VALUES (1, 'alice@example.com', 'al')")
        config = {"tables": [{"table": "members", "identifiers": {"email": "email"}, "erase": {"mode": "delete"},
                              "rectify": ["nickname"]}]}
        with pytest.raises(ConnectorError) as caught:
            make(config).rectify(ALICE, {"nickname": "Alice Longname"})
        assert caught.value.message == (
            "system 'shop' (postgres): StringDataRightTruncation (22001): value too long for type "
            "character varying(5), while correcting table members (columns nickname)"
        )
        shop.execute("DELETE FROM members")


    def test_a_schema_qualified_table_is_allowed(self, shop, make):
        config = edited(lambda c: c["tables"][3].update(table="public.tickets"))
        assert make(config).locate(ALICE).by_category["support"] == 1
