"""The SendGrid template against a fake SendGrid that follows its OpenAPI files: a contact
found by e-mail, deleted by a job that finishes later, and suppressions that stay."""

from __future__ import annotations

import pytest

from connectors.base import Action, ConnectorError, Deferred, JobContext, Subject

from .deferred import erase_until_done
from .fake_sendgrid import KEY, populated
from .vendor_server import serving


@pytest.fixture
def sendgrid():
    with serving(populated) as server:
        yield server


@pytest.fixture
def connector(sendgrid, connect):
    return connect("sendgrid", sendgrid.url, {"api_key": KEY})


def test_the_template_finds_and_erases_but_does_not_rectify(connector):
    assert connector.actions == frozenset({Action.LOCATE, Action.EXPORT, Action.ERASE})


def test_the_search_sends_the_email_with_the_key_as_bearer(sendgrid, connector, alice):
    connector.locate(alice)

    search = sendgrid.calls("POST", "/v3/marketing/contacts/search/emails")[0]
    assert search.json == {"emails": ["alice@example.com"]}
    assert search.headers["authorization"] == f"Bearer {KEY}"


def test_an_access_request_returns_alices_contact_and_nobody_elses(sendgrid, connector, alice):
    records = list(connector.export(alice))

    assert [(r.category, r.fields["id"]) for r in records] == [
        ("contacts", sendgrid.people["alice"])
    ]
    assert records[0].fields["alternate_emails"] == ["a.liddell@example.org"]


def test_locate_counts_learns_the_id_and_someone_unknown_has_nothing(sendgrid, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {"contacts": 1}
    assert found.identifiers == {"sendgrid_contact_id": sendgrid.people["alice"]}
    nobody = connector.locate(Subject("req-2", {"email": "nobody@example.com"}))
    assert nobody.found == 0 and nobody.by_category == {}


def test_an_alternate_address_finds_the_same_contact(sendgrid, connector):
    found = connector.locate(Subject("req-3", {"email": "A.Liddell@example.org"}))

    assert found.identifiers == {"sendgrid_contact_id": sendgrid.people["alice"]}


def test_the_first_erase_starts_the_deletion_job_and_defers(sendgrid, connector, alice):
    with pytest.raises(Deferred) as started:
        connector.erase(alice, job=JobContext("job-1", "idem-1"))

    delete = sendgrid.calls("DELETE", "/v3/marketing/contacts")
    assert [d.query for d in delete] == [{"ids": [sendgrid.people["alice"]]}]
    job_id = next(iter(sendgrid.fake.jobs))
    assert started.value.state["erase"]["polls"] == [{"step": 0, "id": job_id}]
    assert started.value.poll_after == 600
    assert sendgrid.people["alice"] in sendgrid.fake.contacts  # not before the job has run


def test_the_job_is_polled_until_completed_and_only_alices_contact_goes(sendgrid, connector, alice):
    receipt, deferrals = erase_until_done(connector, alice)

    assert len(deferrals) == 3  # started, then pending, pending
    assert receipt.affected == 1 and receipt.by_category == {"contacts": 1}
    job_id = next(iter(sendgrid.fake.jobs))
    assert receipt.detail["vendor_deletions"] == [{"id": job_id, "status": "completed"}]
    assert len(sendgrid.calls("GET", r"/v3/marketing/contacts/imports/[\w-]+")) == 3
    assert set(sendgrid.fake.contacts) == {sendgrid.people["bob"], sendgrid.people["alicia"]}
    assert connector.locate(alice).found == 0


def test_suppressions_are_kept_and_reported_as_kept(sendgrid, connector, alice):
    receipt, _ = erase_until_done(connector, alice)

    kept = {k["category"]: k for k in receipt.detail["kept"]}
    assert set(kept) == {"unsubscribes", "bounces", "email_activity"}
    assert all("count" not in k for k in kept.values())  # no step reads them
    assert "alice@example.com" in sendgrid.fake.global_unsubscribes
    assert "alice@example.com" in sendgrid.fake.bounces


def test_erasing_again_finds_no_contact_and_starts_no_job(sendgrid, connector, alice):
    erase_until_done(connector, alice)

    again = connector.erase(alice)

    assert again.affected == 0
    assert len(sendgrid.calls("DELETE", "/v3/marketing/contacts")) == 1
    assert len(sendgrid.fake.jobs) == 1


def test_a_job_that_errored_is_a_permanent_error(sendgrid, connector, alice):
    sendgrid.fake.progress = ["pending", "errored"]

    with pytest.raises(ConnectorError) as failed:
        erase_until_done(connector, alice)

    assert failed.value.permanent and "'errored'" in failed.value.message
    assert sendgrid.people["alice"] in sendgrid.fake.contacts
