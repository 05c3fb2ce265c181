"""The access/portability bundle: one ZIP, built by streaming, encrypted as it is written.

Layout (documented in docs/bundle.md)::

    manifest.json                  request, systems, counts, withholdings, schema version
    index.html                     readable offline: who we are, the records, what the law asks us to say
    data/<system>/<category>.json  the records, a JSON array of objects
    data/<system>/<category>.csv   the same, one row per record (UTF-8 with a byte-order mark)
    data/<system>/<category>-page-<n>.html  the same as readable tables, index.PAGE_ROWS a page

Records are read from each job's encrypted export, a category at a time, so memory
stays bounded however many there are. The ZIP goes straight into an encrypting
writer; it is never on disk in clear.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from django.utils import timezone

from dsr.core import law, storage
from dsr.core.models import (
    ConnectorJob,
    DataSubjectRequest,
    JobStatus,
    Kind,
    SystemConnection,
    Withholding,
)

from . import index as pages_html
from . import own_records

SCHEMA_VERSION = "1.0"
# CCPA §7024(d): never disclosed, whatever the request.
CCPA_NEVER_DISCLOSED = {
    "social_security_number": "a social security number",
    "drivers_license_number": "a driver's licence number",
    "financial_account_number": "a financial account number",
}
# What a spreadsheet reads as the start of a formula: the ASCII signs and their full-width
# twins, which spreadsheets fold to ASCII. A control character at the start is neutralised too.
_FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\t", "\r", "\n")
# Leading characters a spreadsheet drops before it looks for a formula.
_IGNORED_LEAD = "\"' \t\r\n\u00a0\u3000"
_PLAIN_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_JSON = msgspec.json.Encoder(enc_hook=str)  # one record per line of the category's JSON file
# A first character after which no formula can follow: the cell is kept as it is, unlooked at.
_RISKY_FIRST = frozenset(_FORMULA_START) | frozenset(_IGNORED_LEAD)
# Values the csv module writes as their ``str`` (None as an empty cell): never a formula.
_CSV_AS_IS = frozenset({int, float, bool, type(None)})
_WRITE_BYTES = 256 * 1024


def file_name(name: str) -> str:
    """One path segment from a name that came from outside (a system's category): never a path.

    Letters, digits, spaces, ``_``, ``.`` and ``-`` stay; anything else (``/``, ``\\``, NUL...)
    becomes ``_`` and dots and spaces at either end go. A name that changed gets a short hash
    of the original, so two names never share a file.
    """
    safe = re.sub(r"[^\w .-]", "_", name).strip(" .")[:100]
    if safe != name:
        safe = f"{safe or 'records'}-{hashlib.sha256(name.encode('utf-8', 'replace')).hexdigest()[:8]}"
    return safe


def csv_cell(value: Any) -> str:
    """A spreadsheet-safe cell: nested values as JSON, formulas neutralised with a quote.

    A formula hidden behind spaces or quotes (``" =1+1"``, ``"\\"=1+1"``) or written with
    full-width signs (``＝1+1``) is neutralised too; a plain number such as ``-2`` stays a number.
    """
    if value is None:
        return ""
    if type(value) in (int, float, bool):  # most cells of a large export: never a formula
        return str(value)
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    if not text or text[0] not in _RISKY_FIRST:
        return text
    if _PLAIN_NUMBER.fullmatch(text):  # -2 is a number, not a formula
        return text
    if text.startswith(_FORMULA_START) or text.lstrip(_IGNORED_LEAD).startswith(_FORMULA_START):
        return "'" + text
    return text


@dataclass
class CategoryPlan:
    system: str
    category: str
    job: ConnectorJob | None  # None: records we hold ourselves, in ``rows``
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] | None = None
    count: int = 0
    withheld_records: set[int] = field(default_factory=set)
    withheld_fields: dict[str, str] = field(default_factory=dict)  # field → why
    # The export file's frames that hold this category's records: (offset, index of the
    # frame's first record in the file), so that writing the category reads only those.
    frames: list[tuple[int, int]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"data/{file_name(self.system)}/{file_name(self.category)}"


def _ccpa_fields(job: ConnectorJob, regime: str) -> dict[str, str]:
    """Fields the system's config marks as a category the CCPA forbids disclosing."""
    cite = law.law_for(regime).cite.get("never_disclosed")
    if not cite:
        return {}
    marked = job.system.config.get("field_categories", {})
    return {
        name: f"{cite}: {CCPA_NEVER_DISCLOSED[kind]} is never disclosed"
        for name, kind in marked.items()
        if kind in CCPA_NEVER_DISCLOSED
    }


def _records(p: CategoryPlan) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index within the job's export, fields) for one category."""
    if p.rows is not None:
        yield from enumerate(p.rows)
        return
    first_of = dict(p.frames)
    for offset, records in storage.read_frames(p.job.export_file, first_of):
        for index, record in enumerate(records, first_of[offset]):
            if record.get("category") == p.category:
                yield index, record.get("fields") or {}


def _raw_records(p: CategoryPlan) -> Iterator[tuple[int, bytes]]:
    """(index, the fields' JSON as the export wrote it) for one category: copied, never parsed."""
    first_of = dict(p.frames)
    for offset, lines in storage.read_lines(p.job.export_file, first_of):
        for index, line in enumerate(lines, first_of[offset]):
            if line.category == p.category:
                fields = bytes(line.fields)
                yield index, b"{}" if fields == b"null" else fields


def _own_plans(request: DataSubjectRequest) -> list[CategoryPlan]:
    """What this handler holds about the person's requests, as one more system (access only)."""
    if request.kind != Kind.ACCESS:
        return []
    by_category: dict[str, CategoryPlan] = {}
    for category, fields in own_records.records(request):
        entry = by_category.setdefault(category, CategoryPlan(own_records.SYSTEM, category, None, rows=[]))
        entry.rows.append(fields)
        entry.count += 1
        entry.columns.extend(name for name in fields if name not in entry.columns)
    return list(by_category.values())


def plan(request: DataSubjectRequest) -> list[CategoryPlan]:
    """One pass over each export: the categories, their columns and counts, what is withheld."""
    jobs = (
        request.jobs.filter(status=JobStatus.SUCCEEDED, action="export")
        .exclude(export_file="")
        .select_related("system")
        .order_by("system__name")
    )
    withheld = list(Withholding.objects.filter(request=request))
    plans: list[CategoryPlan] = []
    for job in jobs:
        by_category: dict[str, CategoryPlan] = {}
        ccpa = _ccpa_fields(job, request.regime)
        whole = {w.category for w in withheld if w.job_id == job.pk and w.record_index is None}
        single = {(w.category, w.record_index) for w in withheld if w.job_id == job.pk and w.record_index is not None}
        seen: dict[Any, Any] = {}  # category → the last record's field names, most often every record's
        start = 0  # the index of the frame's first record in the file
        for offset, records in storage.read_frames(job.export_file):
            for index, record in enumerate(records, start):
                category = record.get("category", "records")
                if category in whole:
                    continue
                entry = by_category.get(category)
                if entry is None:
                    entry = by_category[category] = CategoryPlan(job.system.name, category, job)
                if not entry.frames or entry.frames[-1][0] != offset:
                    entry.frames.append((offset, start))
                if (category, index) in single:
                    entry.withheld_records.add(index)
                    continue
                entry.count += 1
                names = (record.get("fields") or {}).keys()
                if names == seen.get(category):
                    continue
                seen[category] = names
                for name in names:
                    if name in ccpa:
                        entry.withheld_fields[name] = ccpa[name]
                    elif name not in entry.columns:
                        entry.columns.append(name)
            start += len(records)
        plans.extend(by_category[c] for c in sorted(by_category))
    return plans + _own_plans(request)


def _withheld_list(request: DataSubjectRequest, plans: list[CategoryPlan]) -> list[dict[str, Any]]:
    listed = [
        {
            "system": w.job.system.name,
            "category": w.category,
            "scope": "category" if w.record_index is None else "record",
            "reason": w.reason,
        }
        for w in Withholding.objects.filter(request=request).select_related("job__system")
    ]
    for p in plans:
        listed.extend(
            {"system": p.system, "category": p.category, "scope": "field", "field": name, "reason": why}
            for name, why in sorted(p.withheld_fields.items())
        )
    return listed


def manifest(request: DataSubjectRequest, plans: list[CategoryPlan], generated_at: str) -> dict[str, Any]:
    systems: dict[str, dict[str, Any]] = {}
    for p in plans:
        entry = systems.setdefault(p.system, {"name": p.system, "records": {}, "files": []})
        entry["records"][p.category] = p.count
        entry["files"] += [f"{p.path}.json", f"{p.path}.csv"]
        entry["files"] += [pages_html.page_path(p, n) for n in range(1, pages_html.pages(p.count) + 1)]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": generated_at,
        "request": {
            "reference": request.reference,
            "kind": request.kind,
            "regime": request.regime,
            "received_at": request.received_at.isoformat(),
            "portability": request.kind == Kind.PORTABILITY,
        },
        "systems": list(systems.values()),
        "total_records": sum(p.count for p in plans),
        "withheld": _withheld_list(request, plans),
    }


class _Digesting(io.RawIOBase):
    """Passes bytes on to the encrypting writer, hashing and counting them on the way."""

    def __init__(self, sink: storage.EncryptedWriter) -> None:
        self.sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.sha256.update(chunk)
        self.size += len(chunk)
        self.sink.write(chunk)
        return len(chunk)


def _kept(p: CategoryPlan) -> Iterator[dict[str, Any]]:
    """The category's records as the bundle gives them: withheld records and fields left out."""
    skip, drop = p.withheld_records, p.withheld_fields
    for index, fields in _records(p):
        if index not in skip:
            yield {k: v for k, v in fields.items() if k not in drop} if drop else fields


def _json_records(p: CategoryPlan) -> Iterator[bytes]:
    """Each kept record as JSON: copied from the export as it was written, unless fields are withheld."""
    if p.job is None or p.withheld_fields:
        return map(_JSON.encode, _kept(p))
    skip = p.withheld_records
    return (fields for index, fields in _raw_records(p) if index not in skip)


def _csv_row(fields: dict[str, Any], columns: list[str]) -> list[Any]:
    """A record's cells; what the csv module writes as ``str`` would, and text that cannot start a
    formula, go as they are (most cells of a large export), the rest through :func:`csv_cell`."""
    return [v if (t := type(v)) in _CSV_AS_IS or (t is str and v[:1] not in _RISKY_FIRST) else csv_cell(v)
            for v in map(fields.get, columns)]


def _write_category(zf: zipfile.ZipFile, p: CategoryPlan, request: DataSubjectRequest, shown: str) -> None:
    for path, html in pages_html.render_pages(request, p, _kept(p), shown):
        zf.writestr(path, html)
    with zf.open(f"{p.path}.json", "w", force_zip64=True) as raw:
        chunk, size, separator = [b"["], 0, b""
        for record in _json_records(p):
            chunk.append(separator + record)
            separator, size = b",\n", size + len(record)
            if size >= _WRITE_BYTES:  # the ZIP's compressor takes large writes much faster than many small
                raw.write(b"".join(chunk))
                chunk, size = [], 0
        chunk.append(b"]\n")
        raw.write(b"".join(chunk))
    with zf.open(f"{p.path}.csv", "w", force_zip64=True) as raw:
        # With a byte-order mark, spreadsheet programs read the file as UTF-8 (accents, €).
        out = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="", write_through=False)
        writer = csv.writer(out)
        writer.writerow([csv_cell(c) for c in p.columns])
        writer.writerows(_csv_row(fields, p.columns) for fields in _kept(p))
        out.flush()
        out.detach()


def build(request: DataSubjectRequest, relative_path: str) -> tuple[dict[str, Any], str, int]:
    """Write the encrypted bundle; returns (manifest, sha256 of the ZIP, ZIP size)."""
    plans = plan(request)
    generated_at = timezone.now().isoformat()
    info = manifest(request, plans, generated_at)
    systems = _systems(request, plans)
    shown = {s.name: s.shown_name for s in systems}
    with storage.EncryptedWriter(relative_path) as sink:
        digesting = _Digesting(sink)
        # The fastest deflate: a large bundle is built in half the time, and is about a tenth larger.
        with zipfile.ZipFile(digesting, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr("manifest.json", json.dumps(info, indent=2, ensure_ascii=False))
            for p in plans:
                _write_category(zf, p, request, shown.get(p.system, p.system))
            zf.writestr("index.html", pages_html.render_index(request, info, plans, systems))
    return info, digesting.sha256.hexdigest(), digesting.size


def _systems(request: DataSubjectRequest, plans: list[CategoryPlan]) -> list[SystemConnection]:
    names = {p.system for p in plans} | set(
        request.jobs.filter(action="export").values_list("system__name", flat=True)
    )
    found = list(SystemConnection.objects.filter(name__in=names).order_by("name"))
    return found + [own_records.system()] if own_records.SYSTEM in names else found
