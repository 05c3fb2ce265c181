"""The Redis connector against a real Redis (database 14, flushed around each test)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis

from connectors.base import ConnectorError, LocateResult, Subject
from connectors.redis_keys import RedisConnector


def _test_url() -> str:
    """The configured Redis server (REDIS_URL, or the local default), database 14."""
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return parts._replace(path="/14").geturl()


URL = _test_url()
PATTERNS = [
    {"pattern": "session:{email}", "category": "sessions"},
    {"pattern": "cart:{customer_id}:*", "category": "carts"},
]


@pytest.fixture
def rdb(service_down) -> Iterator[redis.Redis]:
    """Database 14, empty; skipped without Redis on a developer machine, a failure in CI."""
    client = redis.Redis.from_url(URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        service_down(f"Redis at {urlsplit(URL).netloc.rpartition('@')[2]}", exc)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def alice() -> Subject:
    return Subject("req-1", {"email": "alice@example.com", "customer_id": "42"})


def connector(patterns=PATTERNS, url=URL) -> RedisConnector:
    return RedisConnector(name="cache", config={"patterns": patterns}, secrets={"url": url})


@pytest.fixture
def seeded(rdb):
    rdb.set("session:alice@example.com", "token-a")
    rdb.hset("cart:42:main", mapping={"sku-1": "2", "sku-2": "1"})
    rdb.rpush("cart:42:history", "sku-1", "sku-3")
    rdb.sadd("cart:42:tags", "gift", "express")
    rdb.zadd("cart:42:scores", {"sku-1": 1.5})
    rdb.set("session:bob@example.com", "token-b")
    rdb.hset("cart:420:main", mapping={"sku-9": "1"})  # a customer whose id starts with 42
    rdb.set("cart:43:main", "bob's cart")
    return rdb


def test_check_pings_redis(rdb):
    connector().check()


def test_check_on_an_unreachable_redis_is_transient():
    with pytest.raises(ConnectorError, match="cannot reach Redis at 127.0.0.1:1") as caught:
        connector(url="redis://:hunter2@127.0.0.1:1/0").check()
    assert not caught.value.permanent
    assert "hunter2" not in caught.value.message


def test_a_bad_url_is_permanent():
    with pytest.raises(ConnectorError, match="unusable Redis URL") as caught:
        connector(url="http://127.0.0.1:6379/0").check()
    assert caught.value.permanent


def test_locate_counts_keys_per_category(seeded, alice):
    assert connector().locate(alice) == LocateResult(5, {"sessions": 1, "carts": 4})


def test_export_reads_each_type_of_value(seeded, alice):
    records = {r.fields["key"]: r for r in connector().export(alice)}

    assert set(records) == {
        "session:alice@example.com",
        "cart:42:main",
        "cart:42:history",
        "cart:42:tags",
        "cart:42:scores",
    }
    assert records["session:alice@example.com"].fields == {
        "key": "session:alice@example.com",
        "type": "string",
        "value": "token-a",
    }
    assert records["session:alice@example.com"].category == "sessions"
    assert records["cart:42:main"].fields["value"] == {"sku-1": "2", "sku-2": "1"}
    assert records["cart:42:history"].fields["value"] == ["sku-1", "sku-3"]
    assert records["cart:42:tags"].fields["value"] == ["express", "gift"]
    assert records["cart:42:scores"].fields["value"] == [["sku-1", 1.5]]
    assert {r.system for r in records.values()} == {"cache"}


def test_export_decodes_binary_values_with_replacement(rdb, alice):
    rdb.set("session:alice@example.com", b"\xff\xfeok")

    (record,) = connector().export(alice)

    assert record.fields["value"] == "\ufffd\ufffdok"


def test_erase_deletes_only_the_subjects_keys_and_is_idempotent(seeded, alice):
    receipt = connector().erase(alice)

    assert receipt.action == "erase"
    assert receipt.affected == 5
    assert receipt.by_category == {"sessions": 1, "carts": 4}
    assert receipt.detail == {"mode": "delete"}
    assert sorted(seeded.keys()) == [b"cart:420:main", b"cart:43:main", b"session:bob@example.com"]

    again = connector().erase(alice)
    assert (again.affected, again.by_category) == (0, {})


def test_glob_characters_in_a_value_do_not_widen_the_match(seeded):
    sneaky = Subject("req-2", {"email": "*", "customer_id": "4*"})

    assert connector().locate(sneaky) == LocateResult()
    assert connector().erase(sneaky).affected == 0
    assert len(seeded.keys()) == 8


def test_a_value_with_glob_characters_still_finds_its_own_keys(rdb):
    rdb.set("cart:a[1]*:main", "x")
    rdb.set("cart:a1:main", "someone else")

    odd = Subject("req-3", {"customer_id": "a[1]*"})

    assert [r.fields["key"] for r in connector().export(odd)] == ["cart:a[1]*:main"]


def test_patterns_for_kinds_the_subject_lacks_are_skipped(seeded):
    only_email = Subject("req-4", {"email": "alice@example.com"})

    assert connector().locate(only_email) == LocateResult(1, {"sessions": 1})


def test_many_keys_are_found_with_scan(rdb, alice):
    rdb.mset({f"cart:42:item-{i}": "x" for i in range(1200)})
    rdb.mset({f"cart:7:item-{i}": "x" for i in range(300)})

    assert connector().erase(alice).affected == 1200
    assert rdb.dbsize() == 300


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "patterns"),
        ({"patterns": []}, "patterns"),
        ({"patterns": [{"category": "x"}]}, r"patterns\[0\] needs a 'pattern'"),
        ({"patterns": [{"pattern": "session:{e-mail}"}]}, "placeholders"),
        ({"patterns": [{"pattern": "session:{email"}]}, "placeholders"),
        ({"patterns": [{"pattern": "s:{email}", "category": 3}]}, "category"),
    ],
)
def test_a_bad_configuration_is_a_permanent_error_naming_it(config, message):
    with pytest.raises(ConnectorError, match=message) as caught:
        RedisConnector(name="cache", config=config, secrets={"url": URL})
    assert caught.value.permanent


def test_the_url_secret_is_required():
    with pytest.raises(ConnectorError, match="secrets.url") as caught:
        RedisConnector(name="cache", config={"patterns": PATTERNS}, secrets={})
    assert caught.value.permanent
