"""The Salesforce template against a fake org that follows the REST API Developer Guide."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.base import ConnectorError, Subject

from .fake_salesforce import BASE, CLIENT_ID, CLIENT_SECRET, errors, populated
from .vendor_server import erase_again, serving

SECRETS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
QUERY = f"{BASE}/query"


@pytest.fixture
def salesforce():
    with serving(populated) as server:
        yield server


@pytest.fixture
def connector(salesforce, connect):
    return connect("salesforce", salesforce.url, SECRETS, my_domain="acme")


def alices(salesforce) -> set[str]:
    return salesforce.people["alice"] | salesforce.people["alice_leads"]


def test_an_access_request_returns_exactly_alices_contacts_and_leads_across_batches(
    salesforce, connector, alice
):
    records = list(connector.export(alice))

    assert Counter(r.category for r in records) == {"contacts": 210, "leads": 2}
    assert {r.fields["Id"] for r in records} == alices(salesforce)
    assert {r.fields["Email"].lower() for r in records} == {"alice@example.com"}
    assert all("attributes" not in r.fields and "MailingCountry" in r.fields
               for r in records if r.category == "contacts")  # fmt: skip
    first, more, leads = salesforce.calls("GET", rf"{QUERY}(/.*)?")
    assert first.arg("q") == (
        "SELECT FIELDS(STANDARD) FROM Contact WHERE Email = 'alice@example.com'"
    )
    assert first.headers["sforce-query-options"] == "batchSize=200"
    assert more.path.startswith(f"{QUERY}/01g") and more.query == {}  # nextRecordsUrl, as is
    assert "FROM Lead" in leads.arg("q")


def test_the_token_comes_from_the_client_credentials_flow_and_is_reused(
    salesforce, connector, alice
):
    connector.locate(alice)
    connector.locate(alice)

    tokens = salesforce.calls("POST", "/services/oauth2/token")
    assert [t.form for t in tokens] == [
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ]
    assert "authorization" not in tokens[0].headers
    issued = salesforce.fake.tokens.issued
    assert {r.headers["authorization"] for r in salesforce.requests[1:]} == {f"Bearer {issued[0]}"}


def test_an_expired_session_fetches_a_new_token_once(salesforce, connector, alice):
    connector.locate(alice)
    salesforce.fake.tokens.valid.clear()  # the org's session timeout, which the answer never gave

    assert connector.locate(alice).found == 212
    assert len(salesforce.fake.tokens.issued) == 2


def test_locate_counts_alices_records_and_learns_her_ids(salesforce, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {"contacts": 210, "leads": 2} and found.found == 212
    assert found.identifiers["salesforce_contact_id"] in salesforce.people["alice"]
    assert found.identifiers["salesforce_lead_id"] in salesforce.people["alice_leads"]


@pytest.mark.parametrize(
    ("email", "literal", "found"),
    [
        ("o'brien@example.com", "o\\'brien@example.com", {"leads": 1}),
        ("x' OR Email != '", "x\\' OR Email != \\'", {}),
    ],
)
def test_the_address_is_escaped_into_the_soql_literal(salesforce, connector, email, literal, found):
    located = connector.locate(Subject("req-2", {"email": email}))

    assert located.by_category == found
    assert salesforce.calls("GET", QUERY)[0].arg("q").endswith(f"WHERE Email = '{literal}'")


def test_an_erasure_deletes_alices_contacts_and_leads_and_nobody_elses(
    salesforce, connector, alice
):
    receipt = connector.erase(alice)

    assert receipt.by_category == {"contacts": 210, "leads": 2} and receipt.affected == 212
    assert salesforce.fake.recycle_bin == alices(salesforce)
    deleted = {r.path.rsplit("/", 1)[1] for r in salesforce.calls("DELETE", rf"{BASE}/sobjects/.+")}
    assert deleted == alices(salesforce)
    kept = {k["category"]: k for k in receipt.detail["kept"]}
    assert kept["contacts"]["count"] == 210 and "Recycle Bin" in kept["contacts"]["reason"]
    assert connector.locate(alice).found == 0
    assert connector.locate(Subject("req-b", {"email": "bob@example.com"})).found == 4


def test_erasing_again_changes_nothing_more_and_succeeds(salesforce, connector, alice):
    again, more = erase_again(connector, alice, salesforce, "DELETE", rf"{BASE}/sobjects/.+")

    assert again.affected == 0 and again.by_category == {} and more == 0


def test_a_record_deleted_in_between_counts_as_already_gone(salesforce, connector, alice):
    salesforce.fail_once(
        errors(404, "ENTITY_IS_DELETED", "entity is deleted"),
        when=lambda r: r.method == "DELETE" and "/Lead/" in r.path,
    )

    receipt = connector.erase(alice)

    assert receipt.by_category == {"contacts": 210, "leads": 1}


def test_a_next_records_url_on_another_host_is_not_followed(salesforce, connector, alice):
    salesforce.fail_once(
        (200, {"totalSize": 400, "done": False, "records": [],
               "nextRecordsUrl": "https://collector.evil.example/services/data/v64.0/query/x"}),
        when=lambda r: r.path == QUERY,
    )  # fmt: skip

    with pytest.raises(ConnectorError) as refused:
        connector.locate(alice)

    assert refused.value.permanent and "another host; not followed" in refused.value.message


def test_rectify_changes_the_name_on_each_of_alices_records(salesforce, connector, alice):
    receipt = connector.rectify(alice, {"last_name": "Pleasance Liddell"})

    assert receipt.by_category == {"contacts": 210, "leads": 2}
    patches = salesforce.calls("PATCH", rf"{BASE}/sobjects/.+")
    assert {p.path.rsplit("/", 1)[1] for p in patches} == alices(salesforce)
    assert all(p.json == {"LastName": "Pleasance Liddell"} for p in patches)
    names = {salesforce.fake.records[i]["LastName"] for i in salesforce.people["bob"]}
    assert names == {"Builder"}


def test_the_check_passes_and_a_wrong_secret_is_a_permanent_error(salesforce, connect):
    connect("salesforce", salesforce.url, SECRETS, my_domain="acme").check()
    wrong = {**SECRETS, "client_secret": "not-the-consumer-secret"}

    with pytest.raises(ConnectorError) as refused:
        connect("salesforce", salesforce.url, wrong, my_domain="acme").check()

    assert refused.value.permanent
    assert "answered 400: invalid client credentials" in refused.value.message
    assert "not-the-consumer-secret" not in refused.value.message
    assert salesforce.calls("GET", f"{BASE}/")  # the check's request, with the right secret


def test_the_template_builds_the_my_domain_urls(connect):
    connector = connect("salesforce", "", SECRETS, my_domain="acme")

    assert connector.client.base_url == "https://acme.my.salesforce.com"
