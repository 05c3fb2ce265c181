"""Real, separate Celery worker processes on the real broker (Redis in CI)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from kombu import Connection

from connectors import registry
from dsr.celery import app as celery_app
from dsr.core import queue
from dsr.core.audit import Actor
from dsr.core.models import ConnectorJob, DataSubjectRequest, Status, SystemConnection
from dsr.core.queue import Task
from dsr.demo_shop.models import Customer, Order, SupportTicket
from dsr.demo_shop.seed import SHOP_SYSTEMS, seed_shop
from dsr.engine import fanout, recovery
from tests.brokers import broker_urls, publishing_to
from tests.conftest import IN_CI
from tests.factories import RequestFactory

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


class Workers:
    """Start and kill `celery -A dsr worker` processes on the test database."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.mail_dir = tmp_path / "mail"
        self.processes: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "EMAIL_URL": f"filemail://{self.mail_dir}",
            "DSR_CONNECTORS": "slow=tests.dsr.flaky:SlowConnector,slow-http=tests.dsr.flaky:SlowHttpConnector",
            "DSR_JOB_LEASE_SECONDS": "2",
            "DSR_RETRY_BASE_SECONDS": "0.2",
        }

    def start(self, *queues: str) -> subprocess.Popen:
        """A worker on every queue, or only on ``queues`` (as on a host given one class of jobs)."""
        log = (self.tmp_path / f"worker-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dsr", "worker", "--pool=solo", "-l", "info",
             "-n", f"test{len(self.processes)}@%h", *(["-Q", ",".join(queues)] if queues else [])],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        for log in sorted(self.tmp_path.glob("worker-*.log")):
            print(f"--- {log.name}\n{log.read_text()[-2500:]}")


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request) -> str:
    """Each documented broker in turn: the configured one (Redis in CI), then RabbitMQ."""
    name, url = request.param, broker_urls()[request.param]
    try:
        with Connection(url, connect_timeout=3) as probe:
            probe.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - whatever the transport raises: the broker is away
        reason = f"{name} broker ({url.rpartition('@')[2]}) is not reachable: {exc}"
        if IN_CI:
            pytest.fail(f"{reason}; CI must run the worker tests on both brokers", pytrace=False)
        pytest.skip(reason)
    with publishing_to(url):
        celery_app.control.purge()
        yield name
        celery_app.control.purge()


@pytest.fixture
def workers(tmp_path, broker):
    pool = Workers(tmp_path)
    pool.env["CELERY_BROKER_URL"] = broker_urls()[broker]
    try:
        yield pool
    finally:
        pool.stop()


def wait_for(predicate, timeout: float = 45.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_a_separate_worker_sends_the_code_and_the_person_verifies(workers, api):
    workers.start()
    response = api.post(
        "/api/v1/requests/",
        {"kind": "erasure", "email": "worker-test@example.com", "country": "FR"},
        format="json",
    )
    assert response.status_code == 201
    reference = response.json()["reference"]

    def mail():
        files = sorted(workers.mail_dir.glob("*.log")) if workers.mail_dir.exists() else []
        return files[0].read_text() if files else None

    message = wait_for(mail, what="the acknowledgement email")
    assert "To: worker-test@example.com" in message
    code = re.search(r"^\s{4}(\d{6})\s*$", message, re.MULTILINE).group(1)
    verified = api.post(f"/api/v1/requests/{reference}/verify/", {"code": code}, format="json")
    assert verified.status_code == 200, verified.content
    request = DataSubjectRequest.objects.get(reference=reference)
    assert request.status == Status.VERIFIED
    assert request.acknowledged_at is not None


def test_a_worker_erases_a_person_from_the_shop_end_to_end(workers, api, capsys):
    seed_shop()
    for values in SHOP_SYSTEMS:
        SystemConnection.objects.create(**values)
    call_command("issue_integration_token", "website")
    token = capsys.readouterr().out.strip()
    workers.start()
    response = api.post(
        "/api/v1/requests/",
        {"kind": "erasure", "email": "dan.demo@example.org", "country": "BR"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201
    request = DataSubjectRequest.objects.get(reference=response.json()["reference"])
    wait_for(
        lambda: DataSubjectRequest.objects.get(pk=request.pk).status == Status.COMPLETED,
        what="the erasure to complete",
    )
    dan = Customer.objects.get(customer_number="C-1004")
    assert (dan.email, dan.name) == (None, None)
    assert not Order.objects.filter(customer=dan).exists()
    assert not SupportTicket.objects.filter(email="dan.demo@example.org").exists()
    assert Order.objects.count() == 9  # the other three customers keep theirs
    assert {j.status for j in request.jobs.all()} == {"succeeded"}
    call_command("verify_audit")


def test_a_job_on_a_killed_worker_is_finished_by_another(workers, broker, django_capture_on_commit_callbacks):
    SystemConnection.objects.create(
        name="slow-crm", connector="slow",
        config={"sleep": 4, "records": [{"category": "profile", "fields": {"email": "kim@example.com"}}]},
    )
    request = RequestFactory(kind="erasure", status=Status.VERIFIED, identifiers={"email": "kim@example.com"})
    first = workers.start()
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    job = ConnectorJob.objects.get(request=request)
    wait_for(lambda: ConnectorJob.objects.get(pk=job.pk).status == "running", what="the job to start")
    first.send_signal(signal.SIGKILL)  # mid-job: the erase is sleeping
    first.wait(timeout=10)
    assert ConnectorJob.objects.get(pk=job.pk).status == "running"
    workers.start()
    time.sleep(2.5)  # the dead worker's lease (2 s) runs out
    counts = recovery.reconcile()  # what beat runs every minute
    if broker == "redis":  # Redis gives an unacknowledged message back only after an hour
        assert counts["expired_leases"] == 1
    # RabbitMQ gives it back as the dead worker's connection drops: either the new worker
    # claims it once the lease has run out, or the reconciler re-queues it. Once, either way.
    wait_for(
        lambda: DataSubjectRequest.objects.get(pk=request.pk).status == Status.COMPLETED,
        what="the second worker to finish the job",
    )
    job.refresh_from_db()
    assert (job.status, job.attempts, job.affected) == ("succeeded", 2, 1)


@pytest.fixture
def slow_http(monkeypatch):
    monkeypatch.setitem(registry.BUILTINS, "slow-http", "tests.dsr.flaky:SlowHttpConnector")
    registry.available.cache_clear()
    registry.load.cache_clear()
    yield
    registry.available.cache_clear()
    registry.load.cache_clear()


def test_a_slow_http_system_never_holds_up_the_database_systems(workers, slow_http, django_capture_on_commit_callbacks):
    """Jobs go to a queue by their system's class; a worker given the fast class alone never
    takes an HTTP system's job, which waits for a worker on its own queue."""
    person = [{"category": "profile", "fields": {"email": "lee@example.com"}}]
    SystemConnection.objects.create(name="crm-db", connector="memory", config={"records": person})
    SystemConnection.objects.create(name="vendor", connector="slow-http", config={"sleep": 0, "records": person})
    request = RequestFactory(kind="erasure", status=Status.VERIFIED, identifiers={"email": "lee@example.com"})
    workers.start(settings.DSR_JOB_QUEUES["fast"], "celery")
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    crm = ConnectorJob.objects.get(request=request, system__name="crm-db")
    wait_for(lambda: ConnectorJob.objects.get(pk=crm.pk).status == "succeeded", what="the database job")
    time.sleep(1)
    vendor = ConnectorJob.objects.get(request=request, system__name="vendor")
    assert vendor.status == "pending" and vendor.attempts == 0  # nobody takes the HTTP queue yet
    workers.start(settings.DSR_JOB_QUEUES["http"])
    wait_for(lambda: DataSubjectRequest.objects.get(pk=request.pk).status == Status.COMPLETED,
             what="the HTTP worker to finish the vendor's job")
    assert ConnectorJob.objects.get(pk=vendor.pk).attempts == 1


def test_each_message_reaches_its_own_queue_and_only_that_one(broker, slow_http):
    person = [{"category": "profile", "fields": {"email": "lee@example.com"}}]
    request = RequestFactory(kind="erasure", status=Status.IN_PROGRESS, identifiers={"email": "lee@example.com"})
    jobs = [
        ConnectorJob.objects.create(
            request=request, action="erase", idempotency_key=name,
            system=SystemConnection.objects.create(name=name, connector=connector, config={"records": person}),
        )
        for name, connector in [("crm-db", "memory"), ("vendor", "slow-http")]
    ]
    fanout.enqueue_jobs([str(job.pk) for job in jobs])
    assert queue.enqueue(Task.EXPIRE_BUNDLES)
    fast, http = settings.DSR_JOB_QUEUES["fast"], settings.DSR_JOB_QUEUES["http"]
    assert [queue.backlog([name]) for name in ("celery", fast, http)] == [1, 1, 1]
    assert queue.waiting_job_messages() == 2 and queue.backlog(["celery", fast, http]) == 3
