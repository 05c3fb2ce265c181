"""The Klaviyo template against a fake Klaviyo that follows its OpenAPI files: JSON:API
pages followed through links.next, and a deletion job Klaviyo runs later and never reports."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.base import Deferred, Subject

from .deferred import erase_until_done
from .fake_klaviyo import KEY, populated
from .vendor_server import serving


@pytest.fixture
def klaviyo():
    with serving(populated) as server:
        yield server


@pytest.fixture
def connector(klaviyo, connect):
    return connect("klaviyo", klaviyo.url, {"api_key": KEY})


def test_profiles_are_filtered_by_email_with_the_key_and_the_revision(klaviyo, connector, alice):
    connector.locate(alice)

    first = klaviyo.calls("GET", "/api/profiles")[0]
    assert first.arg("filter") == 'equals(email,"alice@example.com")'
    assert first.arg("page[size]") == "100"
    assert first.headers["authorization"] == f"Klaviyo-API-Key {KEY}"
    assert {r.headers["revision"] for r in klaviyo.requests} == {"2026-07-15"}


def test_an_access_request_returns_alices_profile_and_all_her_events(klaviyo, connector, alice):
    records = list(connector.export(alice))

    assert Counter(r.category for r in records) == {"profiles": 1, "events": 450}
    assert records[0].fields["id"] == klaviyo.people["alice"]
    events = {r.fields["id"] for r in records if r.category == "events"}
    assert events == {
        eid
        for eid, e in klaviyo.fake.events.items()
        if e["relationships"]["profile"]["data"]["id"] == klaviyo.people["alice"]
    }
    pages = klaviyo.calls("GET", "/api/events")
    assert len(pages) == 3
    assert [p.arg("page[cursor]") is None for p in pages] == [True, False, False]
    assert {p.arg("filter") for p in pages} == {f'equals(profile_id,"{klaviyo.people["alice"]}")'}


def test_locate_counts_learns_the_id_and_someone_unknown_has_nothing(klaviyo, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {"profiles": 1, "events": 450}
    assert found.identifiers == {"klaviyo_profile_id": klaviyo.people["alice"]}
    assert connector.locate(Subject("req-2", {"email": "nobody@example.com"})).found == 0


def test_an_erasure_requests_the_deletion_of_alices_profile(klaviyo, connector, alice):
    receipt, deferrals = erase_until_done(connector, alice, between=klaviyo.fake.deletions.run)

    assert [d.poll_after for d in deferrals] == [3600]  # requested: looked at again an hour later
    assert receipt.affected == 1 and receipt.by_category == {"profiles": 1}
    jobs = klaviyo.calls("POST", "/api/data-privacy-deletion-jobs")
    assert [j.json for j in jobs] == [
        {
            "data": {
                "type": "data-privacy-deletion-job",
                "attributes": {
                    "profile": {
                        "data": {"type": "profile", "id": klaviyo.people["alice"], "attributes": {}}
                    }
                },
            }
        }
    ]
    assert jobs[0].headers["content-type"] == "application/vnd.api+json"
    kept = {k["category"]: k.get("count") for k in receipt.detail["kept"]}
    assert kept == {"events": 450, "deletion_record": None}


def test_the_deletion_happens_when_klaviyo_runs_it_and_leaves_the_others(klaviyo, connector, alice):
    with pytest.raises(Deferred):  # requested, not yet done: the erasure is not called done
        connector.erase(alice)
    assert connector.locate(alice).found == 451

    klaviyo.fake.deletions.run()

    assert connector.locate(alice).found == 0
    assert set(klaviyo.fake.profiles) == {klaviyo.people["bob"], klaviyo.people["alicia"]}
    assert len(klaviyo.fake.events) == 15
    assert klaviyo.fake.deleted_profiles == [
        {"email": "alice@example.com", "phone_number": "+447700900001"}
    ]


def test_erasing_again_after_the_deletion_ran_requests_nothing(klaviyo, connector, alice):
    erase_until_done(connector, alice, between=klaviyo.fake.deletions.run)

    again = connector.erase(alice)

    assert again.affected == 0
    assert len(klaviyo.calls("POST", "/api/data-privacy-deletion-jobs")) == 1


def test_rectify_patches_the_profile_attributes(klaviyo, connector, alice):
    receipt = connector.rectify(alice, {"first_name": "Alys", "phone": "+447700900999"})

    assert receipt.affected == 1
    patch = klaviyo.calls("PATCH", r"/api/profiles/\w+")[0]
    assert patch.json == {
        "data": {
            "type": "profile",
            "id": klaviyo.people["alice"],
            "attributes": {"first_name": "Alys", "phone_number": "+447700900999"},
        }
    }
    assert klaviyo.fake.profiles[klaviyo.people["alice"]]["attributes"]["first_name"] == "Alys"
    assert klaviyo.fake.profiles[klaviyo.people["bob"]]["attributes"]["first_name"] == "Bob"
