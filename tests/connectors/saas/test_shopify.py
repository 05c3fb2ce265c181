"""The Shopify template against a fake shop that follows the Admin API: REST to find, GraphQL
to ask for the erasure, which Shopify carries out later on its own clock."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from connectors.base import ConnectorError, Deferred, JobContext

from .deferred import erase_until_done
from .fake_shopify import API, TOKEN, populated
from .vendor_server import serving


@pytest.fixture
def shopify():
    with serving(populated) as server:
        yield server


@pytest.fixture
def connector(shopify, connect):
    return connect("shopify", shopify.url, {"access_token": TOKEN}, shop="acme")


def orders_of(shopify, customers) -> set[int]:
    return {oid for oid, o in shopify.fake.orders.items()
            if o["customer"] and o["customer"]["id"] in customers}  # fmt: skip


def erase_once(connector, subject, state=None):
    """One call of the engine's: the Deferred it raises, with its state as the engine keeps it."""
    with pytest.raises(Deferred) as waiting:
        connector.erase(subject, job=JobContext("job-1", "idem-1", state=state or {}))
    return waiting.value, json.loads(json.dumps(waiting.value.state))


def test_an_access_request_returns_alices_customers_and_all_their_orders(shopify, connector, alice):
    mine = shopify.people["alice"]

    records = list(connector.export(alice))

    assert Counter(r.category for r in records) == {"customers": 2, "orders": 262}
    assert {r.fields["id"] for r in records if r.category == "customers"} == mine
    assert {r.fields["id"] for r in records if r.category == "orders"} == orders_of(shopify, mine)
    search = shopify.calls("GET", f"{API}/customers/search.json")[0]
    assert search.arg("query") == "email:alice@example.com" and search.arg("limit") == "250"
    old = min(mine)
    first, following = [r for r in shopify.calls("GET", f"{API}/orders.json")
                        if r.arg("customer_id") == str(old) or r.arg("page_info")]  # fmt: skip
    assert (first.arg("status"), first.arg("limit")) == ("any", "250")
    assert set(following.query) == {"limit", "page_info"}  # the Link, as given


def test_requests_carry_the_access_token_header(shopify, connector, alice):
    connector.locate(alice)

    assert {r.headers["x-shopify-access-token"] for r in shopify.requests} == {TOKEN}
    assert all("authorization" not in r.headers for r in shopify.requests)


def test_locate_counts_alices_records_and_learns_a_customer_id(shopify, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {"customers": 2, "orders": 262} and found.found == 264
    assert int(found.identifiers["shopify_customer_id"]) in shopify.people["alice"]


def test_an_erasure_is_requested_then_followed_until_shopify_has_carried_it_out(
    shopify, connector, alice
):
    mine = shopify.people["alice"]
    orders = orders_of(shopify, mine)

    started, state = erase_once(connector, alice)

    assert started.poll_after == 86400
    mutations = shopify.calls("POST", f"{API}/graphql.json")
    assert sorted(m.json["variables"]["customerId"] for m in mutations) == sorted(
        f"gid://shopify/Customer/{cid}" for cid in mine
    )
    assert "customerRequestDataErasure(customerId: $customerId)" in mutations[0].json["query"]
    assert set(shopify.fake.erasure_requested) == mine and shopify.fake.erased == []

    still, state = erase_once(connector, alice, state)  # a day later: Shopify has not done it yet
    assert "still erasing" in still.message
    shopify.fake.run_erasures()
    receipt = connector.erase(alice, job=JobContext("job-1", "idem-1", state=state))

    assert receipt.by_category == {"customers": 2} and receipt.affected == 2
    assert sorted(d["status"] for d in receipt.detail["vendor_deletions"]) == ["gone", "gone"]
    assert [(k["category"], k["count"]) for k in receipt.detail["kept"]] == [("orders", 262)]
    assert len(shopify.calls("POST", f"{API}/graphql.json")) == 2  # asked once per customer
    polls = shopify.calls("GET", rf"{API}/customers/\d+\.json")
    assert {int(p.path.rsplit("/", 1)[1].removesuffix(".json")) for p in polls} == mine
    assert set(shopify.fake.erased) == mine
    assert all(shopify.fake.orders[o]["email"] is None for o in orders)  # kept, redacted
    assert shopify.people["bob"] in shopify.fake.customers
    assert shopify.people["alicia"] in shopify.fake.customers
    assert connector.locate(alice).found == 0


def test_erasing_again_once_done_changes_nothing_more_and_succeeds(shopify, connector, alice):
    _, state = erase_once(connector, alice)
    shopify.fake.run_erasures()
    connector.erase(alice, job=JobContext("job-1", "idem-1", state=state))
    asked = len(shopify.calls("POST", f"{API}/graphql.json"))

    again = connector.erase(alice, job=JobContext("job-2", "idem-2"))

    assert again.affected == 0 and again.by_category == {}
    assert len(shopify.calls("POST", f"{API}/graphql.json")) == asked


def test_without_the_erasure_scope_the_erasure_fails_in_shopifys_words(shopify, connector, alice):
    shopify.fake.scopes.discard("write_customer_data_erasure")

    with pytest.raises(ConnectorError) as refused:
        erase_until_done(connector, alice)

    assert refused.value.permanent
    assert "cannot follow the deletion: Access denied for customerRequestDataErasure field" in (
        refused.value.message
    )
    assert shopify.fake.erasure_requested == []


def test_rectify_changes_the_name_of_each_of_alices_customers(shopify, connector, alice):
    receipt = connector.rectify(alice, {"last_name": "Pleasance Liddell"})

    assert receipt.by_category == {"customers": 2}
    puts = shopify.calls("PUT", rf"{API}/customers/\d+\.json")
    assert [p.json for p in puts] == [{"customer": {"last_name": "Pleasance Liddell"}}] * 2
    names = {shopify.fake.customers[c]["last_name"] for c in shopify.people["alice"]}
    assert names == {"Pleasance Liddell"}
    assert shopify.fake.customers[shopify.people["bob"]]["last_name"] == "Norman"
