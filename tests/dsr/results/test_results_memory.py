"""Memory stays bounded when one person has a great many records (export and bundle both stream)."""

from __future__ import annotations

import tracemalloc
import zipfile

import psycopg
import pytest

from dsr.core import storage
from dsr.core.audit import Actor
from dsr.core.models import ResultBundle, Status, SystemConnection
from dsr.engine import fanout
from dsr.results import access
from tests.dsr.results.test_results import shop_dsn  # noqa: F401 - the scratch PostgreSQL database fixture
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db
RECORDS = 200_000
LIMIT_MB = 64


@pytest.fixture
def big_shop(shop_dsn):  # noqa: F811
    with psycopg.connect(shop_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events, member")
        conn.execute("CREATE TABLE member (id serial PRIMARY KEY, email text)")
        conn.execute("CREATE TABLE events (id serial PRIMARY KEY, member_id int REFERENCES member(id), "
                     "kind text, page text, at timestamptz)")
        conn.execute("INSERT INTO member (email) VALUES ('heavy@example.com')")
        conn.execute(
            "INSERT INTO events (member_id, kind, page, at) SELECT 1, 'view', '/products/' || g, "
            "now() - g * interval '1 minute' FROM generate_series(1, %s) g", (RECORDS,)
        )
    return shop_dsn


def test_a_subject_with_200000_records_exports_and_bundles_in_bounded_memory(
    big_shop, django_capture_on_commit_callbacks, capsys
):
    SystemConnection.objects.create(
        name="analytics", connector="postgres", secrets={"dsn": big_shop},
        config={"tables": [
            {"table": "member", "identifiers": {"email": "email"}, "erase": {"mode": "delete"}},
            {"table": "events", "via": {"column": "member_id", "parent": "member"}, "erase": {"mode": "delete"}},
        ]},
    )
    request = RequestFactory(kind="access", status=Status.VERIFIED, identifiers={"email": "heavy@example.com"})
    tracemalloc.start()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            fanout.approve(request, actor=Actor.scheduler())
        request.refresh_from_db()
        assert request.status == Status.REVIEW
        item = access.release(request, actor=Actor.scheduler())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    peak_mb = peak / 1024 / 1024
    with capsys.disabled():
        print(f"\n[memory] export + bundle of {RECORDS + 1} records: peak traced Python memory {peak_mb:.1f} MB")
    assert peak_mb < LIMIT_MB
    (analytics,) = [s for s in item.manifest["systems"] if s["name"] == "analytics"]
    assert sum(analytics["records"].values()) == RECORDS + 1
    # The bundle really holds them all: count the JSON objects in the events file as it streams.
    path = storage.export_root() / "check.zip"
    with open(path, "wb") as fh:
        fh.writelines(storage.read_decrypted(ResultBundle.objects.get(pk=item.pk).file))
    with zipfile.ZipFile(path) as archive, archive.open("data/analytics/events.csv") as rows:
        assert sum(1 for _ in rows) == RECORDS + 1  # the header and one line per record
    path.unlink()
