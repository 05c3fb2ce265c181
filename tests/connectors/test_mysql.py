"""The MySQL/MariaDB connector against a real scratch database (no Django database needed)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import secrets
from typing import Any
from urllib.parse import urlsplit

import pymysql
import pytest

from connectors.base import ConnectorError, Receipt, Subject
from connectors.mysql import MySQLConnector

# The server, without a database; the tests create and drop their own database on it.
_URL = urlsplit(os.environ.get("DSR_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"))
SERVER = {
    "host": _URL.hostname or "127.0.0.1",
    "port": _URL.port or 3306,
    "user": _URL.username or "root",
    "password": _URL.password or "",
}
HASH_KEY = "test-hash-key"
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
]

CONFIG: dict[str, Any] = {
    "identity_fields": ["customer_id"],
    "tables": [
        {
            "table": "customer",
            "identifiers": {"email": "email", "customer_id": "id"},
            "erase": {
                "mode": "mask",
                "fields": {
                    "email": None,
                    "name": None,
                    "address": {"fixed": "REDACTED"},
                    "phone": "hash",
                },
            },
            "rectify": ["name", "address", "phone"],
        },
        {
            "table": "orders",
            "via": {"column": "customer_id", "parent": "customer", "parent_column": "id"},
            "erase": {"mode": "delete"},
        },
        {
            "table": "order_items",
            "via": {"column": "order_id", "parent": "orders"},
            "erase": {"mode": "delete"},
        },
        {
            "table": "tickets",
            "identifiers": {"email": "email"},
            "category": "support",
            "erase": {"mode": "delete"},
        },
    ],
}

ALICE = Subject("req-alice", {"email": "alice@example.com"})
BOB = Subject("req-bob", {"customer_id": "2"})
NOBODY = Subject("req-nobody", {"email": "nobody@example.com"})


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


class Shop:
    """An autocommit connection with psycopg-style ``execute(...).fetchone()`` for short asserts."""

    def __init__(self, conn: pymysql.connections.Connection) -> None:
        self.conn = conn

    def execute(self, statement: str, params: Any = None) -> pymysql.cursors.Cursor:
        cur = self.conn.cursor()
        cur.execute(statement, params)
        return cur

    def executemany(self, statement: str, rows: list[tuple]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(statement, rows)


def fill(shop: Shop) -> None:
    for table in ("order_items", "orders", "customer", "tickets"):
        shop.execute(f"DELETE FROM {table}")
    shop.executemany(
        "INSERT INTO customer VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            (1, "alice@example.com", "Alice", "1 Main St", "+49 111", "2024-01-31", b"\x01\xff"),
            (2, "bob@example.com", "Bob", "2 Side St", "+49 222", None, None),
            (3, "carol@example.com", "Carol", "3 Back St", None, None, None),
        ],
    )
    shop.executemany(
        "INSERT INTO orders VALUES (%s, %s, %s, %s)",
        [(10, 1, "12.50", "2024-02-01 10:30:00"), (11, 1, "99.99", None), (20, 2, "5.00", None)],
    )
    shop.executemany(
        "INSERT INTO order_items VALUES (%s, %s, %s)",
        [(100, 10, "SKU-A"), (101, 10, "SKU-B"), (102, 11, "SKU-C"), (200, 20, "SKU-BOB")],
    )
    shop.executemany(
        "INSERT INTO tickets VALUES (%s, %s, %s)",
        [
            (1000, "alice@example.com", "where is my parcel"),
            (2000, "bob@example.com", "refund please"),
        ],
    )


def snapshot(shop: Shop) -> dict[str, list[tuple]]:
    return {
        table: list(shop.execute(f"SELECT * FROM `{table}` ORDER BY id").fetchall())
        for table in ("customer", "orders", "order_items", "tickets")
    }


@pytest.fixture
def shop(dsn):
    """A direct connection to the scratch database, refilled for each test."""
    name = dsn.rpartition("/")[2]
    with connect(name) as conn:
        shop = Shop(conn)
        fill(shop)
        yield shop


@pytest.fixture
def make(request):
    """Connectors to the scratch database (or to ``dsn=``), closed after the test."""
    made = []

    def build(config: dict[str, Any] | None = None, **secret_overrides: str) -> MySQLConnector:
        dsn = secret_overrides.pop("dsn", None) or request.getfixturevalue("dsn")
        connector = MySQLConnector(
            name="shop",
            config=config or CONFIG,
            secrets={"dsn": dsn, "hash_key": HASH_KEY, **secret_overrides},
        )
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


def edited(change) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    change(config)
    return config


ALICE_ROWS = {
    "customer": {1},
    "orders": {10, 11},
    "order_items": {100, 101, 102},
    "tickets": {1000},
}


def others(state: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """Everyone's rows but Alice's."""
    return {
        table: [row for row in rows if row[0] not in ALICE_ROWS[table]]
        for table, rows in state.items()
    }


def digest(value: str) -> str:
    return hmac.new(HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


# -- configuration and reachability ---------------------------------------------------------
def test_check_passes_on_the_configured_tables(shop, make):
    make().check()


def test_check_names_a_missing_column(shop, make):
    config = edited(lambda c: c["tables"][0]["identifiers"].update(email="emial"))
    with pytest.raises(ConnectorError) as caught:
        make(config).check()
    assert caught.value.permanent
    assert caught.value.message == "system 'shop' (mysql): table customer has no column emial"


def test_check_names_a_missing_table(shop, make):
    config = edited(lambda c: c["tables"][3].update(table="ticket"))
    with pytest.raises(ConnectorError, match="table ticket does not exist") as caught:
        make(config).check()
    assert caught.value.permanent


def test_an_unreachable_server_is_a_transient_error(make):
    connector = make(dsn="mysql://root:s3cret@127.0.0.1:1/shop")
    with pytest.raises(ConnectorError) as caught:
        connector.check()
    assert not caught.value.permanent
    assert caught.value.message.startswith(
        "system 'shop' (mysql): cannot connect to the database server"
    )
    assert "s3cret" not in caught.value.message and "127.0.0.1:1/shop" not in caught.value.message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["tables"][1]["erase"].update(mode="shred"),
            "table orders: erase.mode must be delete or mask",
        ),
        (
            lambda c: c["tables"][1]["via"].update(parent="client"),
            "via.parent client is not a configured table",
        ),
        (
            lambda c: c["tables"][3].pop("identifiers"),
            "table tickets: give either identifiers or via",
        ),
        (
            lambda c: c["tables"][0].update(
                identifiers=None, via={"column": "id", "parent": "order_items"}
            ),
            "via forms a cycle",
        ),
        (
            lambda c: c["tables"][3].update(table='tickets"; DROP TABLE customer; --'),
            "is not a plain SQL name",
        ),
        (
            lambda c: c["tables"][0]["identifiers"].update(email="e-mail"),
            "'e-mail' is not a plain SQL name",
        ),
        (
            lambda c: c["tables"][0]["erase"]["fields"].update(id=None),
            "cannot mask the key column id",
        ),
        (lambda c: c.update(tables=[]), "tables must be a non-empty list"),
    ],
)
def test_validate_names_what_is_wrong(make, change, expected):
    with pytest.raises(ConnectorError, match=expected) as caught:
        make(edited(change), dsn=UNUSED)
    assert caught.value.permanent and caught.value.message.startswith("system 'shop' (mysql): ")


def test_validate_wants_a_hash_key_for_a_hash_mask(make):
    with pytest.raises(ConnectorError, match="hash mask needs secrets.hash_key"):
        MySQLConnector(name="shop", config=CONFIG, secrets={"dsn": "mysql://x@h/db"})


def test_a_schema_qualified_table_is_refused(make):
    with pytest.raises(ConnectorError, match="'shop.tickets' is not a plain SQL name"):
        make(edited(lambda c: c["tables"][3].update(table="shop.tickets")), dsn=UNUSED)


def test_a_dsn_that_is_not_a_mysql_url_is_refused(make):
    with pytest.raises(ConnectorError, match="secrets.dsn must look like mysql://") as caught:
        make(dsn="postgresql://root:s3cret@127.0.0.1/shop")
    assert "s3cret" not in caught.value.message


# -- locate and export --------------------------------------------------------------------------
def test_locate_counts_per_category_and_learns_the_customer_id(shop, make):
    result = make().locate(ALICE)
    assert result.by_category == {"customer": 1, "orders": 2, "order_items": 3, "support": 1}
    assert result.found == 7
    assert result.identifiers == {"customer_id": "1"}


def test_locate_finds_nothing_for_a_stranger(shop, make):
    result = make().locate(NOBODY)
    assert (result.found, result.by_category, result.identifiers) == (0, {}, {})


def test_export_returns_only_the_persons_records_as_json(shop, make):
    records = list(make().export(ALICE))
    assert {r.system for r in records} == {"shop"}
    by_category: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_category.setdefault(record.category, []).append(dict(record.fields))
    assert by_category["customer"] == [
        {
            "id": 1,
            "email": "alice@example.com",
            "name": "Alice",
            "address": "1 Main St",
            "phone": "+49 111",
            "created_on": "2024-01-31",
            "avatar": "01ff",
        }
    ]
    assert by_category["orders"] == [
        {"id": 10, "customer_id": 1, "total": "12.50", "placed_at": "2024-02-01T10:30:00"},
        {"id": 11, "customer_id": 1, "total": "99.99", "placed_at": None},
    ]
    assert sorted(r["sku"] for r in by_category["order_items"]) == ["SKU-A", "SKU-B", "SKU-C"]
    assert by_category["support"] == [
        {"id": 1000, "email": "alice@example.com", "body": "where is my parcel"}
    ]
    text = json.dumps([r.fields for r in records])
    assert "bob" not in text.lower() and "SKU-BOB" not in text and "refund" not in text


def test_export_streams_through_an_unbuffered_cursor(shop, make):
    shop.execute("INSERT INTO customer (id, email) VALUES (4, 'bulk@example.com')")
    # Only placeholders in VALUES, so PyMySQL sends multi-row INSERTs rather than 20,000 statements.
    shop.executemany(
        "INSERT INTO orders (id, customer_id, total) VALUES (%s, %s, %s)",
        [(n, 4, "1.00") for n in range(1000, 21000)],
    )
    connector = make()
    records = connector.export(Subject("req-bulk", {"email": "bulk@example.com"}))
    first, second = next(records), next(records)
    assert first.category == "customer" and second.fields["id"] == 1000
    result = connector._conn._result  # PyMySQL's pending result: still reading from the server
    assert result is not None and result.unbuffered_active
    assert 2 + sum(1 for _ in records) == 20_001
    assert connector.locate(ALICE).found == 7  # the connection is usable again


# -- erase -----------------------------------------------------------------------------------------
def test_erase_deletes_and_masks_and_reports_before_and_after(shop, make):
    before = snapshot(shop)
    receipt = make().erase(ALICE)
    assert receipt == Receipt(
        action="erase",
        affected=7,
        by_category={"order_items": 3, "orders": 2, "customer": 1, "support": 1},
        detail={
            "tables": {
                "order_items": {"mode": "delete", "before": 3, "after": 0},
                "orders": {"mode": "delete", "before": 2, "after": 0},
                "customer": {"mode": "mask", "before": 1, "after": 0},
                "support": {"mode": "delete", "before": 1, "after": 0},
            }
        },
    )
    row = shop.execute(
        "SELECT email, name, address, phone, created_on FROM customer WHERE id = 1"
    ).fetchone()
    assert row[:4] == (None, None, "REDACTED", digest("+49 111"))
    assert shop.execute("SELECT count(*) FROM orders WHERE customer_id = 1").fetchone() == (0,)
    assert shop.execute(
        "SELECT count(*) FROM order_items WHERE id IN (100, 101, 102)"
    ).fetchone() == (0,)
    assert shop.execute("SELECT count(*) FROM tickets WHERE id = 1000").fetchone() == (0,)
    assert others(snapshot(shop)) == others(before)


def test_erase_twice_changes_nothing_the_second_time(shop, make):
    connector = make()
    enriched = ALICE.with_identifiers(connector.locate(ALICE).identifiers)
    assert connector.erase(enriched).affected == 7
    state = snapshot(shop)
    again = connector.erase(enriched)
    assert again.affected == 0 and again.by_category == {}
    assert again.detail["tables"]["customer"] == {
        "mode": "mask",
        "before": 1,
        "after": 1,
    }  # found by id, already masked
    assert snapshot(shop) == state


def test_erase_matches_like_the_column_collation_does(shop, make):
    """MySQL compares text case-insensitively; the batch attributes rows the same way."""
    shouting = Subject("req-shout", {"email": "ALICE@EXAMPLE.COM"})
    assert make().locate(shouting).found == 7
    batch = make().erase_many([NOBODY, shouting])
    assert batch["req-shout"].affected == 7 and batch["req-nobody"].affected == 0


@pytest.mark.parametrize("chunk", [500, 1])
def test_erase_many_matches_one_by_one_erasure(shop, make, monkeypatch, chunk):
    monkeypatch.setattr("connectors.sql.CHUNK", chunk)  # 1: every subject and key in its own chunk
    subjects = [ALICE, BOB, NOBODY]
    one_by_one = {s.request_id: make().erase(s) for s in subjects}
    state = snapshot(shop)
    fill(shop)
    batch = make().erase_many(subjects)
    assert batch == one_by_one
    assert batch["req-bob"].by_category == {"order_items": 1, "orders": 1, "customer": 1}
    assert batch["req-nobody"].affected == 0
    assert snapshot(shop) == state
    assert shop.execute("SELECT email FROM customer WHERE id = 3").fetchone() == (
        "carol@example.com",
    )


def test_an_injection_attempt_in_an_identifier_touches_nothing(shop, make):
    state = snapshot(shop)
    sly = Subject("req-sly", {"email": "x' OR '1'='1", "customer_id": "1 OR 1=1"})
    connector = make()
    assert connector.locate(sly).found == 0
    assert connector.erase(sly).affected == 0
    assert list(connector.export(sly)) == []
    assert snapshot(shop) == state


# -- rectify ---------------------------------------------------------------------------------------
def test_rectify_changes_allowed_columns_and_lists_the_rest(shop, make):
    receipt = make().rectify(
        ALICE, {"name": "Alice Liddell", "address": "4 New St", "email": "evil@example.com"}
    )
    assert receipt.affected == 1 and receipt.by_category == {"customer": 1}
    assert receipt.detail == {"fields": ["name", "address"], "ignored": ["email"]}
    assert shop.execute("SELECT email, name, address FROM customer WHERE id = 1").fetchone() == (
        "alice@example.com",
        "Alice Liddell",
        "4 New St",
    )
    assert shop.execute("SELECT name FROM customer WHERE id = 2").fetchone() == ("Bob",)
