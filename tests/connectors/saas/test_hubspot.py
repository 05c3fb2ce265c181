"""The HubSpot template against a fake HubSpot CRM that follows its OpenAPI files."""

from __future__ import annotations

from collections import Counter

import pytest

from .fake_hubspot import TOKEN, populated
from .vendor_server import serving


@pytest.fixture
def hubspot():
    with serving(populated) as server:
        yield server


@pytest.fixture
def connector(hubspot, connect):
    return connect("hubspot", hubspot.url, {"access_token": TOKEN})


def test_an_access_request_returns_alices_contact_and_all_her_notes(hubspot, connector, alice):
    records = list(connector.export(alice))

    assert Counter(r.category for r in records) == {"contacts": 1, "notes": 230}
    contact = next(r for r in records if r.category == "contacts")
    assert contact.fields["id"] == hubspot.people["alice"]
    assert contact.fields["properties"]["email"] == "alice@example.com"
    notes = {r.fields["id"] for r in records if r.category == "notes"}
    assert notes == {
        k for k, v in hubspot.fake.notes.items() if v["contact"] == contact.fields["id"]
    }
    searches = hubspot.calls("POST", "/crm/v3/objects/notes/search")
    assert [s.json.get("after") for s in searches] == [None, "100", "200"]


def test_the_search_filters_on_the_email_with_the_token_as_bearer(hubspot, connector, alice):
    connector.locate(alice)

    search = hubspot.calls("POST", "/crm/v3/objects/contacts/search")[0]
    assert search.json["filterGroups"] == [
        {"filters": [{"propertyName": "email", "operator": "EQ", "value": "alice@example.com"}]}
    ]
    assert search.headers["authorization"] == f"Bearer {TOKEN}"


def test_locate_counts_alices_contact_and_notes(hubspot, connector, alice):
    found = connector.locate(alice)

    assert found.by_category == {"contacts": 1, "notes": 230}
    assert found.identifiers == {"hubspot_contact_id": hubspot.people["alice"]}


def test_an_erasure_uses_the_gdpr_delete_and_leaves_the_others(hubspot, connector, alice):
    receipt = connector.erase(alice)

    assert receipt.affected == 1 and receipt.by_category == {"contacts": 1}
    assert receipt.detail["kept"] == []
    deletes = hubspot.calls("POST", "/crm/v3/objects/contacts/gdpr-delete")
    assert [d.json for d in deletes] == [{"objectId": hubspot.people["alice"]}]
    assert set(hubspot.fake.contacts) == {hubspot.people["bob"], hubspot.people["alicia"]}
    assert len(hubspot.fake.notes) == 8


def test_erasing_again_changes_nothing_more_and_succeeds(hubspot, connector, alice):
    connector.erase(alice)

    again = connector.erase(alice)

    assert again.affected == 0
    assert len(hubspot.calls("POST", "/crm/v3/objects/contacts/gdpr-delete")) == 1


def test_rectify_patches_the_mapped_properties(hubspot, connector, alice):
    receipt = connector.rectify(alice, {"first_name": "Alys", "phone": "+44 20 7946 0000"})

    assert receipt.affected == 1
    patch = hubspot.calls("PATCH", r"/crm/v3/objects/contacts/\d+")[0]
    assert patch.path.endswith(hubspot.people["alice"])
    assert patch.json == {"properties": {"firstname": "Alys", "phone": "+44 20 7946 0000"}}
    assert hubspot.fake.contacts[hubspot.people["alice"]]["firstname"] == "Alys"
    assert hubspot.fake.contacts[hubspot.people["bob"]]["firstname"] == "Bob"
