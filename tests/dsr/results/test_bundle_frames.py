"""The bundle reads each category from the export frames that hold it, and copies JSON it need not change.

An export whose categories alternate across many frames, with records withheld in later
frames and a field the CCPA never discloses: every file of the bundle must hold exactly
what a plain reading of the whole export says it should, in the export's order.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from dsr.core import storage
from dsr.core.models import ConnectorJob, JobStatus, SystemConnection, Withholding
from dsr.results import bundle
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


def _records() -> list[dict]:
    """Blocks of orders and visits, so that each category spans several frames and shares some."""
    records, n = [], 0
    for size, category in [(700, "orders"), (3, "visits"), (1300, "orders"), (950, "visits"), (2, "orders")]:
        for _ in range(size):
            fields = {"id": n, "note": f"=cmd{n}" if n % 97 == 0 else f"note \"{n}\" é", "amount": n / 4,
                      "ssn": f"000-00-{n:04d}", "tags": ["a", n] if n % 5 == 0 else None}
            if n % 11 == 0:
                fields["extra"] = {"nested": n}
            records.append({"category": category, "fields": fields})
            n += 1
    return records


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    return archive.read(name)


@pytest.fixture
def exported(tmp_path, settings):
    settings.DSR_EXPORT_DIR = str(tmp_path)
    system = SystemConnection.objects.create(
        name="shop", connector="memory", config={"field_categories": {"ssn": "social_security_number"}},
    )
    request = RequestFactory(kind="access", regime="ccpa", status="review")
    job = ConnectorJob.objects.create(request=request, system=system, action="export", status=JobStatus.SUCCEEDED,
                                      idempotency_key=f"{request.pk}:shop:export")
    records = _records()
    summary = storage.write_records(f"{request.pk}/{job.pk}.jsonl.enc", records)
    job.export_file, job.export_records = summary.path, summary.records
    job.save()
    return request, job, records


def test_each_category_holds_exactly_its_records_across_frames_with_withholdings(exported, tmp_path):
    request, job, records = exported
    assert len(records) > 4 * storage.BATCH  # several frames, categories sharing some
    withheld = {5, 701, 702, 2003, 2900, len(records) - 1}  # orders and visits, first and later frames
    for index in withheld:
        Withholding.objects.create(request=request, job=job, category=records[index]["category"],
                                   record_index=index, reason="a third party's data")

    relative = f"{request.pk}/bundle.zip.enc"
    info, _sha, _size = bundle.build(request, relative)
    path = tmp_path / "check.zip"
    path.write_bytes(b"".join(storage.read_decrypted(relative)))

    with zipfile.ZipFile(path) as archive:
        for category in ("orders", "visits"):
            expected = [{k: v for k, v in r["fields"].items() if k != "ssn"}
                        for i, r in enumerate(records) if r["category"] == category and i not in withheld]
            assert json.loads(_read(archive, f"data/shop/{category}.json")) == expected
            rows = list(csv.DictReader(io.StringIO(_read(archive, f"data/shop/{category}.csv").decode("utf-8-sig"))))
            assert [int(row["id"]) for row in rows] == [r["id"] for r in expected]
            assert "ssn" not in rows[0]
            for row, record in zip(rows, expected, strict=True):
                note = record["note"]
                assert row["note"] == ("'" + note if note.startswith("=") else note)  # formulas neutralised
                assert row["amount"] == str(record["amount"])
                assert row["tags"] == (json.dumps(record["tags"]) if record["tags"] else "")
                assert row["extra"] == (json.dumps(record["extra"]) if "extra" in record else "")
            (shop,) = [s for s in info["systems"] if s["name"] == "shop"]
            assert shop["records"][category] == len(expected)
    reasons = {(w["scope"], w.get("field")) for w in info["withheld"]}
    assert ("field", "ssn") in reasons and ("record", None) in reasons


def test_json_without_withheld_fields_is_copied_as_the_export_wrote_it(exported, tmp_path, settings):
    request, job, records = exported
    job.system.config = {}  # nothing withheld: the JSON is copied, not rebuilt
    job.system.save()
    relative = f"{request.pk}/bundle.zip.enc"
    bundle.build(request, relative)
    path = tmp_path / "check.zip"
    path.write_bytes(b"".join(storage.read_decrypted(relative)))
    with zipfile.ZipFile(path) as archive:
        visits = json.loads(_read(archive, "data/shop/visits.json"))
    assert visits == [r["fields"] for r in records if r["category"] == "visits"]
