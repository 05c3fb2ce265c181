"""The Zendesk template against a fake Zendesk Support that follows the Ticketing API."""

from __future__ import annotations

import base64
from collections import Counter

import pytest

from connectors.base import Deferred, JobContext

from .fake_zendesk import AGENT, TOKEN, populated
from .vendor_server import serving


@pytest.fixture
def zendesk():
    with serving(populated) as server:
        yield server


@pytest.fixture
def connector(zendesk, connect):
    return connect(
        "zendesk", zendesk.url, {"api_token": TOKEN}, subdomain="acme", agent_email=AGENT
    )


def alices_tickets(zendesk) -> set[int]:
    alice = zendesk.people["alice"]
    return {tid for tid, t in zendesk.fake.tickets.items() if t["requester_id"] == alice}


def test_an_access_request_returns_alice_and_her_tickets_but_not_alicia(zendesk, connector, alice):
    records = list(connector.export(alice))

    assert Counter(r.category for r in records) == {"users": 1, "tickets": 250}
    assert next(r for r in records if r.category == "users").fields["email"] == "alice@example.com"
    assert {r.fields["id"] for r in records if r.category == "tickets"} == alices_tickets(zendesk)
    search = zendesk.calls("GET", "/api/v2/users/search")[0]
    assert search.arg("query") == "email:alice@example.com" and search.arg("per_page") == "100"
    pages = zendesk.calls("GET", r"/api/v2/users/\d+/tickets/requested")
    assert len(pages) == 3 and pages[0].arg("page[size]") == "100"
    assert pages[0].arg("page[after]") is None and pages[1].arg("page[after]") is not None


def test_requests_use_basic_auth_with_the_agent_email_and_token(zendesk, connector, alice):
    connector.locate(alice)

    expected = base64.b64encode(f"{AGENT}/token:{TOKEN}".encode()).decode()
    assert {r.headers["authorization"] for r in zendesk.requests} == {f"Basic {expected}"}


def test_locate_counts_alices_records_and_learns_her_user_id(zendesk, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {"users": 1, "tickets": 250}
    assert found.identifiers == {"zendesk_user_id": str(zendesk.people["alice"])}


def test_an_erasure_deletes_her_tickets_then_deletes_her_permanently(zendesk, connector, alice):
    receipt = connector.erase(alice)

    assert receipt.by_category == {"tickets": 250, "users": 1} and receipt.affected == 251
    assert zendesk.fake.deleted_tickets == alices_tickets(zendesk)
    assert zendesk.fake.purged == [zendesk.people["alice"]]
    assert (
        zendesk.people["alicia"] in zendesk.fake.users
        and zendesk.people["bob"] in zendesk.fake.users
    )
    order = [r.path for r in zendesk.requests if r.method == "DELETE"]
    alice = zendesk.people["alice"]
    assert order[-2:] == [f"/api/v2/users/{alice}", f"/api/v2/deleted_users/{alice}"]
    kept = receipt.detail["kept"]
    assert [(k["category"], k["count"]) for k in kept] == [("tickets", 250)]


def test_erasing_again_finds_nobody_and_succeeds(zendesk, connector, alice):
    connector.erase(alice)
    deletes = sum(r.method == "DELETE" for r in zendesk.requests)

    again = connector.erase(alice)

    assert again.affected == 0
    assert sum(r.method == "DELETE" for r in zendesk.requests) == deletes


def test_a_long_rate_limit_between_the_two_deletions_resumes_through_state(
    zendesk, connector, alice
):
    alice_id = zendesk.people["alice"]
    zendesk.fail_once(
        (429, {"error": "TooManyRequests"}, {"Retry-After": "600"}),
        when=lambda r: r.method == "DELETE" and r.path.startswith("/api/v2/deleted_users/"),
    )

    with pytest.raises(Deferred) as interrupted:
        connector.erase(alice, job=JobContext("job-1", "idem-1"))

    assert alice_id in zendesk.fake.deleted_users  # soft-deleted, not yet purged
    assert "429" in interrupted.value.message and interrupted.value.poll_after >= 600
    resumed = connector.erase(
        alice, job=JobContext("job-1", "idem-1", state=interrupted.value.state)
    )
    assert zendesk.fake.purged == [alice_id]
    assert resumed.by_category == {"tickets": 250, "users": 1}


def test_rectify_changes_her_name_and_phone(zendesk, connector, alice):
    receipt = connector.rectify(alice, {"name": "Alice P. Liddell", "phone": "+441234567890"})

    assert receipt.affected == 1
    put = zendesk.calls("PUT", r"/api/v2/users/\d+")[0]
    assert put.json == {"user": {"name": "Alice P. Liddell", "phone": "+441234567890"}}
    assert zendesk.fake.users[zendesk.people["alicia"]]["name"] == "Alicia Keys"
