"""The Intercom template against a fake Intercom that follows its OpenAPI description."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.base import Subject

from .fake_intercom import TOKEN, populated
from .vendor_server import serving

ALICE = ("alice", "alice_lead")


@pytest.fixture
def intercom():
    with serving(populated) as server:
        yield server


@pytest.fixture
def connector(intercom, connect):
    return connect("intercom", intercom.url, {"access_token": TOKEN})


def conversations_of(intercom, *names):
    ids = {intercom.people[name] for name in names}
    return {
        vid
        for vid, v in intercom.fake.conversations.items()
        if ids & {c["id"] for c in v["contacts"]["contacts"]}
    }


def test_the_search_asks_for_the_email_with_the_token_and_the_api_version(
    intercom, connector, alice
):
    connector.locate(alice)

    search = intercom.calls("POST", "/contacts/search")[0]
    assert search.json == {
        "query": {"field": "email", "operator": "=", "value": "alice@example.com"},
        "pagination": {"per_page": 50},
    }
    assert search.headers["authorization"] == f"Bearer {TOKEN}"
    assert {r.headers["intercom-version"] for r in intercom.requests} == {"2.14"}


def test_an_access_request_returns_alices_contacts_notes_and_every_conversation(
    intercom, connector, alice
):
    records = list(connector.export(alice))

    assert Counter(r.category for r in records) == {
        "contacts": 2,
        "notes": 4,
        "conversations": 122,
        "conversation_parts": 244,
    }
    assert {r.fields["id"] for r in records if r.category == "contacts"} == {
        intercom.people[name] for name in ALICE
    }
    exported = {r.fields["id"] for r in records if r.category == "conversations"}
    assert exported == conversations_of(intercom, *ALICE)
    parts = {r.fields["id"] for r in records if r.category == "conversation_parts"}
    assert parts == {p["id"] for vid in exported for p in intercom.fake.parts[vid]}
    user_pages = [
        s.json["pagination"]
        for s in intercom.calls("POST", "/conversations/search")
        if s.json["query"]["value"] == intercom.people["alice"]
    ]
    assert len(user_pages) == 3 and all(p["per_page"] == 50 for p in user_pages)
    assert "starting_after" not in user_pages[0]
    assert user_pages[1]["starting_after"] != user_pages[2]["starting_after"]


def test_locate_counts_and_learns_the_contact_id(intercom, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {
        "contacts": 2,
        "notes": 4,
        "conversations": 122,
        "conversation_parts": 244,
    }
    assert found.identifiers["intercom_contact_id"] in {intercom.people[n] for n in ALICE}
    nobody = connector.locate(Subject("req-2", {"email": "nobody@example.com"}))
    assert nobody.found == 0


def test_an_erasure_deletes_alices_contacts_and_leaves_the_others(intercom, connector, alice):
    others = conversations_of(intercom, "bob", "alicia")

    receipt = connector.erase(alice)

    assert receipt.affected == 2 and receipt.by_category == {"contacts": 2}
    deletes = intercom.calls("DELETE", r"/contacts/\w+")
    assert {d.path.rsplit("/", 1)[1] for d in deletes} == {intercom.people[n] for n in ALICE}
    assert set(intercom.fake.contacts) == {intercom.people["bob"], intercom.people["alicia"]}
    assert set(intercom.fake.conversations) == others
    kept = {k["category"]: k.get("count") for k in receipt.detail["kept"]}
    assert kept == {"contacts": 2, "conversation_ratings": None}
    assert connector.locate(alice).found == 0


def test_erasing_again_changes_nothing_more_and_succeeds(intercom, connector, alice):
    connector.erase(alice)

    again = connector.erase(alice)

    assert again.affected == 0
    assert len(intercom.calls("DELETE", r"/contacts/\w+")) == 2


def test_rectify_puts_the_new_name_on_each_contact(intercom, connector, alice):
    receipt = connector.rectify(alice, {"name": "Alys Liddell", "phone": "+447700900123"})

    assert receipt.affected == 2
    puts = intercom.calls("PUT", r"/contacts/\w+")
    assert [p.json for p in puts] == [{"name": "Alys Liddell", "phone": "+447700900123"}] * 2
    assert {intercom.fake.contacts[intercom.people[n]]["name"] for n in ALICE} == {"Alys Liddell"}
    assert intercom.fake.contacts[intercom.people["bob"]]["name"] == "Bob Builder"


def test_the_api_version_is_a_setting(intercom, connect):
    connect("intercom", intercom.url, {"access_token": TOKEN}, api_version="2.16").check()

    assert intercom.calls("GET", "/me")[0].headers["intercom-version"] == "2.16"
