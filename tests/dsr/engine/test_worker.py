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

from dsr.celery import app as celery_app
from dsr.core.audit import Actor
from dsr.core.models import ConnectorJob, DataSubjectRequest, Status, SystemConnection
from dsr.demo_shop.models import Customer, Order, SupportTicket
from dsr.demo_shop.seed import SHOP_SYSTEMS, seed_shop
from dsr.engine import fanout, recovery
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
            "DSR_CONNECTORS": "slow=tests.dsr.flaky:SlowConnector",
            "DSR_JOB_LEASE_SECONDS": "2",
            "DSR_RETRY_BASE_SECONDS": "0.2",
        }

    def start(self) -> subprocess.Popen:
        log = (self.tmp_path / f"worker-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dsr", "worker", "--pool=solo", "-l", "info",
             "-n", f"test{len(self.processes)}@%h"],
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


@pytest.fixture
def workers(tmp_path):
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        pool.stop()
        celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


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


def test_a_job_on_a_killed_worker_is_finished_by_another(workers, django_capture_on_commit_callbacks):
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
    assert counts["expired_leases"] == 1
    wait_for(
        lambda: DataSubjectRequest.objects.get(pk=request.pk).status == Status.COMPLETED,
        what="the second worker to finish the job",
    )
    job.refresh_from_db()
    assert (job.status, job.attempts, job.affected) == ("succeeded", 2, 1)
