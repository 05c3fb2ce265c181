"""The Stripe template against a fake Stripe that follows the API reference."""

from __future__ import annotations

from collections import Counter

import pytest

from .fake_stripe import KEY


@pytest.fixture
def connector(stripe, connect):
    return connect("stripe", stripe.url, {"api_key": KEY})


def test_an_access_request_returns_exactly_alices_records_across_pages(stripe, connector, alice):
    fake, mine = stripe.fake, stripe.people["alice"]

    records = list(connector.export(alice))

    by_category = Counter(record.category for record in records)
    assert by_category == {
        "customers": 2,
        "charges": 150,
        "payment_intents": 30,
        "invoices": 12,
        "subscriptions": 3,
    }
    assert {r.fields["id"] for r in records if r.category == "customers"} == mine
    assert all(r.fields["customer"] in mine for r in records if r.category != "customers")
    charges = {r.fields["id"] for r in records if r.category == "charges"}
    assert charges == {c["id"] for c in fake.of("charge", mine)}
    assert len(stripe.calls("GET", "/v1/charges")) == 3  # 130 charges in two pages, 20 in one
    assert all("client_secret" not in r.fields for r in records if r.category == "payment_intents")
    assert all(r.system == "stripe-test" for r in records)


def test_the_email_is_sent_as_the_list_filter_with_the_key_as_bearer_token(
    stripe, connector, alice
):
    list(connector.export(alice))

    first = stripe.calls("GET", "/v1/customers")[0]
    assert first.arg("email") == "alice@example.com" and first.arg("limit") == "100"
    assert first.headers["authorization"] == f"Bearer {KEY}"


def test_locate_counts_alices_records_and_learns_her_customer_id(stripe, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {
        "customers": 2,
        "charges": 150,
        "payment_intents": 30,
        "invoices": 12,
        "subscriptions": 3,
    }
    assert found.found == 197
    assert found.identifiers["stripe_customer_id"] in stripe.people["alice"]


def test_an_erasure_deletes_alices_customers_and_nobody_elses(stripe, connector, alice):
    receipt = connector.erase(alice)

    assert receipt.affected == 2 and receipt.by_category == {"customers": 2}
    deleted = {r.path.rsplit("/", 1)[1] for r in stripe.calls("DELETE", "/v1/customers/.+")}
    assert deleted == stripe.people["alice"] == stripe.fake.deleted
    kept = {item["category"]: item for item in receipt.detail["kept"]}
    assert kept["charges"]["count"] == 150 and kept["invoices"]["count"] == 12
    assert "Art. 17(3)(b)" in kept["invoices"]["exception"]
    assert connector.locate(alice).found == 0


def test_erasing_again_changes_nothing_more_and_succeeds(stripe, connector, alice):
    connector.erase(alice)
    deletes = len(stripe.calls("DELETE", "/v1/customers/.+"))

    again = connector.erase(alice)

    assert again.affected == 0 and again.by_category == {}
    assert len(stripe.calls("DELETE", "/v1/customers/.+")) == deletes
    assert stripe.fake.deleted == stripe.people["alice"]


def test_a_customer_deleted_in_between_counts_as_already_gone(stripe, connector, alice):
    one = min(stripe.people["alice"])
    stripe.fail_once(
        (
            404,
            {"error": {"type": "invalid_request_error", "message": f"No such customer: '{one}'"}},
        ),
        when=lambda r: r.method == "DELETE" and r.path.endswith(one),
    )

    receipt = connector.erase(alice)

    assert receipt.affected == 1


def test_rectify_changes_the_name_of_each_of_alices_customers(stripe, connector, alice):
    receipt = connector.rectify(alice, {"name": "Alice Pleasance Liddell"})

    assert receipt.affected == 2 and receipt.by_category == {"customers": 2}
    names = {stripe.fake.customers[c]["name"] for c in stripe.people["alice"]}
    assert names == {"Alice Pleasance Liddell"}
    bob = next(iter(stripe.people["bob"]))
    assert stripe.fake.customers[bob]["name"] == "Bob Builder"
    update = stripe.calls("POST", "/v1/customers/.+")[0]
    assert update.form == {"name": "Alice Pleasance Liddell"}


def test_rectify_leaves_a_field_the_vendor_does_not_hold_and_says_so(stripe, connector, alice):
    receipt = connector.rectify(alice, {"shoe_size": "38", "name": "Alice P. Liddell"})

    assert receipt.affected == 2 and receipt.detail["ignored"] == ["shoe_size"]
    update = stripe.calls("POST", "/v1/customers/.+")[0]
    assert update.form == {"name": "Alice P. Liddell"}  # the field Stripe holds, and only it
    nothing = connector.rectify(alice, {"shoe_size": "38"})
    assert (nothing.affected, nothing.detail["ignored"]) == (0, ["shoe_size"])
