"""Chaos: 500 requests fan out to a PostgreSQL system and a webhook vendor while things break.

While the requests are filed and worked:

- the Celery worker (two pool processes) is killed with SIGKILL, whole process group,
  every few seconds, and started again;
- the test's own Redis (broker and cache, for the worker and for this process) is
  restarted twice and comes back empty: every queued message is lost;
- the PostgreSQL system's connections are cut once (``pg_terminate_backend``);
- the vendor answers 500 to a third of the calls and too late to some others.

Lost work is found again only by the product's own periodic tasks: this test publishes
``dsr.tasks.reconcile`` every 2 s and ``dsr.tasks.resend_unacknowledged`` every 10 s
through the broker, as beat does every 60 s and 600 s in production, and a worker runs
them. Afterwards every request must be where the product says it ends, every job
accounted for, no effect applied twice, every person told once (each email one message:
a copy goes again only as the same message, where a worker was killed between the mail
server's answer and the log row), the audit chain intact and every open request in the
officers' queue. The figures are printed at the end.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from io import StringIO

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from psycopg import sql

from dsr.core import queue, storage
from dsr.core.audit import Actor, verify_chain
from dsr.core.models import (
    OPEN_STATUSES,
    TERMINAL_JOB_STATUSES,
    AuditEvent,
    ConnectorJob,
    DataSubjectRequest,
    EmailLog,
    JobStatus,
    Status,
    SystemConnection,
)
from dsr.engine import current, fanout
from dsr.results.rectification import decide
from tests.brokers import publishing_to
from tests.conftest import IN_CI
from tests.connectors.webhook_server import WebhookServer
from tests.dsr.engine.test_worker import _database_url, wait_for

from .harness import RedisServer, Vendor, Worker, sent_mails, sent_messages

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PG_SERVER = os.environ.get("DSR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
SECRET = "chaos-vendor-secret"
REQUESTS = 500
KINDS = ["access"] * 4 + ["erasure"] * 3 + ["portability"] * 2 + ["rectification"]
COUNTRIES = [("DE", ""), ("FR", ""), ("GB", ""), ("US", "CA"), ("BR", ""), ("CA", "")]
EXPECTED = {"access": Status.REVIEW, "portability": Status.REVIEW,
            "rectification": Status.REVIEW, "erasure": Status.COMPLETED}

VENDOR_TIMEOUT = 0.5  # the connector's timeout; late answers come 0.5 s after it
KILL_EVERY = 7.0  # seconds between SIGKILLs of the worker
REDIS_RESTARTS_AT = (18.0, 42.0)  # seconds after the start
REDIS_DOWN = 2.0
PG_CUT_AT = 30.0
FAULTS_UNTIL = 60.0  # and at least until every request is filed
# The periodic tasks, published as beat does (its own periods: 60 s and 600 s).
BEAT = {"reconcile": 2.0, "resend_unacknowledged": 10.0}
DRAIN_TIMEOUT = 200.0
WORKER_ENV = {
    "DSR_JOB_LEASE_SECONDS": "10",
    "DSR_JOB_REQUEUE_AFTER_SECONDS": "5",
    "DSR_RETRY_BASE_SECONDS": "0.2",
    "DSR_RETRY_MAX_SECONDS": "2",
    "DSR_EMAIL_RESEND_AFTER_SECONDS": "10",
    # A worker killed between claiming an email and sending it leaves its claim: taken over
    # after this long (the mail server here answers at once).
    "DSR_EMAIL_CLAIM_SECONDS": "10",
}

SCHEMA = """
CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE, name text, phone text);
CREATE TABLE orders (
    id serial PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers (id), total numeric(10, 2)
);
INSERT INTO customers (email, name, phone)
    SELECT 'chaos-' || lpad(i::text, 4, '0') || '@example.org', 'Person ' || i, '+49 30 ' || i
    FROM generate_series(0, {n} - 1) AS i;
INSERT INTO orders (customer_id, total) SELECT id, 10 + id FROM customers, generate_series(1, 2);
"""
CRM_TABLES = [
    {"table": "customers", "identifiers": {"email": "email"}, "category": "profile", "rectify": ["name"],
     "erase": {"mode": "mask", "fields": {"email": None, "name": {"fixed": "erased"}, "phone": None}}},
    {"table": "orders", "via": {"column": "customer_id", "parent": "customers"}, "category": "orders",
     "erase": "delete"},
]


def email(i: int) -> str:
    return f"chaos-{i:04d}@example.org"


def unavailable(what: str) -> None:
    """Skip on a developer machine without the service; in CI that is a failure."""
    if IN_CI:
        pytest.fail(f"{what}; CI must run the chaos test", pytrace=False)
    pytest.skip(what)


@pytest.fixture
def crm_dsn():
    """A scratch PostgreSQL database for the CRM system, with one customer and two orders per person."""
    try:
        admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL is not reachable ({exc})")
    name = f"dsr_chaos_{os.getpid()}"
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(f"{PG_SERVER}/{name}", autocommit=True) as conn:
            conn.execute(SCHEMA.format(n=REQUESTS))
        yield name, f"{PG_SERVER}/{name}"
    finally:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def chaos_redis(tmp_path):
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@contextmanager
def app_side_on(redis_url: str):
    """This process publishes to, and caches in, the chaos Redis (as web and beat would)."""
    cache = {"default": {**settings.CACHES["default"], "BACKEND": "django.core.cache.backends.redis.RedisCache",
                         "LOCATION": redis_url}}
    with publishing_to(redis_url), override_settings(CACHES=cache):
        yield


class Chaos:
    """The fault schedule, run between the test's own steps (no threads)."""

    def __init__(self, worker: Worker, redis_server: RedisServer, crm_db: str) -> None:
        self.worker, self.redis, self.crm_db = worker, redis_server, crm_db
        self.t0 = time.monotonic()
        self.next_kill = KILL_EVERY
        self.redis_at = list(REDIS_RESTARTS_AT)
        self.pg_cut: int | None = None
        self.next_beat = dict.fromkeys(BEAT, 0.0)
        self.published: Counter = Counter()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def faults_pending(self) -> bool:
        return self.elapsed() < FAULTS_UNTIL or bool(self.redis_at) or self.pg_cut is None

    def tick(self, *, faults: bool = True) -> None:
        now = self.elapsed()
        for name, period in BEAT.items():  # what beat does: publish the task; a worker runs it
            if now >= self.next_beat[name]:
                sent = queue.enqueue(f"dsr.tasks.{name}")
                self.published[name if sent else f"{name} lost"] += 1
                self.next_beat[name] = now + period
        if not faults:
            return
        if now >= self.next_kill:
            self.worker.kill()
            self.worker.start()
            self.next_kill = now + KILL_EVERY
        if self.redis_at and now >= self.redis_at[0]:
            self.redis_at.pop(0)
            self.redis.restart(REDIS_DOWN)
        if self.pg_cut is None and now >= PG_CUT_AT:
            self.cut_crm_connections()

    def cut_crm_connections(self) -> None:
        """Terminate the CRM database's backends, once some worker holds one."""
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
            cut = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", [self.crm_db],
            ).fetchone()[0]
        if cut:
            self.pg_cut = cut


def file_request(api, token: str, i: int, kind: str, officer: Actor) -> None:
    """File one request as the company's site would; an officer accepts a correction and approves."""
    country, state = COUNTRIES[i % len(COUNTRIES)]
    body = {"kind": kind, "email": email(i), "country": country, "name": f"Person {i}"}
    if state:
        body["state"] = state
    if kind == "rectification":
        body["changes"] = [{"field": "name", "value": f"Corrected {i}"}]
    response = api.post("/api/v1/requests/", body, format="json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201, response.content
    if kind == "rectification":
        request = DataSubjectRequest.objects.get(reference=response.json()["reference"])
        for _ in range(10):  # the officer decides against the value the CRM holds now, once read
            if "crm-db" in current.read_current(str(request.pk)):
                break
        decide(request, {0: (True, "")}, actor=officer)
        assert fanout.approve(request, actor=officer)


def _twice_by_kind(mails: Counter) -> dict[str, int]:
    """The emails sent more than once, by subject with the request's reference left out."""
    return dict(Counter(re.sub(r"DSR-[A-Z0-9-]+", "DSR-…", subject)
                        for (_to, subject), n in mails.items() for _ in range(n - 1)))


def figures(kinds, worker: Worker, redis_server: RedisServer, chaos: Chaos, vendor: Vendor, marks, mails) -> str:
    jobs = list(ConnectorJob.objects.values_list("status", "attempts"))
    verbs = Counter(AuditEvent.objects.values_list("verb", flat=True))
    reconciled = worker.reconcile_totals()
    retried = Counter(d.get("system") for d in AuditEvent.objects.filter(verb="job.retry_scheduled")
                      .values_list("details", flat=True))
    # Results are encrypted at rest: the receipt is read in Python, not queried in SQL.
    erased_before = sum("confirmed_at" in ((r or {}).get("receipt") or {}) for r in
                        ConnectorJob.objects.filter(action="erase").values_list("result", flat=True))
    swept = sum(int(n) for n in worker.results("resend_unacknowledged") if n.isdigit())
    times = ", ".join(f"{name} at {at:.1f}s" for name, at in marks.items()) or "-"
    if "drained" in marks:
        times += f" ({marks['drained'] - marks['faults ended']:.1f}s after the last fault)"
    else:
        times += f"; NOT drained at {chaos.elapsed():.1f}s"
    return (
        f"\nchaos: {len(kinds)} requests {dict(Counter(kinds.values()))}, {len(jobs)} jobs"
        f"\n  faults: worker SIGKILLs {worker.kills}, Redis restarts {redis_server.restarts}, "
        f"CRM backends terminated {chaos.pg_cut}, vendor answers {dict(vendor.faults)}"
        f"\n  retries: audit job.retry_scheduled {verbs['job.retry_scheduled']}, "
        f"attempts beyond the first {sum(max(a - 1, 0) for _, a in jobs)}, "
        f"vendor replays of a known key {vendor.replays}; retries by system {dict(retried)}"
        f"\n  reconcile: published {chaos.published['reconcile']} (lost while Redis was down "
        f"{chaos.published['reconcile lost']}), ran {reconciled['runs']}, re-queued expired leases "
        f"{reconciled['expired_leases']}, re-queued stale {reconciled['stale_jobs']}, "
        f"runs that found a backlog {reconciled['backlogged']}, advanced {reconciled['advanced']}"
        f"\n  time: {times}"
        f"\n  emails: {sum(mails.values())} sent, {sum(n - 1 for n in mails.values())} of them again (same Message-ID) "
        f"{_twice_by_kind(mails)}, "
        f"receipts and outcome emails queued again by the sweep {swept}, "
        f"not acknowledged {DataSubjectRequest.objects.filter(acknowledged_at__isnull=True).count()}"
        f"\n  requests by status {dict(Counter(DataSubjectRequest.objects.values_list('status', flat=True)))}, "
        f"erasures done by a killed attempt, receipt kept {erased_before}; "
        f"jobs by status {dict(Counter(status for status, _ in jobs))}"
    )


def test_500_requests_survive_killed_workers_lost_broker_cut_database_and_a_flaky_vendor(
    tmp_path, crm_dsn, chaos_redis, api, client, desk_login, capsys
):
    crm_db, dsn = crm_dsn
    kinds = {i: KINDS[i % len(KINDS)] for i in range(REQUESTS)}
    vendor = Vendor([email(i) for i in range(REQUESTS)], seed=20260, timeout=VENDOR_TIMEOUT,
                    timeout_share=0.05)
    server = WebhookServer(SECRET)
    server.responder = vendor
    server.start()
    SystemConnection.objects.create(
        name="crm-db", connector="postgres", config={"tables": CRM_TABLES}, secrets={"dsn": dsn}, max_attempts=8,
    )
    SystemConnection.objects.create(
        name="vendor", connector="webhook", max_attempts=10,
        config={"url": server.url, "send_identifiers": ["email"], "timeout": VENDOR_TIMEOUT},
        secrets={"signing_secret": SECRET},
    )
    out = StringIO()
    call_command("issue_integration_token", "website", stdout=out)
    token = out.getvalue().strip()
    officer_user = desk_login("officer", "chaos-officer")
    officer = Actor.officer(officer_user)
    mail_dir = tmp_path / "mail"

    worker = Worker(tmp_path, {
        **os.environ, **WORKER_ENV,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": chaos_redis.url,
        "CELERY_BROKER_URL": chaos_redis.url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_URL": f"filemail://{mail_dir}",
    })
    marks: dict[str, float] = {}
    chaos = Chaos(worker, chaos_redis, crm_db)
    try:
        with app_side_on(chaos_redis.url):
            worker.start()
            # 1. File the requests through the integration API, faults going on meanwhile.
            for i in range(REQUESTS):
                chaos.tick()
                file_request(api, token, i, kinds[i], officer)
            marks["filed"] = chaos.elapsed()
            # 2. Faults go on for a while after the last request is filed.
            while chaos.faults_pending():
                chaos.tick()
                time.sleep(0.2)
            marks["faults ended"] = chaos.elapsed()

            # 3. Drain: only the reconciler (and the vendor's own failures) from here on.
            def settled() -> bool:
                chaos.tick(faults=False)
                if ConnectorJob.objects.exclude(status__in=TERMINAL_JOB_STATUSES).exists():
                    return False
                requests = DataSubjectRequest.objects
                if requests.filter(status=Status.IN_PROGRESS).exclude(jobs__status=JobStatus.FAILED).exists():
                    return False
                if requests.filter(status__in=OPEN_STATUSES, acknowledged_at__isnull=True).exists():
                    return False  # a receipt lost with its task, not yet sent again by the sweep
                return not requests.filter(status=Status.COMPLETED).exclude(audit_events__verb="outcome.sent").exists()

            wait_for(settled, timeout=DRAIN_TIMEOUT, what="every job to settle and every email to go")
            marks["drained"] = chaos.elapsed()
    finally:
        worker.stop()
        server.close()
        with capsys.disabled():
            print(figures(kinds, worker, chaos_redis, chaos, vendor, marks, sent_mails(mail_dir)))

    # -- the faults really happened ------------------------------------------------------
    jobs = list(ConnectorJob.objects.select_related("system", "request"))
    events = list(AuditEvent.objects.values_list("verb", "request_id", "details"))
    assert worker.kills >= 5 and chaos_redis.restarts == 2 and chaos.pg_cut >= 1
    assert vendor.faults["500"] > 0 and vendor.faults["timeout"] > 0

    # -- every request where the product says it ends; every job accounted for -----------
    requests = list(DataSubjectRequest.objects.all())
    assert len(requests) == REQUESTS
    assert not [j for j in jobs if j.status not in TERMINAL_JOB_STATUSES]
    assert Counter(j.request_id for j in jobs) == Counter({r.pk: 2 for r in requests})  # one per system
    failed = {j.request_id for j in jobs if j.status == JobStatus.FAILED}
    for request in requests:
        if request.pk in failed:  # left open for an officer, and said so in the audit trail
            assert request.status == Status.IN_PROGRESS
        else:
            assert request.status == EXPECTED[request.kind], (request.reference, request.status)
    attention = {r for verb, r, _ in events if verb == "request.needs_attention"}
    assert failed <= attention

    # -- each job's outcome recorded once ------------------------------------------------
    settled_events = Counter(
        (r, d["system"], d["action"]) for verb, r, d in events if verb == "job.succeeded"
    )
    for job in jobs:
        expected = 1 if job.status == JobStatus.SUCCEEDED else 0
        assert settled_events[(job.request_id, job.system.name, job.action)] == expected, job.pk
    final_moves = Counter(r for verb, r, _ in events if verb in ("status.review", "status.completed"))
    assert all(final_moves[r.pk] == 1 for r in requests if r.pk not in failed)

    # -- the vendor: one key per job, never two at once, nothing after a job was done -----
    vendor_jobs = {j.idempotency_key: j for j in jobs if j.system.name == "vendor"}
    deliveries = defaultdict(list)
    for delivery in vendor.deliveries:
        deliveries[delivery.key].append(delivery)
    assert set(deliveries) == set(vendor_jobs)
    for key, calls in deliveries.items():
        job = vendor_jobs[key]
        assert {(c.job_id, c.action) for c in calls} == {(str(job.pk), job.action)}
        calls.sort(key=lambda c: c.received)
        for before, after in itertools.pairwise(calls):
            if before.fault != "timeout":  # a timed-out call is given up by the caller
                assert after.received >= before.answered, f"job {job.pk} ran twice at once"
        if job.status == JobStatus.SUCCEEDED:
            assert key in vendor.applied
            assert calls[-1].received <= job.finished_at.timestamp(), f"job {job.pk} ran again after it succeeded"
    for i, kind in kinds.items():
        contact = vendor.contacts.get(email(i))
        if kind == "erasure":
            assert contact is None
        else:
            assert contact is not None
            assert contact.get("name") == (f"Corrected {i}" if kind == "rectification" else None)

    # -- the CRM database: erased, corrected or untouched, each person exactly as asked ---
    with psycopg.connect(dsn) as conn:
        rows = {
            row[0]: row[1:] for row in conn.execute(
                "SELECT c.id - 1, c.email, c.name, count(o.id) FROM customers c "
                "LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id"
            )
        }
    for i, kind in kinds.items():
        if kind == "erasure":
            assert rows[i] == (None, "erased", 0)
        elif kind == "rectification":
            assert rows[i] == (email(i), f"Corrected {i}", 2)
        else:
            assert rows[i] == (email(i), f"Person {i}", 2)
    for job in jobs:  # what each system holds per person: 1 customer + 2 orders, 1 contact
        held = 3 if job.system.name == "crm-db" else 1
        if job.action == "export" and job.status == JobStatus.SUCCEEDED:
            assert (storage.export_root() / job.export_file).exists()
            assert job.export_records == held
        if job.action == "erase" and job.status == JobStatus.SUCCEEDED:  # even if a killed attempt did it
            assert job.affected == held, (job.system.name, job.attempts, job.result)

    # -- every person told, once: a receipt while open, the outcome when closed ----------
    told = Counter((verb, r) for verb, r, _ in events if verb in ("acknowledgement.sent", "outcome.sent"))
    for request in requests:
        assert told[("acknowledgement.sent", request.pk)] == (request.acknowledged_at is not None)
        if request.status in OPEN_STATUSES:
            assert request.acknowledged_at is not None, request.reference
        else:
            assert told[("outcome.sent", request.pk)] == 1, request.reference
    copies = sent_messages(mail_dir)
    outcome_mails = [key for key in copies if key[1].endswith(" is complete")]
    assert len(outcome_mails) == sum(r.status == Status.COMPLETED for r in requests)
    # Each email is one message. A copy goes again only where a worker was killed between the
    # mail server's answer and the log row, so nothing recorded that it went: then it goes under
    # the same Message-ID (one message to a mail program), and the log holds it once, from the
    # copy that was logged. Never two messages, never twice from two live tasks.
    resent = Counter()
    for key, message_ids in copies.items():
        assert len(set(message_ids)) == 1, f"{key}: {len(set(message_ids))} different messages"
        resent[message_ids[0]] = len(message_ids) - 1
    resent = +resent
    logged = Counter(EmailLog.objects.filter(message_id__in=resent, status="sent").values_list("message_id", flat=True))
    assert all(logged[message_id] == 1 for message_id in resent), (resent, logged)
    assert sum(resent.values()) <= 2 * worker.kills  # a SIGKILL stops two pool processes, each in one moment

    # -- the audit chain, and nothing an officer cannot see ------------------------------
    assert list(verify_chain()) == []
    call_command("verify_audit", stdout=StringIO())
    queue: set[str] = set()
    url = "/api/v1/desk/requests/?open=1&limit=500"
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.content
        queue |= {item["reference"] for item in page.json()["results"]}
        url = page.json()["next"]
    assert queue == {r.reference for r in requests if r.status in OPEN_STATUSES}
    for request_id in failed:
        detail = client.get(f"/api/v1/desk/requests/{request_id}/").json()
        assert any(j["status"] == "failed" and j["error"] for j in detail["jobs"])
