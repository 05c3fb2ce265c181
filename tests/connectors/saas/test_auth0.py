"""The Auth0 template against a fake tenant that follows the Management API v2."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.base import ConnectorError, Subject

from .fake_auth0 import AUDIENCE, CLIENT_ID, CLIENT_SECRET, DOMAIN, populated
from .vendor_server import erase_again, serving

SECRETS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


@pytest.fixture
def auth0():
    with serving(populated) as server:
        yield server


@pytest.fixture
def connector(auth0, connect):
    return connect("auth0", auth0.url, SECRETS, domain=DOMAIN)


def test_an_access_request_returns_alices_users_and_all_their_log_events(auth0, connector, alice):
    records = list(connector.export(alice))

    assert Counter(r.category for r in records) == {"users": 2, "logs": 253}
    assert {r.fields["user_id"] for r in records if r.category == "users"} == auth0.people["alice"]
    assert {r.fields["user_id"] for r in records if r.category == "logs"} == auth0.people["alice"]
    search = auth0.calls("GET", "/api/v2/users-by-email")[0]
    assert search.arg("email") == "alice@example.com"
    password = next(u for u in auth0.people["alice"] if u.startswith("auth0|"))
    pages = auth0.calls("GET", f"/api/v2/users/{password}/logs")
    assert [(p.arg("page"), p.arg("per_page"), p.arg("include_totals")) for p in pages] == [
        ("0", "100", "true"),
        ("1", "100", "true"),
        ("2", "100", "true"),
    ]


def test_the_management_token_is_asked_for_the_tenants_api_and_reused(auth0, connector, alice):
    connector.locate(alice)
    connector.locate(alice)

    tokens = auth0.calls("POST", "/oauth/token")
    assert [t.form for t in tokens] == [
        {"grant_type": "client_credentials", "audience": AUDIENCE,
         "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ]  # fmt: skip
    bearer = f"Bearer {auth0.fake.tokens.issued[0]}"
    assert {r.headers["authorization"] for r in auth0.requests if r.path != "/oauth/token"} == {
        bearer
    }


def test_locate_counts_and_learns_a_user_id(auth0, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {"users": 2, "logs": 253} and found.found == 255
    assert found.identifiers["auth0_user_id"] in auth0.people["alice"]


def test_an_address_given_with_capitals_is_searched_in_lower_case(auth0, connector):
    found = connector.locate(Subject("req-2", {"email": "ALICE@example.COM"}))

    assert found.by_category["users"] == 2
    assert auth0.calls("GET", "/api/v2/users-by-email")[0].arg("email") == "alice@example.com"


def test_an_erasure_deletes_alices_users_and_nobody_elses(auth0, connector, alice):
    receipt = connector.erase(alice)

    assert receipt.by_category == {"users": 2} and receipt.affected == 2
    assert set(auth0.fake.deleted) == auth0.people["alice"]
    deletes = auth0.calls("DELETE", r"/api/v2/users/.+")
    assert {r.path.rsplit("/", 1)[1] for r in deletes} == auth0.people["alice"]
    assert all("%7C" in r.raw_path for r in deletes)  # the | of auth0|… is sent encoded
    assert {auth0.people["bob"], auth0.people["alice_at_work"]} <= set(auth0.fake.users)
    assert [(k["category"], k["count"]) for k in receipt.detail["kept"]] == [("logs", 253)]
    assert connector.locate(alice).found == 0


def test_erasing_again_changes_nothing_more_and_succeeds(auth0, connector, alice):
    again, more = erase_again(connector, alice, auth0, "DELETE", r"/api/v2/users/.+")

    assert again.affected == 0 and again.by_category == {} and more == 0


def test_rectify_updates_the_root_attributes_of_each_of_alices_users(auth0, connector, alice):
    receipt = connector.rectify(alice, {"first_name": "Alice P.", "name": "Alice P. Liddell"})

    assert receipt.by_category == {"users": 2}
    patches = auth0.calls("PATCH", r"/api/v2/users/.+")
    assert [p.json for p in patches] == [{"given_name": "Alice P.", "name": "Alice P. Liddell"}] * 2
    assert {auth0.fake.users[u]["name"] for u in auth0.people["alice"]} == {"Alice P. Liddell"}
    assert auth0.fake.users[auth0.people["bob"]]["name"] == "Bob Builder"


def test_a_token_for_another_audience_is_refused_in_auth0s_words(auth0, connect, alice):
    connector = connect("auth0", auth0.url, SECRETS, domain="other.eu.auth0.com")

    with pytest.raises(ConnectorError) as refused:
        connector.locate(alice)

    assert refused.value.permanent
    assert "answered 403: Service not enabled within domain" in refused.value.message
