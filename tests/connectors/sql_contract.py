"""What every SQL connector (``connectors.sql``) must do, written once for both backends.

``test_postgres.py`` and ``test_mysql.py`` each subclass :class:`SQLConnectorContract`
as a ``Test…`` class, so pytest runs every test below once per backend; this module
itself is not collected (its name does not start with ``test_``, nor the class with
``Test``). A subclass provides:

* a module-scoped ``dsn`` fixture: a scratch database holding the tables of the shop;
* ``connector_class`` and ``kind``: the connector and the name its messages carry
  (a literal, so a renamed ``key`` fails the message tests);
* ``unused_dsn`` (valid, never connected to) and ``unreachable_dsn`` (nothing listens,
  with the password ``s3cret`` and the address ``127.0.0.1:1/shop`` in it);
* ``connect(dsn)``: an autocommit driver connection to the scratch database, usable
  as a context manager; ``clear``: the statements that empty the four tables;
  ``select_all(table)``: ``SELECT * FROM <quoted table> ORDER BY id`` as the driver's SQL;
* ``orders``: the rows of ``orders`` for ``fill``, and ``alice_orders``: Alice's orders
  as ``export`` must return them (the backends' ``orders`` tables differ by a column);
* ``insert_bulk_orders(shop, customer_id, ids)`` (a ``range`` of order ids, total 1.00) and
  ``assert_still_streaming(connector)`` (the export is still reading from the server)
  for the streaming export test.

Backend-only behaviour (schema-qualified names, the DSN schemes, collations, the
cursor machinery itself) stays in the backend's module, as further test methods.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest

from connectors.base import ConnectorError, Receipt, Subject
from connectors.sql import SQLConnector

HASH_KEY = "test-hash-key"

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

TABLES = ("customer", "orders", "order_items", "tickets")  # parents before children
CUSTOMERS = [
    (1, "alice@example.com", "Alice", "1 Main St", "+49 111", "2024-01-31", b"\x01\xff"),
    (2, "bob@example.com", "Bob", "2 Side St", "+49 222", None, None),
    (3, "carol@example.com", "Carol", "3 Back St", None, None, None),
]
ORDER_ITEMS = [(100, 10, "SKU-A"), (101, 10, "SKU-B"), (102, 11, "SKU-C"), (200, 20, "SKU-BOB")]
TICKETS = [
    (1000, "alice@example.com", "where is my parcel"),
    (2000, "bob@example.com", "refund please"),
]

ALICE_ROWS = {
    "customer": {1},
    "orders": {10, 11},
    "order_items": {100, 101, 102},
    "tickets": {1000},
}


class Shop:
    """An autocommit DB-API connection with ``execute(...).fetchone()`` for short asserts."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, statement: Any, params: Any = None) -> Any:
        cur = self.conn.cursor()
        cur.execute(statement, params)
        return cur

    def executemany(self, statement: str, rows: Sequence[tuple]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(statement, rows)


def edited(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    change(config)
    return config


def others(state: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """Everyone's rows but Alice's."""
    return {
        table: [row for row in rows if row[0] not in ALICE_ROWS[table]]
        for table, rows in state.items()
    }


def digest(value: str) -> str:
    return hmac.new(HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


class SQLConnectorContract:
    connector_class: ClassVar[type[SQLConnector]]
    kind: ClassVar[str]
    unused_dsn: ClassVar[str]
    unreachable_dsn: ClassVar[str]
    clear: ClassVar[tuple[str, ...]]
    orders: ClassVar[list[tuple]]
    alice_orders: ClassVar[list[dict[str, Any]]]

    # -- what the backend module provides ----------------------------------------------------
    def connect(self, dsn: str) -> Any:
        raise NotImplementedError

    def select_all(self, table: str) -> Any:
        raise NotImplementedError

    def insert_bulk_orders(self, shop: Shop, customer_id: int, ids: range) -> None:
        raise NotImplementedError

    def assert_still_streaming(self, connector: Any) -> None:
        raise NotImplementedError

    # -- the shop's rows and connectors ------------------------------------------------------
    def fill(self, shop: Shop) -> None:
        for statement in self.clear:
            shop.execute(statement)
        for table, rows in zip(TABLES, (CUSTOMERS, self.orders, ORDER_ITEMS, TICKETS), strict=True):
            marks = ", ".join(["%s"] * len(rows[0]))
            shop.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def snapshot(self, shop: Shop) -> dict[str, list[tuple]]:
        return {table: list(shop.execute(self.select_all(table)).fetchall()) for table in TABLES}

    @pytest.fixture
    def shop(self, dsn):
        """A direct connection to the scratch database, refilled for each test."""
        with self.connect(dsn) as conn:
            shop = Shop(conn)
            self.fill(shop)
            yield shop

    @pytest.fixture
    def make(self, request):
        """Connectors to the scratch database (or to ``dsn=``), closed after the test."""
        made = []

        def build(config: dict[str, Any] | None = None, **secret_overrides: str) -> Any:
            dsn = secret_overrides.pop("dsn", None) or request.getfixturevalue("dsn")
            connector = self.connector_class(
                name="shop",
                config=config or CONFIG,
                secrets={"dsn": dsn, "hash_key": HASH_KEY, **secret_overrides},
            )
            made.append(connector)
            return connector

        yield build
        for connector in made:
            connector.close()

    # -- configuration and reachability ------------------------------------------------------
    def test_check_passes_on_the_configured_tables(self, shop, make):
        make().check()

    def test_check_names_a_missing_column(self, shop, make):
        config = edited(lambda c: c["tables"][0]["identifiers"].update(email="emial"))
        with pytest.raises(ConnectorError) as caught:
            make(config).check()
        assert caught.value.permanent
        assert caught.value.message == (
            f"system 'shop' ({self.kind}): table customer has no column emial"
        )

    def test_check_names_a_missing_table(self, shop, make):
        config = edited(lambda c: c["tables"][3].update(table="ticket"))
        with pytest.raises(ConnectorError, match="table ticket does not exist") as caught:
            make(config).check()
        assert caught.value.permanent

    # what the first erasure would fail on, though every column exists (``members`` and ``visits``:
    # email VARCHAR(100) NOT NULL, nickname VARCHAR(5), phone VARCHAR(20); visits has no key)
    def test_check_catches_a_null_mask_on_a_not_null_column(self, shop, make):
        config = {"tables": [{"table": "members", "identifiers": {"email": "email"},
                              "erase": {"mode": "mask", "fields": {"email": None}}}]}
        with pytest.raises(ConnectorError) as caught:
            make(config).check()
        assert caught.value.permanent and caught.value.message == (
            f"system 'shop' ({self.kind}): table members: erase masks email with null, but the column "
            "is NOT NULL (mask it with a fixed value or hash)"
        )

    def test_check_catches_mask_values_longer_than_their_columns(self, shop, make):
        config = {"tables": [{"table": "members", "identifiers": {"email": "email"},
                              "erase": {"mode": "mask", "fields": {"nickname": {"fixed": "REDACTED"},
                                                                   "phone": "hash", "email": "gone"}}}]}
        with pytest.raises(ConnectorError) as caught:
            make(config).check()
        assert caught.value.message == (
            f"system 'shop' ({self.kind}): "
            "table members: erase masks nickname with a fixed value of 8 characters, but the column holds at most 5; "
            "table members: erase masks phone with a hash (64 characters), but the column holds at most 20"
        )

    def test_check_catches_a_key_that_is_not_unique(self, shop, make):
        config = {"tables": [{"table": "visits", "identifiers": {"email": "email"}, "erase": {"mode": "delete"}}]}
        with pytest.raises(ConnectorError, match="table visits: its key id is neither its primary key nor unique"):
            make(config).check()

    def test_the_first_erasure_is_refused_as_check_would_be_touching_nothing(self, shop, make):
        shop.execute("INSERT INTO members (id, email) VALUES (1, 'alice@example.com')")
        config = {"tables": [{"table": "members", "identifiers": {"email": "email"},
                              "erase": {"mode": "mask", "fields": {"email": None}}}]}
        with pytest.raises(ConnectorError, match="table members: erase masks email with null"):
            make(config).erase(ALICE)
        assert shop.execute("SELECT email FROM members").fetchone()[0] == "alice@example.com"
        assert make(config).locate(ALICE).found == 1  # finding the person still works
        shop.execute("DELETE FROM members")

    def test_an_unreachable_server_is_a_transient_error(self, make):
        connector = make(dsn=self.unreachable_dsn)
        with pytest.raises(ConnectorError) as caught:
            connector.check()
        assert not caught.value.permanent
        assert caught.value.message.startswith(
            f"system 'shop' ({self.kind}): cannot connect to the database server"
        )
        assert "s3cret" not in caught.value.message
        assert "127.0.0.1:1/shop" not in caught.value.message

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
    def test_validate_names_what_is_wrong(self, make, change, expected):
        with pytest.raises(ConnectorError, match=expected) as caught:
            make(edited(change), dsn=self.unused_dsn)
        assert caught.value.permanent
        assert caught.value.message.startswith(f"system 'shop' ({self.kind}): ")

    def test_validate_wants_a_hash_key_for_a_hash_mask(self):
        with pytest.raises(ConnectorError, match="hash mask needs secrets.hash_key"):
            self.connector_class(name="shop", config=CONFIG, secrets={"dsn": self.unused_dsn})

    # -- locate and export -------------------------------------------------------------------
    def test_locate_counts_per_category_and_learns_the_customer_id(self, shop, make):
        result = make().locate(ALICE)
        assert result.by_category == {"customer": 1, "orders": 2, "order_items": 3, "support": 1}
        assert result.found == 7
        assert result.identifiers == {"customer_id": "1"}

    def test_locate_finds_nothing_for_a_stranger(self, shop, make):
        result = make().locate(NOBODY)
        assert (result.found, result.by_category, result.identifiers) == (0, {}, {})

    def test_export_returns_only_the_persons_records_as_json(self, shop, make):
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
        assert by_category["orders"] == self.alice_orders
        assert sorted(r["sku"] for r in by_category["order_items"]) == ["SKU-A", "SKU-B", "SKU-C"]
        assert by_category["support"] == [
            {"id": 1000, "email": "alice@example.com", "body": "where is my parcel"}
        ]
        text = json.dumps([r.fields for r in records])
        assert "bob" not in text.lower() and "SKU-BOB" not in text and "refund" not in text

    def test_export_streams_through_a_server_side_cursor(self, shop, make):
        shop.execute("INSERT INTO customer (id, email) VALUES (4, 'bulk@example.com')")
        self.insert_bulk_orders(shop, 4, range(1000, 21000))
        connector = make()
        records = connector.export(Subject("req-bulk", {"email": "bulk@example.com"}))
        first, second = next(records), next(records)
        assert first.category == "customer" and second.fields["id"] == 1000
        self.assert_still_streaming(connector)
        assert 2 + sum(1 for _ in records) == 20_001
        assert connector.locate(ALICE).found == 7  # the connection is usable again

    @pytest.mark.parametrize("orders", [5, 6, 7])  # less than, exactly, and more than two batches of 3
    def test_export_reads_every_row_whatever_the_batches(self, shop, make, orders):
        shop.execute("INSERT INTO customer (id, email) VALUES (4, 'bulk@example.com')")
        self.insert_bulk_orders(shop, 4, range(1000, 1000 + orders))
        connector = make()
        connector.stream_batch = 3
        records = list(connector.export(Subject("req-bulk", {"email": "bulk@example.com"})))
        assert [r.fields["id"] for r in records if r.category == "orders"] == list(range(1000, 1000 + orders))
        assert [r.fields["email"] for r in records if r.category == "customer"] == ["bulk@example.com"]

    # -- erase -------------------------------------------------------------------------------
    def test_erase_deletes_and_masks_and_reports_before_and_after(self, shop, make):
        before = self.snapshot(shop)
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
        assert others(self.snapshot(shop)) == others(before)

    def test_erase_twice_changes_nothing_the_second_time(self, shop, make):
        connector = make()
        enriched = ALICE.with_identifiers(connector.locate(ALICE).identifiers)
        assert connector.erase(enriched).affected == 7
        state = self.snapshot(shop)
        again = connector.erase(enriched)
        assert again.affected == 0 and again.by_category == {}
        assert again.detail["tables"]["customer"] == {
            "mode": "mask",
            "before": 0,
            "after": 0,
        }  # found by id, but already masked: nothing held, nothing left
        assert self.snapshot(shop) == state

    def test_locate_after_erase_finds_nothing_though_the_masked_row_keeps_its_id(self, shop, make):
        # the engine's check after an erasure: the subject now carries the learned customer id
        connector = make()
        enriched = ALICE.with_identifiers(connector.locate(ALICE).identifiers)
        assert enriched.get("customer_id") == "1"
        connector.erase_many([enriched])
        residual = connector.locate(enriched)
        assert residual.found == 0 and residual.by_category == {}
        assert shop.execute("SELECT count(*) FROM customer WHERE id = 1").fetchone() == (1,)
        # a row the mask has not reached yet still counts
        shop.execute("UPDATE customer SET name = 'Alice again' WHERE id = 1")
        assert connector.locate(enriched).by_category == {"customer": 1}

    @pytest.mark.parametrize("chunk", [500, 1])
    def test_erase_many_matches_one_by_one_erasure(self, shop, make, monkeypatch, chunk):
        # 1: every subject and key in its own chunk
        monkeypatch.setattr("connectors.sql.CHUNK", chunk)
        subjects = [ALICE, BOB, NOBODY]
        one_by_one = {s.request_id: make().erase(s) for s in subjects}
        state = self.snapshot(shop)
        self.fill(shop)
        batch = make().erase_many(subjects)
        assert batch == one_by_one
        assert batch["req-bob"].by_category == {"order_items": 1, "orders": 1, "customer": 1}
        assert batch["req-nobody"].affected == 0
        assert self.snapshot(shop) == state
        assert shop.execute("SELECT email FROM customer WHERE id = 3").fetchone() == (
            "carol@example.com",
        )

    def test_an_injection_attempt_in_an_identifier_touches_nothing(self, shop, make):
        state = self.snapshot(shop)
        sly = Subject("req-sly", {"email": "x' OR '1'='1", "customer_id": "1 OR 1=1"})
        connector = make()
        assert connector.locate(sly).found == 0
        assert connector.erase(sly).affected == 0
        assert list(connector.export(sly)) == []
        assert self.snapshot(shop) == state

    # -- rectify -----------------------------------------------------------------------------
    def test_rectify_changes_allowed_columns_and_lists_the_rest(self, shop, make):
        receipt = make().rectify(
            ALICE, {"name": "Alice Liddell", "address": "4 New St", "email": "evil@example.com"}
        )
        assert receipt.affected == 1 and receipt.by_category == {"customer": 1}
        assert receipt.detail == {"fields": ["name", "address"], "ignored": ["email"]}
        assert shop.execute(
            "SELECT email, name, address FROM customer WHERE id = 1"
        ).fetchone() == ("alice@example.com", "Alice Liddell", "4 New St")
        assert shop.execute("SELECT name FROM customer WHERE id = 2").fetchone() == ("Bob",)
