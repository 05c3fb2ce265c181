"""The Segment template: a deletion that finishes later, followed through Deferred state."""

from __future__ import annotations

import pytest

from connectors.base import Action, ConnectorError, Deferred, JobContext, Subject

from .fake_segment import TOKEN, FakeSegment
from .vendor_server import VendorServer, erase_until_done


@pytest.fixture
def segment():
    with VendorServer(FakeSegment()) as server:
        yield server


@pytest.fixture
def connector(segment, connect):
    return connect("segment", segment.url, {"token": TOKEN})


@pytest.fixture
def alice() -> Subject:
    return Subject("req-alice", {"email": "alice@example.com", "customer_id": "cust-alice-42"})


def test_the_template_only_erases(connector):
    assert connector.actions == frozenset({Action.ERASE})


def test_the_first_call_starts_the_regulation_and_defers_with_a_poll_hint(
    segment, connector, alice
):
    with pytest.raises(Deferred) as started:
        connector.erase(alice, job=JobContext("job-1", "idem-1"))

    create = segment.calls("POST", "/regulations")
    assert [c.json for c in create] == [
        {
            "regulationType": "SUPPRESS_WITH_DELETE",
            "subjectType": "USER_ID",
            "subjectIds": ["cust-alice-42"],
        }
    ]
    assert started.value.poll_after == 21600
    assert started.value.state["erase"]["polls"] == [{"step": 0, "id": "reg1"}]
    assert "cust-alice-42" not in started.value.message


def test_the_deletion_is_polled_to_completion_and_then_receipted(segment, connector, alice):
    receipt, deferrals = erase_until_done(connector, alice)

    assert len(deferrals) == 3  # started, then INITIALIZED, then RUNNING
    assert receipt.affected == 1 and receipt.by_category == {"events": 1}
    assert receipt.detail["vendor_deletions"] == [{"id": "reg1", "status": "FINISHED"}]
    assert receipt.detail["kept"][0]["category"] == "destination_copies"
    assert len(segment.calls("POST", "/regulations")) == 1  # started once, never again
    assert len(segment.calls("GET", "/regulations/reg1")) == 3
    assert segment.fake.users_with_data == {"cust-bob-7"}


def test_a_status_request_that_fails_transiently_asks_again_later(segment, connector, alice):
    segment.fail_once(
        (503, {"errors": [{"type": "unavailable", "message": "Service Unavailable"}]}),
        when=lambda r: r.method == "GET" and r.path.startswith("/regulations/"),
    )

    receipt, deferrals = erase_until_done(connector, alice)

    assert "503" in deferrals[1].message and deferrals[1].poll_after == 60
    assert receipt.detail["vendor_deletions"] == [{"id": "reg1", "status": "FINISHED"}]
    assert len(segment.calls("POST", "/regulations")) == 1


def test_a_failed_regulation_is_a_permanent_error(segment, connector, alice):
    segment.fake.progress = ["RUNNING", "FAILED"]

    with pytest.raises(ConnectorError) as failed:
        erase_until_done(connector, alice)

    assert failed.value.permanent and "'FAILED'" in failed.value.message


def test_someone_without_a_segment_user_id_is_skipped_without_a_request(segment, connector):
    receipt = connector.erase(Subject("req-2", {"email": "carol@example.com"}))

    assert receipt.affected == 0 and receipt.detail["skipped"] == ["erase.0"]
    assert segment.calls("POST", "/regulations") == []


def test_the_identifier_kind_used_as_user_id_is_a_setting(segment, connect):
    connector = connect("segment", segment.url, {"token": TOKEN}, user_id_identifier="email")

    with pytest.raises(Deferred):
        connector.erase(Subject("req-3", {"email": "dora@example.com"}))

    assert segment.calls("POST", "/regulations")[0].json["subjectIds"] == ["dora@example.com"]
