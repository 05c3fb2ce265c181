"""The access bundle as a person reads it (issue 13, items 5, 6 and 9).

Transfers abroad come from each system's metadata (Art. 15(2)); a fact nobody stated is
shown as being checked, and ``check_systems`` warns about it; the index works on a phone,
shows the records as tables (paged), names us and our contacts, uses plain names and one
date format; CSV files carry a UTF-8 byte-order mark.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.core.management import call_command

from connectors.memory import MemoryConnector
from dsr.core import storage
from dsr.core.audit import Actor
from dsr.core.models import Status, SystemConnection
from dsr.core.selectors import current_bundle
from dsr.engine import fanout
from dsr.results import access
from dsr.results.index import PAGE_ROWS
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db
EMAIL = "ines@example.com"
STATED = {
    "public_name": "Our web shop", "purposes": ["selling and delivering orders"],
    "data_categories": ["contact details"], "recipients": [], "retention": "6 years",
    "source": "you, when you ordered", "automated_decisions": "We make no decisions about you by automated means.",
    "country": "DE", "transfers": [],
}


@pytest.fixture(autouse=True)
def clean_memory():
    MemoryConnector.reset()
    yield
    MemoryConnector.reset()


def memory(name, records=1, **metadata):
    rows = [{"category": "orders", "fields": {"email": EMAIL, "n": i, "item": "Crème brûlée €4"}}
            for i in range(records)]
    return SystemConnection.objects.create(name=name, connector="memory", config={"records": rows}, **metadata)


def bundle(capture, regime="gdpr", country="PT") -> zipfile.ZipFile:
    request = RequestFactory(kind="access", status=Status.VERIFIED, regime=regime, country=country,
                             identifiers={"email": EMAIL})
    with capture(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    access.release(request, actor=Actor.scheduler())
    item = current_bundle(request)
    return zipfile.ZipFile(io.BytesIO(b"".join(storage.read_decrypted(item.file))))


def index(archive) -> str:
    return archive.read("index.html").decode()


def test_a_fact_nobody_stated_is_shown_as_being_checked_never_invented(django_capture_on_commit_callbacks):
    memory("crm")  # no privacy metadata at all
    page = index(bundle(django_capture_on_commit_callbacks))
    for invented in ("We make no decisions", "No one outside", "From you", "None: each of these systems"):
        assert invented not in page, invented
    facts = page[page.index("<h3>crm</h3>"):page.index("<h3>", page.index("<h3>crm</h3>") + 1)]
    assert facts.count("being checked") == 6  # purposes, kinds, recipients, retention, source, decisions
    assert "<li>crm: <span class=\"checking\">being checked</span>.</li>" in page  # transfers


def test_check_systems_warns_for_each_system_whose_metadata_is_missing(capsys):
    memory("crm")
    memory("shop", **STATED)
    call_command("check_systems")
    out = capsys.readouterr().out
    assert ("WARN crm: privacy metadata not stated: public_name, purposes, data_categories, recipients, "
            "retention, source, automated_decisions, country, transfers.") in out
    assert "WARN shop" not in out


def test_transfers_abroad_are_listed_with_their_safeguards(django_capture_on_commit_callbacks):
    memory("shop", **{**STATED, "transfers": [{"country": "US", "safeguard": "scc", "recipient": "Mail vendor"}]})
    page = index(bundle(django_capture_on_commit_callbacks))
    assert "Transfers outside the European Economic Area (EEA) (GDPR Art. 15(2))" in page
    assert "Our web shop: to United States (Mail vendor), under standard contractual clauses." in page
    assert "None: each" not in page


def test_no_transfers_is_said_only_where_every_system_says_so(django_capture_on_commit_callbacks, settings):
    memory("shop", **STATED)
    page = index(bundle(django_capture_on_commit_callbacks))
    assert "Your privacy requests to us: <span class=\"checking\">being checked</span>" in page
    assert "None: each" not in page  # where this handler keeps its own records is not stated
    settings.DSR_DATA_COUNTRY = "DE"
    page = index(bundle(django_capture_on_commit_callbacks))
    assert "None: each of these systems keeps your data in the European Economic Area (EEA)" in page


def test_data_kept_in_the_eea_is_abroad_for_a_person_in_the_uk(django_capture_on_commit_callbacks):
    memory("shop", **STATED)
    page = index(bundle(django_capture_on_commit_callbacks, regime="uk_gdpr", country="GB"))
    assert "Transfers outside the United Kingdom (UK GDPR Art. 15(2))" in page
    assert "Our web shop: kept in Germany; the safeguard is" in page and "None: each" not in page


def test_the_index_reads_well_on_a_phone_with_the_records_as_paged_tables(
    django_capture_on_commit_callbacks, settings
):
    settings.DSR_CONTROLLER_ADDRESS = "1 Market Square, Lisbon"
    settings.DSR_DPO_CONTACT = "Dana Silva, dpo@example.org"
    settings.DSR_CONTACT_EMAIL = "privacy@example.org"
    memory("shop-db", records=PAGE_ROWS * 2 + 50, **STATED)
    archive = bundle(django_capture_on_commit_callbacks)
    page = index(archive)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "Example Ltd, 1 Market Square, Lisbon" in page and "Dana Silva, dpo@example.org" in page
    assert "privacy@example.org" in page
    assert "Our web shop" in page and "shop-db</td>" not in page and "shop-db:" not in page
    assert not re.search(r"\d{4}-\d{2}-\d{2}", page)  # one date format: 2 December 2026
    assert '<a href="data/shop-db/orders-page-1.html">Read</a> (3 pages)' in page
    manifest = json.loads(archive.read("manifest.json"))
    pages = [f for f in manifest["systems"][0]["files"] if f.endswith(".html")]
    assert pages == [f"data/shop-db/orders-page-{n}.html" for n in (1, 2, 3)]
    first = archive.read(pages[0]).decode()
    assert first.count("<tr>") == PAGE_ROWS + 1 and "Crème brûlée €4" in first
    assert 'href="orders-page-2.html">Next page' in first and 'href="../../index.html"' in first
    last = archive.read(pages[2]).decode()
    assert f"Records {PAGE_ROWS * 2 + 1} to {PAGE_ROWS * 2 + 50} of {PAGE_ROWS * 2 + 50}" in last
    assert "Next page" not in last and "Previous page" in last
    assert "The rest are in" not in last
    csv_bytes = archive.read("data/shop-db/orders.csv")
    assert csv_bytes.startswith(b"\xef\xbb\xbf") and "Crème brûlée €4".encode() in csv_bytes


def test_a_very_large_category_is_paged_up_to_a_limit_and_says_where_the_rest_are(
    django_capture_on_commit_callbacks, monkeypatch
):
    from dsr.results import index as pages_html

    monkeypatch.setattr(pages_html, "MAX_PAGES", 2)
    memory("shop-db", records=PAGE_ROWS * 2 + 1, **STATED)
    archive = bundle(django_capture_on_commit_callbacks)
    assert "Read</a> (the first 2 pages; every record is in the files)" in index(archive)
    assert "data/shop-db/orders-page-3.html" not in archive.namelist()
    assert "The rest are in the JSON and CSV files." in archive.read("data/shop-db/orders-page-2.html").decode()
    assert len(json.loads(archive.read("data/shop-db/orders.json"))) == PAGE_ROWS * 2 + 1
