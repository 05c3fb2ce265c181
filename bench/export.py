"""Workload 5: one person with 1,000,000 records, exported and bundled, and its COPY floor.

A scratch shop database (one connected system, postgres connector) holds three customers
and their events, built with generate_series: 1,000,000 events of the heavy customer, with
every thousandth event another customer's, interleaved; then 100,000 of a third customer.

An access request for the heavy customer is approved and runs as it does in production,
in this process (Celery eager): the export job streams the rows through the connector into
the encrypted export file, the request moves to review, and ``access.release`` builds the
encrypted ZIP bundle. Timed from the approval to the finished bundle, with the growth of
the process's maximum resident set (getrusage). Python's traced allocations (tracemalloc)
slow this code about 4.5 times, so their peak is taken in a second run, for the third
customer (``--trace-records``; ``--trace-full`` traces the heavy customer again instead).

Then everything is read back through the product's readers and checked: the export holds
the customer row and exactly their events, in key order, nothing of another customer; the
bundle's JSON and CSV files hold the same, and its manifest counts them.

The floor, in the same run: ``COPY (SELECT ...) TO STDOUT`` of the same rows into a file.
Beside it, a second floor: the least any export written in Python does, the same rows
read through a server-side cursor in batches and written once as JSON lines (msgspec),
with neither encryption nor a bundle. Ours against it says how much of the distance to
``COPY`` is the product's own work and how much is Python's per-record cost.

    python bench/export.py [--records 1000000] [--trace-records 100000 | --trace-full]
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import resource
import shutil
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PG, REDIS, django_setup, product_env, recreate_database, summary, table

APP_DB, SHOP_DB = "dsr_bench_export", "dsr_bench_export_shop"
VAR_DIR = Path("/tmp/dsr-bench-export")
HEAVY, OTHER, TRACED = "heavy@shop.example", "other@shop.example", "traced@shop.example"
CUSTOMERS = (HEAVY, OTHER, TRACED)
EVERY = 1000  # one event in EVERY is the other customer's
MB = 1024 * 1024

CONFIG = {"tables": [
    {"table": "customer", "identifiers": {"email": "email"}, "erase": {"mode": "delete"}},
    {"table": "events", "via": {"column": "customer_id", "parent": "customer"}, "erase": {"mode": "delete"}},
]}
FLOOR_QUERIES = [
    "COPY (SELECT c.* FROM customer c WHERE c.email = {email}) TO STDOUT",
    ("COPY (SELECT e.* FROM events e WHERE e.customer_id IN (SELECT id FROM customer WHERE email = {email}) "
    "ORDER BY e.id) TO STDOUT"),
]


def build_shop(records: int, traced: int) -> dict[str, int]:
    """The shop; returns each customer's id by email."""
    import psycopg

    total = records + records // (EVERY - 1)  # so that exactly ``records`` are the heavy customer's
    recreate_database(SHOP_DB)
    with psycopg.connect(f"{PG}/{SHOP_DB}", autocommit=True) as conn:
        conn.execute("CREATE TABLE customer (id serial PRIMARY KEY, email text, name text, address text)")
        conn.execute("CREATE TABLE events (id bigserial PRIMARY KEY, customer_id int REFERENCES customer(id), "
                     "kind text, page text, amount numeric(10,2), at timestamptz)")
        for i, email in enumerate(CUSTOMERS):
            conn.execute("INSERT INTO customer (email, name, address) VALUES (%s, %s, %s)",
                         (email, f"Customer {i}", f"{i} Main Street"))
        ids = dict(conn.execute("SELECT email, id FROM customer").fetchall())
        insert = ("INSERT INTO events (customer_id, kind, page, amount, at) "
                  "SELECT CASE WHEN g %% %s = 0 THEN %s ELSE %s END, (ARRAY['view','cart','order'])[g %% 3 + 1], "
                  "'/products/' || (g %% 5000), (g %% 10000) / 100.0, "
                  "timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, %s) g")
        conn.execute(insert, (EVERY, ids[OTHER], ids[HEAVY], total))
        conn.execute(insert, (traced + 1, ids[OTHER], ids[TRACED], traced))
        conn.execute("CREATE INDEX customer_email ON customer (email)")
        conn.execute("CREATE INDEX events_customer ON events (customer_id)")
        conn.execute("VACUUM ANALYZE")
        counts = dict(conn.execute("SELECT customer_id, count(*) FROM events GROUP BY 1").fetchall())
    assert counts[ids[HEAVY]] == records and counts.get(ids[TRACED], 0) == traced, counts
    return ids


def floor(path: Path) -> float:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{PG}/{SHOP_DB}") as conn, open(path, "wb") as fh:
        started = time.perf_counter()
        with conn.cursor() as cur:
            for query in FLOOR_QUERIES:
                with cur.copy(sql.SQL(query).format(email=sql.Literal(HEAVY))) as copy:
                    fh.writelines(copy)
        fh.flush()
        elapsed = time.perf_counter() - started
    return elapsed


PYTHON_FLOOR_QUERIES = [
    "SELECT c.* FROM customer c WHERE c.email = %s",
    "SELECT e.* FROM events e WHERE e.customer_id IN (SELECT id FROM customer WHERE email = %s) ORDER BY e.id",
]


def python_floor(path: Path, batch: int) -> float:
    """The same rows read into Python a batch at a time and written once as JSON lines."""
    import msgspec
    import psycopg

    encode = msgspec.json.Encoder(enc_hook=str).encode
    with psycopg.connect(f"{PG}/{SHOP_DB}") as conn, open(path, "wb") as fh:
        started = time.perf_counter()
        for number, query in enumerate(PYTHON_FLOOR_QUERIES):
            with conn.cursor(name=f"floor_{number}") as cur:
                cur.execute(query, (HEAVY,))
                names = [column.name for column in cur.description]
                while rows := cur.fetchmany(batch):
                    fh.write(b"".join(encode(dict(zip(names, row))) + b"\n" for row in rows))
        fh.flush()
        elapsed = time.perf_counter() - started
    return elapsed


def current_rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def new_request(email: str):
    from django.utils import timezone

    from dsr.core import deadlines
    from dsr.core.crypto import identifier_hash
    from dsr.core.models import DataSubjectRequest, Status

    today = timezone.localdate()
    return DataSubjectRequest.objects.create(
        kind="access", regime="gdpr", status=Status.VERIFIED, identifiers={"email": email},
        email_hash=identifier_hash("email", email), country="DE", clock_started_on=today,
        verified_at=timezone.now(), due_on=deadlines.due_date("gdpr", today),
    )


def run_product(email: str, trace: bool) -> dict:
    """Approve (the export job runs), then release (the bundle is built); timed and measured."""
    from dsr.core.audit import Actor
    from dsr.core.models import Status
    from dsr.engine import fanout
    from dsr.results import access

    request = new_request(email)
    gc.collect()
    rss_before = current_rss()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        fanout.approve(request, actor=Actor.scheduler())
        exported = time.perf_counter()
        request.refresh_from_db()
        assert request.status == Status.REVIEW, request.status
        item = access.release(request, actor=Actor.scheduler())
        finished = time.perf_counter()
        peak = tracemalloc.get_traced_memory()[1] if trace else None
    finally:
        tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"request": request, "bundle": item, "export": exported - started, "bundle_s": finished - exported,
            "total": finished - started, "traced_peak": peak, "rss_growth": max_rss - rss_before,
            "max_rss": max_rss}


def verify(request, bundle_item, email: str, customer_id: int, records: int) -> None:
    """Read the export and the bundle back through the product's readers; count and check."""
    from dsr.core import storage
    from dsr.core.models import ResultBundle

    others = [e.encode() for e in CUSTOMERS if e != email]
    [job] = request.jobs.all()
    assert job.export_records == records + 1, job.export_records
    customers, events, last = [], 0, 0
    for record in storage.read_records(job.export_file):
        fields = record["fields"]
        if record["category"] == "customer":
            customers.append(fields)
            continue
        assert record["category"] == "events" and fields["customer_id"] == customer_id, record
        assert fields["id"] > last, "events out of key order, or repeated"
        last, events = fields["id"], events + 1
    assert events == records and [c["email"] for c in customers] == [email], (events, customers)

    bundle_item = ResultBundle.objects.get(pk=bundle_item.pk)
    (shop,) = [s for s in bundle_item.manifest["systems"] if s["name"] == "shop"]  # beside our own records
    assert sum(shop["records"].values()) == records + 1, bundle_item.manifest
    path = VAR_DIR / "check.zip"
    with open(path, "wb") as fh:
        fh.writelines(storage.read_decrypted(bundle_item.file))
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"manifest.json", "index.html", "data/shop/customer.json", "data/shop/events.json",
                "data/shop/customer.csv", "data/shop/events.csv"} <= names, names
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["systems"][0]["records"] == {"customer": 1, "events": records}, manifest["systems"]
        for name in names:
            with archive.open(name) as fh:
                for line in fh:
                    assert not any(other in line for other in others), f"another customer's email in {name}"
        assert [c["email"] for c in json.loads(archive.read("data/shop/customer.json"))] == [email]
        count, last = 0, 0
        with archive.open("data/shop/events.json") as fh:
            for line in io.TextIOWrapper(fh, encoding="utf-8"):
                line = line.strip().lstrip("[").rstrip("]").rstrip(",")
                if not line:
                    continue
                event = json.loads(line)
                assert event["customer_id"] == customer_id and event["id"] > last, event
                count, last = count + 1, event["id"]
        assert count == records, f"events.json holds {count} events"
        with archive.open("data/shop/events.csv") as fh:
            rows = csv.reader(io.TextIOWrapper(fh, encoding="utf-8", newline=""))
            header = next(rows)
            column = header.index("customer_id")
            count = 0
            for row in rows:
                assert row[column] == str(customer_id), row
                count += 1
        assert count == records, f"events.csv holds {count} rows"
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description="export benchmark")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--trace-records", type=int, default=100_000,
                        help="records of the customer whose export runs under tracemalloc")
    parser.add_argument("--trace-full", action="store_true",
                        help="run the heavy customer's export again under tracemalloc instead")
    args = parser.parse_args()

    shutil.rmtree(VAR_DIR, ignore_errors=True)
    started = time.perf_counter()
    ids = build_shop(args.records, args.trace_records)
    seeding = time.perf_counter() - started
    recreate_database(APP_DB)
    env = product_env(APP_DB, REDIS_URL=REDIS, DSR_VAR_DIR=str(VAR_DIR), EMAIL_URL="memorymail://")
    env["CELERY_TASK_ALWAYS_EAGER"] = "true"  # the job and the emails run in this process
    django_setup(env)
    from django.core.management import call_command

    from dsr.core.models import SystemConnection

    call_command("migrate", verbosity=0)
    SystemConnection.objects.create(name="shop", connector="postgres", config=CONFIG,
                                    secrets={"dsn": f"{PG}/{SHOP_DB}"})

    floor_path = VAR_DIR / "floor.copy"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    floor_s = floor(floor_path)
    floor_bytes = floor_path.stat().st_size
    floor_path.unlink()
    from connectors.postgres import PostgresConnector

    python_s = python_floor(floor_path, PostgresConnector.stream_batch)
    python_bytes = floor_path.stat().st_size
    floor_path.unlink()

    ours = run_product(HEAVY, trace=False)
    verify(ours["request"], ours["bundle"], HEAVY, ids[HEAVY], args.records)
    export_mb = sum(p.stat().st_size for p in VAR_DIR.rglob("*.jsonl.enc")) / MB
    traced_email, traced_records = (HEAVY, args.records) if args.trace_full else (TRACED, args.trace_records)
    traced = run_product(traced_email, trace=True)
    verify(traced["request"], traced["bundle"], traced_email, ids[traced_email], traced_records)
    shutil.rmtree(VAR_DIR, ignore_errors=True)

    rows = [
        ["export job (approve → review)", f"{ours['export']:.1f} s", "", "", f"{export_mb:.0f} MB encrypted"],
        ["bundle (release)", f"{ours['bundle_s']:.1f} s", "", "", f"{ours['bundle'].size / MB:.0f} MB ZIP"],
        ["export + bundle", f"{ours['total']:.1f} s", f"{floor_s:.2f} s", f"{ours['total'] / floor_s:.0f}x",
         f"COPY: {floor_bytes / MB:.0f} MB"],
        ["Python floor: rows read and written once as JSON lines", f"{python_s:.1f} s", f"{floor_s:.2f} s",
         f"{python_s / floor_s:.0f}x", f"{python_bytes / MB:.0f} MB"],
    ]
    print(table(f"Export of one subject with {args.records:,} records (+ their customer row), "
                f"1 PostgreSQL system", ["step", "ours", "COPY floor", "ours vs floor", "size"], rows))
    print(f"\nours against the Python floor: {ours['total'] / python_s:.1f}x (export job alone "
          f"{ours['export'] / python_s:.1f}x); the Python floor against COPY: {python_s / floor_s:.1f}x")
    print(f"\npeak memory, {args.records:,} records: max RSS growth {ours['rss_growth'] / MB:.1f} MB "
          f"(ru_maxrss {ours['max_rss'] / MB:.0f} MB)")
    print(f"peak memory, {traced_records:,} records under tracemalloc ({traced['total']:.1f} s): "
          f"{traced['traced_peak'] / MB:.1f} MB of traced Python allocations")
    print(f"shop built in {seeding:.1f} s; checked: the export and the bundle's JSON and CSV hold exactly "
          f"the subject's events ({args.records:,}, and {traced_records:,} in the traced run) "
          f"and nothing of another customer")
    summary("5 export", f"{args.records:,} records: export + bundle", f"{ours['total']:.1f} s",
            f"{floor_s:.2f} s (COPY)", ours["total"] / floor_s, "≤ 5× COPY", ours["total"] / floor_s <= 5)
    summary("5 export", "the Python floor (rows read, written once as JSON)", f"{python_s:.1f} s",
            f"{floor_s:.2f} s (COPY)", python_s / floor_s)
    summary("5 export", "peak memory (max RSS growth)", f"{ours['rss_growth'] / MB:.1f} MB", "", None,
            "< 200 MB (flat)", ours["rss_growth"] < 200 * MB)


if __name__ == "__main__":
    main()
