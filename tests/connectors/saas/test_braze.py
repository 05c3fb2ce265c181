"""The Braze template against a fake Braze that follows its documentation sources: every
profile with the person's e-mail, deleted by braze_id in a queue Braze runs later."""

from __future__ import annotations

import pytest

from connectors.base import Deferred, Subject
from connectors.saas.connector import SaasConnector

from .deferred import erase_until_done
from .fake_braze import KEY, populated
from .vendor_server import serving

ALICE = ("alice", "alice_anonymous")
HOST = "rest.iad-01.braze.com"


@pytest.fixture
def braze():
    with serving(populated) as server:
        yield server


@pytest.fixture
def connector(braze, connect):
    return connect("braze", braze.url, {"api_key": KEY}, rest_host=HOST)


def test_the_instance_host_makes_the_base_url():
    connector = SaasConnector(
        name="b",
        config={"template": "braze", "rest_host": "rest.fra-01.braze.eu"},
        secrets={"api_key": KEY},
    )

    assert connector.client.base_url == "https://rest.fra-01.braze.eu"
    connector.close()


def test_the_export_asks_by_email_for_every_documented_field(braze, connector, alice):
    connector.locate(alice)

    export = braze.calls("POST", "/users/export/ids")[0]
    assert export.json["email_address"] == "alice@example.com"
    assert {"braze_id", "email", "custom_attributes", "purchases", "devices"} <= set(
        export.json["fields_to_export"]
    )
    assert set(export.json) == {"email_address", "fields_to_export"}
    assert export.headers["authorization"] == f"Bearer {KEY}"


def test_an_access_request_returns_both_of_alices_profiles_and_no_one_else(braze, connector, alice):
    records = list(connector.export(alice))

    assert [r.category for r in records] == ["users", "users"]
    assert {r.fields["braze_id"] for r in records} == {braze.people[n] for n in ALICE}
    identified = next(r.fields for r in records if r.fields.get("external_id"))
    assert identified["purchases"][0]["name"] == "item_40834"


def test_locate_counts_and_someone_unknown_has_nothing(braze, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {"users": 2}
    assert found.identifiers["braze_id"] in {braze.people[n] for n in ALICE}
    assert connector.locate(Subject("req-2", {"email": "nobody@example.com"})).found == 0


def test_an_erasure_deletes_each_of_alices_profiles_by_braze_id(braze, connector, alice):
    receipt, deferrals = erase_until_done(connector, alice, between=braze.fake.deletions.run)

    assert [d.poll_after for d in deferrals] == [3600]  # queued: looked at again an hour later
    assert "has not yet carried out the deletion" in deferrals[0].message
    assert receipt.affected == 2 and receipt.by_category == {"users": 2}
    deletes = [d.json for d in braze.calls("POST", "/users/delete")]
    assert sorted(deletes, key=str) == sorted(
        ({"braze_ids": [braze.people[n]]} for n in ALICE), key=str
    )
    kept = {k["category"]: k.get("count") for k in receipt.detail["kept"]}
    assert kept == {"exported_events": None, "statistics": None}


def test_the_queued_deletion_happens_when_braze_runs_it_and_leaves_the_others(
    braze, connector, alice
):
    with pytest.raises(Deferred):  # queued, not yet done: the erasure is not called done
        connector.erase(alice)
    assert connector.locate(alice).found == 2

    braze.fake.deletions.run()

    assert connector.locate(alice).found == 0
    assert set(braze.fake.users) == {braze.people["bob"], braze.people["alicia"]}


def test_erasing_again_after_the_queue_ran_sends_nothing(braze, connector, alice):
    erase_until_done(connector, alice, between=braze.fake.deletions.run)

    again = connector.erase(alice)

    assert again.affected == 0
    assert len(braze.calls("POST", "/users/delete")) == 2


def test_rectify_tracks_the_new_name_on_each_existing_profile(braze, connector, alice):
    receipt = connector.rectify(alice, {"first_name": "Alys", "last_name": "Hargreaves"})

    assert receipt.affected == 2
    tracked = [t.json["attributes"] for t in braze.calls("POST", "/users/track")]
    assert sorted(a[0]["braze_id"] for a in tracked) == sorted(braze.people[n] for n in ALICE)
    assert all(
        a
        == [
            {
                "braze_id": a[0]["braze_id"],
                "_update_existing_only": True,
                "first_name": "Alys",
                "last_name": "Hargreaves",
            }
        ]
        for a in tracked
    )
    assert {braze.fake.users[braze.people[n]]["first_name"] for n in ALICE} == {"Alys"}
    assert braze.fake.users[braze.people["bob"]]["first_name"] == "Bob"


def test_email_and_phone_are_not_offered_for_rectification(braze, connector, alice):
    """In /users/track they also identify the user: they are left alone, and the receipt says so."""
    receipt = connector.rectify(alice, {"email": "alys@example.com", "phone": "+447700900999"})

    assert (receipt.affected, receipt.detail["ignored"]) == (0, ["email", "phone"])
    assert not braze.calls("POST", "/users/track")
