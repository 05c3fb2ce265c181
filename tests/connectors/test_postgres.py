"""The PostgreSQL connector against a real scratch database (no Django database needed)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import secrets
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import sql

from connectors.base import ConnectorError, Receipt, Subject
from connectors.postgres import PostgresConnector

# The server, without a database; the tests create and drop their own database on it.
SERVER = os.environ.get("DSR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
HASH_KEY = "test-hash-key"
UNUSED = "postgresql://postgres@127.0.0.1:5432/unused"  # for tests that never connect
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
"""

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


def fill(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE order_items, orders, customer, tickets")
    conn.cursor().executemany(
        "INSERT INTO customer VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            (1, "alice@example.com", "Alice", "1 Main St", "+49 111", "2024-01-31", b"\x01\xff"),
            (2, "bob@example.com", "Bob", "2 Side St", "+49 222", None, None),
            (3, "carol@example.com", "Carol", "3 Back St", None, None, None),
        ],
    )
    conn.cursor().executemany(
        "INSERT INTO orders VALUES (%s, %s, %s, %s, %s)",
        [
            (10, 1, "12.50", "2024-02-01 10:30:00", REF),
            (11, 1, "99.99", None, None),
            (20, 2, "5.00", None, None),
        ],
    )
    conn.cursor().executemany(
        "INSERT INTO order_items VALUES (%s, %s, %s)",
        [(100, 10, "SKU-A"), (101, 10, "SKU-B"), (102, 11, "SKU-C"), (200, 20, "SKU-BOB")],
    )
    conn.cursor().executemany(
        "INSERT INTO tickets VALUES (%s, %s, %s)",
        [
            (1000, "alice@example.com", "where is my parcel"),
            (2000, "bob@example.com", "refund please"),
        ],
    )


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {
        table: conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(table))
        ).fetchall()
        for table in ("customer", "orders", "order_items", "tickets")
    }


@pytest.fixture
def shop(dsn):
    """A direct connection to the scratch database, refilled for each test."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        fill(conn)
        yield conn


@pytest.fixture
def make(request):
    """Connectors to the scratch database (or to ``dsn=``), closed after the test."""
    made = []

    def build(config: dict[str, Any] | None = None, **secret_overrides: str) -> PostgresConnector:
        dsn = secret_overrides.pop("dsn", None) or request.getfixturevalue("dsn")
        connector = PostgresConnector(
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
    assert caught.value.message == "system 'shop' (postgres): table customer has no column emial"


def test_check_names_a_missing_table(shop, make):
    config = edited(lambda c: c["tables"][3].update(table="ticket"))
    with pytest.raises(ConnectorError, match="table ticket does not exist") as caught:
        make(config).check()
    assert caught.value.permanent


def test_an_unreachable_server_is_a_transient_error(make):
    connector = make(dsn="postgresql://postgres:s3cret@127.0.0.1:1/shop")
    with pytest.raises(ConnectorError) as caught:
        connector.check()
    assert not caught.value.permanent
    assert caught.value.message.startswith(
        "system 'shop' (postgres): cannot connect to the database server"
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
    assert caught.value.permanent and caught.value.message.startswith("system 'shop' (postgres): ")


def test_validate_wants_a_hash_key_for_a_hash_mask(make):
    with pytest.raises(ConnectorError, match="hash mask needs secrets.hash_key"):
        PostgresConnector(name="shop", config=CONFIG, secrets={"dsn": "postgresql://x@h/db"})


def test_a_schema_qualified_table_is_allowed(shop, make):
    config = edited(lambda c: c["tables"][3].update(table="public.tickets"))
    assert make(config).locate(ALICE).by_category["support"] == 1


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
        {
            "id": 10,
            "customer_id": 1,
            "total": "12.50",
            "placed_at": "2024-02-01T10:30:00",
            "ref": str(REF),
        },
        {"id": 11, "customer_id": 1, "total": "99.99", "placed_at": None, "ref": None},
    ]
    assert sorted(r["sku"] for r in by_category["order_items"]) == ["SKU-A", "SKU-B", "SKU-C"]
    assert by_category["support"] == [
        {"id": 1000, "email": "alice@example.com", "body": "where is my parcel"}
    ]
    text = json.dumps([r.fields for r in records])
    assert "bob" not in text.lower() and "SKU-BOB" not in text and "refund" not in text


def test_export_streams_through_a_named_cursor(shop, make):
    shop.execute("INSERT INTO customer (id, email) VALUES (4, 'bulk@example.com')")
    shop.execute(
        "INSERT INTO orders (id, customer_id, total) "
        "SELECT g, 4, 1.00 FROM generate_series(1000, 20999) AS g"
    )
    connector = make()
    records = connector.export(Subject("req-bulk", {"email": "bulk@example.com"}))
    first, second = next(records), next(records)
    assert first.category == "customer" and second.fields["id"] == 1000
    open_cursors = connector._conn.execute("SELECT name FROM pg_cursors").fetchall()
    assert [name for (name,) in open_cursors if name.startswith("dsr_export_")]
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
