"""A real, separate Celery worker sends the acknowledgement through the real broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from dsr.celery import app as celery_app
from dsr.models import DataSubjectRequest, Status

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    """Start `celery -A dsr worker` on the test database and this run's broker."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    mail_dir = tmp_path / "mail"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_URL": f"filemail://{mail_dir}",
    }
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dsr", "worker", "--pool=solo", "-l", "info"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield mail_dir
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
        log.close()
        print((tmp_path / "worker.log").read_text()[-3000:])


def _wait_for_mail(mail_dir: Path, timeout: float = 45.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(mail_dir.glob("*.log")) if mail_dir.exists() else []
        if files:
            return files[0].read_text()
        time.sleep(0.2)
    raise AssertionError(f"the worker sent no email within {timeout}s")


def test_a_separate_worker_sends_the_code_and_the_person_verifies(worker, api):
    response = api.post(
        "/api/v1/requests/",
        {"kind": "erasure", "email": "worker-test@example.com", "country": "FR"},
        format="json",
    )
    assert response.status_code == 201
    reference = response.json()["reference"]
    message = _wait_for_mail(worker)
    assert "To: worker-test@example.com" in message
    code = re.search(r"^\s{4}(\d{6})\s*$", message, re.MULTILINE).group(1)
    verified = api.post(f"/api/v1/requests/{reference}/verify/", {"code": code}, format="json")
    assert verified.status_code == 200, verified.content
    request = DataSubjectRequest.objects.get(reference=reference)
    assert request.status == Status.VERIFIED
    assert request.acknowledged_at is not None
