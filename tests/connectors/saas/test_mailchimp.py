"""The Mailchimp template against a fake Marketing API 3.0, served under /3.0 as Mailchimp is."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.base import Subject

from .fake_mailchimp import KEY, LIST, populated, subscriber_hash
from .vendor_server import serving


@pytest.fixture
def mailchimp():
    with serving(populated, prefix="/3.0") as server:
        yield server


@pytest.fixture
def connector(mailchimp, connect):
    return connect("mailchimp", mailchimp.url, {"api_key": KEY}, dc="us21", list_id=LIST)


def test_the_member_is_addressed_by_the_md5_of_the_lower_cased_email(mailchimp, connector, alice):
    connector.locate(alice)

    first = mailchimp.requests[0]
    assert first.raw_path == f"/3.0/lists/{LIST}/members/{subscriber_hash('alice@example.com')}"
    assert first.headers["authorization"].startswith("Basic ")


def test_an_access_request_returns_alices_member_notes_and_tags(mailchimp, connector, alice):
    records = list(connector.export(alice))

    assert Counter(r.category for r in records) == {"members": 1, "notes": 130, "tags": 12}
    member = next(r.fields for r in records if r.category == "members")
    assert member["id"] == mailchimp.people["alice"] and "_links" not in member
    notes = mailchimp.calls("GET", r"/lists/\w+/members/\w+/notes")
    assert [(n.arg("offset"), n.arg("count")) for n in notes] == [("0", "100"), ("100", "100")]
    assert all(n.path.split("/")[4] == mailchimp.people["alice"] for n in notes)


def test_locate_counts_and_someone_unknown_has_nothing(mailchimp, connector, alice):
    assert connector.locate(alice).by_category == {"members": 1, "notes": 130, "tags": 12}
    nobody = connector.locate(Subject("req-2", {"email": "nobody@example.com"}))
    assert nobody.found == 0 and nobody.by_category == {}


def test_an_erasure_deletes_alice_permanently_and_leaves_bob(mailchimp, connector, alice):
    receipt = connector.erase(alice)

    assert receipt.affected == 1 and receipt.by_category == {"members": 1}
    assert mailchimp.fake.deleted == [mailchimp.people["alice"]]
    calls = mailchimp.calls("POST", r"/lists/\w+/members/\w+/actions/delete-permanent")
    assert len(calls) == 1
    assert (LIST, mailchimp.people["bob"]) in mailchimp.fake.members


def test_erasing_again_finds_no_member_and_succeeds(mailchimp, connector, alice):
    connector.erase(alice)

    again = connector.erase(alice)

    assert again.affected == 0
    assert len(mailchimp.calls("POST", r"/lists/\w+/members/\w+/actions/delete-permanent")) == 1


def test_rectify_sets_the_merge_fields(mailchimp, connector, alice):
    receipt = connector.rectify(alice, {"first_name": "Alys", "last_name": "Liddell-Hargreaves"})

    assert receipt.affected == 1
    patch = mailchimp.calls("PATCH", r"/lists/\w+/members/\w+")[0]
    assert patch.json == {"merge_fields": {"FNAME": "Alys", "LNAME": "Liddell-Hargreaves"}}
    member = mailchimp.fake.members[(LIST, mailchimp.people["alice"])]
    assert member["merge_fields"] == {"FNAME": "Alys", "LNAME": "Liddell-Hargreaves"}
