"""Nothing of the person, their data or a system's secrets in clear at rest.

After the whole access journey (``journey.run_access_journey``: four systems export,
the bundle is built and downloaded), the raw rows of every table the product keeps
(every text, JSON and binary column, read with plain SQL, not through the models) and
every file under the export directory (exported records and the bundle) are searched
for the person's email, name and phone, for every value the systems exported, and for
the systems' secrets. The connected system played by the demo shop's own tables keeps
its data in clear by design and is not searched.
"""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from dsr.core import storage
from dsr.core.models import ConnectorJob, Note, ResultBundle
from tests.conftest import IN_CI

from .journey import clinic_dsn, run_access_journey, shop_dsn  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def product_columns() -> dict[str, list[tuple[str, str]]]:
    """Every column of every table except the demo shop's (a connected system), from the
    database's own catalog (Django's introspection, so on PostgreSQL and SQLite alike).
    The kind is "binary" for binary columns, "value" for the rest."""
    introspection = connection.introspection
    columns: dict[str, list[tuple[str, str]]] = {}
    with connection.cursor() as cursor:
        for table in sorted(introspection.table_names(cursor)):
            if table.startswith("demo_shop_"):
                continue
            for column in introspection.get_table_description(cursor, table):
                try:
                    field_type = introspection.get_field_type(column.type_code, column)
                except KeyError:
                    field_type = ""
                kind = "binary" if field_type == "BinaryField" else "value"
                columns.setdefault(table, []).append((column.name, kind))
    return columns


def raw_values(table: str, columns: list[tuple[str, str]]) -> list[tuple[str, bytes]]:
    """(table.column, raw bytes) for every non-empty cell, as the database hands them out."""
    as_text = "::text" if connection.vendor == "postgresql" else ""
    quoted = ", ".join(connection.ops.quote_name(c) + ("" if k == "binary" else as_text) for c, k in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # names from the catalog
        rows = cursor.fetchall()
    cells = []
    for row in rows:
        for (column, _), value in zip(columns, row, strict=True):
            if value is not None:
                raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                cells.append((f"{table}.{column}", raw))
    return cells


def found_in(cells: list[tuple[str, bytes]], needles: list[str]) -> list[str]:
    hits = []
    for where, raw in cells:
        lowered = raw.lower()
        for needle in needles:
            if needle.lower().encode() in lowered:
                hits.append(f"{needle!r} in {where}")
    return hits


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.DSR_EXPORT_DIR = str(tmp_path / "exports")
    return Path(settings.DSR_EXPORT_DIR)


def test_after_a_whole_access_request_nothing_is_stored_in_clear(
    export_dir, clinic_dsn, django_capture_on_commit_callbacks  # noqa: F811
):
    journey = run_access_journey(django_capture_on_commit_callbacks, clinic_dsn)
    needles = [*journey.identifiers, *journey.record_values, *journey.secrets]

    # The database, read raw.
    columns = product_columns()
    for table in ["dsr_datasubjectrequest", "dsr_connectorjob", "dsr_systemconnection", "dsr_auditevent",
                  "dsr_verification", "dsr_resultbundle", "django_session"]:
        assert table in columns, f"{table} was not searched"
    cells = [cell for table, cols in columns.items() for cell in raw_values(table, cols)]
    assert len(cells) > 200  # the journey's rows really were read
    assert not found_in(cells, needles)

    # The files: one per export job and the bundle, none a readable ZIP or JSON.
    files = sorted(p for p in export_dir.rglob("*") if p.is_file())
    exports = ConnectorJob.objects.filter(request=journey.request, action="export").exclude(export_file="")
    bundle = ResultBundle.objects.get(request=journey.request)
    expected = {export_dir / j.export_file for j in exports} | {export_dir / bundle.file}
    assert len(exports) == 4 and set(files) == expected, (files, expected)
    for path in files:
        raw = path.read_bytes()
        assert b"PK\x03\x04" not in raw and b'"fields"' not in raw, path
        assert not found_in([(str(path), raw)], needles)

    # And yet they hold it all: decrypted, the same files give the records and the ZIP back.
    decrypted = "".join(str(r) for j in exports for r in storage.read_records(j.export_file))
    assert all(value in decrypted for value in journey.record_values)
    zipped = b"".join(storage.read_decrypted(bundle.file))
    assert zipped == journey.zip_bytes and zipfile.ZipFile(io.BytesIO(zipped)).testzip() is None


def test_the_search_would_see_a_value_stored_in_clear():
    """The raw reading is not blind: a value kept in clear on purpose (the request's public
    reference) is found in its very column, while an email written into an officer's note
    (encrypted) and the request's own email (encrypted) are not."""
    from tests.factories import RequestFactory

    request = RequestFactory()
    Note.objects.create(request=request, text="called zelda.quixote-nakamura@example.net back")
    own = raw_values("dsr_datasubjectrequest", product_columns()["dsr_datasubjectrequest"])
    assert found_in(own, [request.reference]) == [f"'{request.reference}' in dsr_datasubjectrequest.reference"]
    assert not found_in(own, [request.email])
    notes = raw_values("dsr_note", product_columns()["dsr_note"])
    assert notes and not found_in(notes, ["Zelda.Quixote-Nakamura@example.net", "quixote"])
    assert Note.objects.get(request=request).text == "called zelda.quixote-nakamura@example.net back"


def test_the_cache_holds_no_identifier_either(client):
    """Rate-limit counters are keyed by keyed hashes, never by an email in clear."""
    if not settings.REDIS_URL:
        if IN_CI:
            pytest.fail("CI must run this against Redis: REDIS_URL is not set")
        pytest.skip("no Redis configured: the cache is in process memory")
    import redis

    email = "counted.person@example.net"
    for _ in range(2):
        client.post("/api/v1/requests/", {"kind": "access", "email": email, "country": "DE"},
                    content_type="application/json")
    store = redis.Redis.from_url(settings.REDIS_URL)
    keys = [k for k in store.scan_iter("*") if b"dsr" in k]
    assert keys, "the filings were not counted in Redis"
    stored = b" ".join(keys + [store.dump(k) or b"" for k in keys])
    assert email.encode() not in stored.lower() and b"counted.person" not in stored.lower()


def test_no_authenticator_secret_is_stored_in_clear():
    """A desk user's TOTP secret is in no raw column, neither as hex nor as base32 (the
    form an authenticator app is given)."""
    from tests.dsr.desk.users import device_of, make_user

    device = device_of(make_user("pat", "officer"))
    secret_hex = device.bin_key.hex()
    secret_b32 = base64.b32encode(device.bin_key).decode().rstrip("=")
    assert len(secret_hex) == 40 and len(secret_b32) == 32
    columns = product_columns()
    cells = [cell for table, cols in columns.items() for cell in raw_values(table, cols)]
    assert not found_in(cells, [secret_hex, secret_b32])
