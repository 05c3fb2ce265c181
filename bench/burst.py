"""Workload 3: a burst of erasures across four systems, and its raw floor.

A shop database with 1,000,000 customers, 2,000,000 orders and 500,000 support tickets
(built with generate_series, indexed on the lookup columns) behind three postgres
systems, each reaching one table:

- ``crm``: the customer row, masked (email and name nulled, address fixed, phone keyed
  hash). It is the identity source: its ``locate`` runs first and learns the customer id.
- ``shop-orders``: the orders, deleted, found by the learned customer id (the foreign key).
- ``support-desk``: the support tickets, deleted, found by email.

and a fourth, ``marketing``, a signed webhook served by a real HTTP server on 127.0.0.1
in this process (``tests/connectors/webhook_server.py``: it verifies every signature).

2,000 pre-verified, auto-approved erasures go in through the API (trusted integration)
from 8 concurrent clients, served by gunicorn (2 workers) and worked by a Celery worker
with 2 processes on Redis. The burst is timed from the first submission to the last
request completed. Every result is checked: every job succeeded with the counts the data
implies, every erased customer is masked and has no orders or tickets left, nobody else
was touched, and the webhook received each subject's erasure under exactly one
idempotency key (the job's), with one delivery per attempt.

The floor does the same work for 2,000 other customers in one psycopg connection, one
subject at a time (select and update the customer, delete the orders, delete the tickets:
four statements and a commit per subject), plus one signed POST per subject to the same
webhook server.

    python bench/burst.py [--requests 2000] [--clients 8]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    PG,
    REDIS,
    ROOT,
    celery_worker,
    fresh_product,
    gunicorn,
    integration_token,
    percentile,
    processes,
    recreate_database,
    serving,
    summary,
    table,
    wait_until,
)

APP_DB, SHOP_DB = "dsr_bench_burst_app", "dsr_bench_burst_shop"
PORT = 8792
CUSTOMERS, ORDERS_EACH = 1_000_000, 2
HASH_KEY = "bench-hash-key"
SIGNING_SECRET = "bench-signing-secret"
TOKEN = "bench-burst-integration-token"
STALL_SECONDS = 180  # fail if no request completes for this long

SYSTEMS = {
    "crm": {"identity_fields": ["customer_id"], "tables": [
        {"table": "customer", "identifiers": {"email": "email", "customer_id": "id"},
         "erase": {"mode": "mask", "fields": {"email": None, "name": None,
                                              "address": {"fixed": "REDACTED"}, "phone": "hash"}}},
    ]},
    "shop-orders": {"tables": [
        {"table": "orders", "identifiers": {"customer_id": "customer_id"}, "erase": {"mode": "delete"}},
    ]},
    "support-desk": {"tables": [
        {"table": "support_ticket", "identifiers": {"email": "email"}, "erase": {"mode": "delete"}},
    ]},
}


# -- the shop's data: every value follows from the customer number -------------------------
def email(n: int) -> str:
    return f"customer{n}@shop.example"


def phone(n: int) -> str:
    return f"+49 {100000000 + n}"


def tickets_of(n: int) -> int:
    return 1 if n % 2 == 0 else 0  # every other customer has one ticket


def build_shop() -> float:
    import psycopg

    started = time.perf_counter()
    recreate_database(SHOP_DB)
    with psycopg.connect(f"{PG}/{SHOP_DB}", autocommit=True) as conn:
        conn.execute("CREATE TABLE customer (id int PRIMARY KEY, email text, name text, address text, "
                     "phone text)")
        conn.execute("CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, "
                     "total numeric(10,2))")
        conn.execute("CREATE TABLE support_ticket (id serial PRIMARY KEY, email text, subject text)")
        conn.execute(
            "INSERT INTO customer SELECT g, 'customer' || g || '@shop.example', 'Name ' || g, "
            "g || ' Main Street', '+49 ' || (100000000 + g) FROM generate_series(1, %s) g", (CUSTOMERS,))
        conn.execute(
            "INSERT INTO orders (customer_id, total) SELECT g, (g %% 97) + o "
            "FROM generate_series(1, %s) g, generate_series(1, %s) o", (CUSTOMERS, ORDERS_EACH))
        conn.execute(
            "INSERT INTO support_ticket (email, subject) SELECT 'customer' || g || '@shop.example', "
            "'Where is order ' || g FROM generate_series(2, %s, 2) g", (CUSTOMERS,))
        conn.execute("CREATE INDEX customer_email ON customer (email)")
        conn.execute("CREATE INDEX orders_customer ON orders (customer_id)")
        conn.execute("CREATE INDEX support_ticket_email ON support_ticket (email)")
        conn.execute("ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customer (id)")
        conn.execute("ANALYZE")
    return time.perf_counter() - started


def shop_totals() -> dict[str, int]:
    import psycopg

    with psycopg.connect(f"{PG}/{SHOP_DB}") as conn:
        return {
            "masked": conn.execute("SELECT count(*) FROM customer WHERE email IS NULL").fetchone()[0],
            "orders": conn.execute("SELECT count(*) FROM orders").fetchone()[0],
            "tickets": conn.execute("SELECT count(*) FROM support_ticket").fetchone()[0],
        }


def verify_shop(numbers: list[int], before: dict[str, int]) -> None:
    """These customers are masked and have no orders or tickets left; nobody else was touched."""
    import psycopg

    digest = {n: hmac.new(HASH_KEY.encode(), phone(n).encode(), hashlib.sha256).hexdigest() for n in numbers}
    with psycopg.connect(f"{PG}/{SHOP_DB}") as conn:
        rows = conn.execute("SELECT id, email, name, address, phone FROM customer WHERE id = ANY(%s)",
                            (numbers,)).fetchall()
        orders = conn.execute("SELECT count(*) FROM orders WHERE customer_id = ANY(%s)", (numbers,)).fetchone()[0]
        tickets = conn.execute("SELECT count(*) FROM support_ticket WHERE email = ANY(%s)",
                               ([email(n) for n in numbers],)).fetchone()[0]
    assert len(rows) == len(numbers), f"{len(numbers) - len(rows)} customer rows are gone (masking keeps them)"
    for n, mail, name, address, masked_phone in rows:
        assert (mail, name, address, masked_phone) == (None, None, "REDACTED", digest[n]), f"customer {n} not masked"
    assert orders == 0, f"{orders} orders of erased customers are left"
    assert tickets == 0, f"{tickets} tickets of erased customers are left"
    after = shop_totals()
    expected = {"masked": before["masked"] + len(numbers),
                "orders": before["orders"] - ORDERS_EACH * len(numbers),
                "tickets": before["tickets"] - sum(map(tickets_of, numbers))}
    assert after == expected, f"other customers' rows changed: {after} != {expected}"


# -- the webhook system --------------------------------------------------------------------
class Marketing:
    """The webhook system's answers: completed at once; a key seen before erases nothing more."""

    def __init__(self) -> None:
        from tests.connectors.webhook_server import WebhookServer

        self.server = WebhookServer(SIGNING_SECRET)
        self.server.responder = self.respond
        self.lock = threading.Lock()
        self.seen: Counter[str] = Counter()

    def respond(self, request) -> tuple[int, dict]:
        body = request.body or {}
        key = body.get("idempotency_key")
        if body.get("action") != "erase" or not key or request.headers.get("idempotency-key") != key:
            return 400, {"status": "failed", "error": "an erase job with its idempotency key was expected",
                         "permanent": True}
        with self.lock:
            self.seen[key] += 1
            first = self.seen[key] == 1
        return 200, {"status": "completed", "affected": int(first), "by_category": {"subscriber": int(first)}}

    def deliveries(self, prefix: str = "") -> list:
        return [r for r in self.server.received
                if str((r.body or {}).get("idempotency_key", "")).startswith(prefix)]


def verify_webhook(marketing: Marketing, expected: dict[str, str], attempts: int) -> None:
    """Each subject's erasure reached the webhook under exactly one key, the job's; one POST per attempt."""
    received = list(marketing.server.received)  # before the floor's calls
    assert not [r for r in received if r.signature_error], "a call's signature did not verify"
    keys_by_email: dict[str, set[str]] = defaultdict(set)
    for r in received:
        assert r.headers.get("idempotency-key") == r.body["idempotency_key"]
        keys_by_email[r.body["identifiers"]["email"]].add(r.body["idempotency_key"])
    assert set(keys_by_email) == set(expected), "the webhook was asked about other people, or missed some"
    wrong = [mail for mail, keys in keys_by_email.items() if keys != {expected[mail]}]
    assert not wrong, f"{len(wrong)} subjects' erasures reached the webhook under other or several keys"
    assert len(received) == attempts, f"{len(received)} deliveries for {attempts} job attempts"


# -- ours ----------------------------------------------------------------------------------
def submit_all(numbers: list[int], clients: int) -> tuple[dict[str, int], dict[str, float], float]:
    """POST every erasure from ``clients`` threads; reference -> customer, reference -> sent at."""
    import httpx

    def submit(client: httpx.Client, n: int) -> tuple[str, int, float]:
        sent = time.time()
        response = client.post(f"http://127.0.0.1:{PORT}/api/v1/requests/",
                               json={"kind": "erasure", "email": email(n), "country": "DE"},
                               headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 201, (response.status_code, response.text[:300])
        return response.json()["reference"], n, sent

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    with httpx.Client(timeout=60, limits=limits) as client, ThreadPoolExecutor(clients) as pool:
        began = time.perf_counter()
        sent = list(pool.map(lambda n: submit(client, n), numbers))
        took = time.perf_counter() - began
    return {ref: n for ref, n, _ in sent}, {ref: at for ref, _, at in sent}, took


def wait_for_completion(total: int) -> None:
    from dsr.core.models import ConnectorJob, DataSubjectRequest, JobStatus, Status

    done, last_progress = -1, time.monotonic()
    while done < total:
        failed = list(ConnectorJob.objects.filter(status=JobStatus.FAILED).values_list("system__name", "error")[:5])
        assert not failed, f"jobs failed: {failed}"
        now_done = DataSubjectRequest.objects.filter(status=Status.COMPLETED).count()
        if now_done != done:
            done, last_progress = now_done, time.monotonic()
        elif time.monotonic() - last_progress > STALL_SECONDS:
            raise TimeoutError(f"{done} of {total} requests completed; none for {STALL_SECONDS}s")
        time.sleep(0.5)


def verify_jobs(customer_of: dict[str, int]) -> dict[str, dict]:
    """Every job succeeded with the counts the data implies; per system: jobs, attempts, calls."""
    from dsr.core.models import ConnectorJob, DataSubjectRequest, Status

    requests = DataSubjectRequest.objects.filter(reference__in=customer_of)
    assert requests.filter(status=Status.COMPLETED).count() == len(customer_of)
    expected_affected = {"crm": lambda n: 1, "shop-orders": lambda n: ORDERS_EACH,
                         "support-desk": tickets_of, "marketing": lambda n: 1}
    stats: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "attempts": 0, "calls": 0.0, "largest": 0})
    jobs = ConnectorJob.objects.filter(request__in=requests).select_related("request", "system")
    per_request: Counter[str] = Counter()
    for job in jobs.iterator(chunk_size=2000):
        n = customer_of[job.request.reference]
        assert job.status == "succeeded", (job.system.name, job.action, job.status, job.error)
        per_request[job.request.reference] += 1
        name = f"{job.system.name} {job.action}"
        if job.action == "locate":
            assert job.found == 1 and job.learned == {"customer_id": str(n)}, (name, job.found, job.learned)
        else:
            assert job.affected == expected_affected[job.system.name](n), (name, n, job.affected)
            if job.system.name != "marketing":
                assert job.result["verified"] is True, name  # the engine looked again and found nothing
        entry = stats[name]
        batch = job.result.get("batch", 1)
        entry["jobs"] += 1
        entry["attempts"] += job.attempts
        entry["calls"] += 1 / batch  # each job of a batch of b jobs is 1/b of one connector call
        entry["largest"] = max(entry["largest"], batch)
    assert set(per_request.values()) == {5} and len(per_request) == len(customer_of), "5 jobs per request"
    return dict(stats)


def latencies(sent_at: dict[str, float]) -> tuple[list[float], float]:
    from dsr.core.models import AuditEvent

    finished = dict(AuditEvent.objects.filter(request__reference__in=list(sent_at), verb="status.completed")
                    .values_list("request__reference", "created_at"))
    assert len(finished) == len(sent_at)
    last = max(at.timestamp() for at in finished.values())
    return [finished[ref].timestamp() - sent for ref, sent in sent_at.items()], last


# -- the floor -----------------------------------------------------------------------------
def floor(numbers: list[int], marketing: Marketing) -> float:
    """The same erasures directly: psycopg, one subject at a time, and one signed POST each."""
    import httpx
    import psycopg

    from connectors.http import encode
    from connectors.signing import SIGNATURE_HEADER, sign

    with psycopg.connect(f"{PG}/{SHOP_DB}") as conn, httpx.Client(timeout=10) as client:
        started = time.perf_counter()
        for n in numbers:
            mail = email(n)
            row = conn.execute("SELECT id, phone FROM customer WHERE email = %s FOR UPDATE", (mail,)).fetchone()
            masked = hmac.new(HASH_KEY.encode(), row[1].encode(), hashlib.sha256).hexdigest()
            conn.execute("UPDATE customer SET email = NULL, name = NULL, address = 'REDACTED', phone = %s "
                         "WHERE id = %s", (masked, row[0]))
            conn.execute("DELETE FROM orders WHERE customer_id = %s", (row[0],))
            conn.execute("DELETE FROM support_ticket WHERE email = %s", (mail,))
            conn.commit()
            key = f"floor:{n}"
            body = encode({"job_id": key, "action": "erase", "idempotency_key": key,
                           "identifiers": {"email": mail}})
            answer = client.post(marketing.server.url, content=body, headers={
                "Content-Type": "application/json", "Idempotency-Key": key,
                SIGNATURE_HEADER: sign(SIGNING_SECRET, int(time.time()), body)})
            assert answer.status_code == 200 and answer.json()["status"] == "completed", answer.text
        return time.perf_counter() - started


# -- the run -------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description="burst fan-out benchmark (workload 3)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    n_requests = args.requests

    run_started = time.perf_counter()
    build_seconds = build_shop()
    env = fresh_product(APP_DB, REDIS_URL=REDIS, DSR_VAR_DIR=str(ROOT / "var" / "bench-burst"))
    from dsr.core.models import SystemConnection

    marketing = Marketing()
    marketing.server.start()
    dsn = f"{PG}/{SHOP_DB}"
    for name, config in SYSTEMS.items():
        SystemConnection.objects.create(name=name, connector="postgres", config=config,
                                        identity_source=name == "crm",
                                        secrets={"dsn": dsn, "hash_key": HASH_KEY})
    webhook = SystemConnection.objects.create(
        name="marketing", connector="webhook", secrets={"signing_secret": SIGNING_SECRET},
        config={"url": marketing.server.url, "send_identifiers": ["email"], "actions": ["erase"]})
    integration_token(TOKEN, auto_approve=True)

    chosen = random.Random(3).sample(range(1, CUSTOMERS + 1), 2 * n_requests)
    ours, theirs = chosen[:n_requests], chosen[n_requests:]
    before = shop_totals()
    try:
        with processes(gunicorn(PORT), celery_worker(2), env=env, ready=4.0):
            wait_until(lambda: serving(PORT), timeout=30, what="gunicorn")
            began = time.time()
            customer_of, sent_at, submit_seconds = submit_all(ours, args.clients)
            wait_for_completion(n_requests)
        waits, last = latencies(sent_at)
        burst_seconds = last - began
        stats = verify_jobs(customer_of)
        verify_shop(ours, before)
        from dsr.core.models import DataSubjectRequest

        expected_keys = {r.email: f"{r.pk}:{webhook.pk}:erase"
                         for r in DataSubjectRequest.objects.filter(reference__in=customer_of)}
        verify_webhook(marketing, expected_keys, stats["marketing erase"]["attempts"])

        before_floor = shop_totals()
        floor_seconds = floor(theirs, marketing)
        verify_shop(theirs, before_floor)
        assert len(marketing.deliveries("floor:")) == n_requests
    finally:
        marketing.server.close()

    rate, floor_rate = n_requests / burst_seconds, n_requests / floor_seconds
    rows = [
        ["whole burst: first submission to last completed", f"{burst_seconds:.1f} s", f"{floor_seconds:.1f} s",
         f"{burst_seconds / floor_seconds:.0f}x"],
        ["erasures per second", f"{rate:.1f} req/s", f"{floor_rate:.0f} req/s", f"{floor_rate / rate:.0f}x"],
        [f"submitting all {n_requests:,} ({args.clients} clients)", f"{submit_seconds:.1f} s", "", ""],
        ["per request, submission to completed: p50 / p99",
         f"{percentile(waits, 50):.1f} / {percentile(waits, 99):.1f} s", "", ""],
    ]
    for name in ("crm locate", "crm erase", "shop-orders erase", "support-desk erase", "marketing erase"):
        s = stats[name]
        rows.append([f"{name}: jobs per connector call (largest batch)",
                     (f"{s['jobs'] / s['calls']:.1f} ({s['largest']}); {s['jobs']:,} jobs, "
                     f"{s['attempts']:,} attempts"), "1", ""])
    print(table(
        f"Burst fan-out: {n_requests:,} erasures x 4 systems ({CUSTOMERS:,} customers, {CUSTOMERS * ORDERS_EACH:,} "
        f"orders, {CUSTOMERS // 2:,} tickets; 3 postgres + 1 webhook), gunicorn 2 workers, Celery 2 processes. "
        f"Floor: psycopg, one subject at a time (4 statements + commit) + 1 signed POST each",
        ["measure", "ours", "floor", "ours / floor"], rows))
    print(f"(shop built in {build_seconds:.0f} s; whole run {time.perf_counter() - run_started:.0f} s; "
          "every result checked)")
    summary("3 burst", f"{n_requests:,} erasures x 4 systems, first submission to last completed",
            f"{burst_seconds:.1f} s ({rate:.1f} req/s)", f"{floor_seconds:.1f} s", burst_seconds / floor_seconds,
            "≤ 5× its floor", burst_seconds / floor_seconds <= 5)


if __name__ == "__main__":
    main()
