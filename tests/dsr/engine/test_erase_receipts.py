"""A batch erase whose worker dies after the system committed still says what it erased."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import pytest
from django.utils import timezone

from connectors import registry
from connectors.memory import MemoryConnector
from dsr.core.models import ConnectorJob, JobStatus, Status, SystemConnection
from dsr.engine import recovery, runner
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Nothing in the engine catches it: as with SIGKILL, the job is left as it was."""


class DyingBatchConnector(MemoryConnector):
    """Memory records erased in one ``erase_many``; the check that follows can kill the worker."""

    key = "dying-batch"
    dying: ClassVar[bool] = False

    def erase_many(self, subjects):
        return {subject.request_id: self.erase(subject) for subject in subjects}

    def locate(self, subject, *, job=None):
        if DyingBatchConnector.dying:
            raise WorkerKilled
        return super().locate(subject, job=job)


@pytest.fixture(autouse=True)
def dying_batch(monkeypatch):
    monkeypatch.setitem(registry.BUILTINS, "dying-batch", f"{__name__}:DyingBatchConnector")
    registry.available.cache_clear()
    registry.load.cache_clear()
    MemoryConnector.reset()
    yield
    DyingBatchConnector.dying = False
    MemoryConnector.reset()
    registry.available.cache_clear()
    registry.load.cache_clear()


def test_the_retry_of_a_batch_killed_after_the_erase_keeps_the_first_receipt(django_capture_on_commit_callbacks):
    records = [{"category": "orders", "fields": {"email": email}}
               for email in ("ana@example.org", "ana@example.org", "ben@example.org")]
    system = SystemConnection.objects.create(name="shop", connector="dying-batch", config={"records": records})
    erasures = {}
    for email in ("ana@example.org", "ben@example.org"):
        request = RequestFactory(kind="erasure", status=Status.IN_PROGRESS, identifiers={"email": email})
        erasures[email] = ConnectorJob.objects.create(
            request=request, system=system, action="erase", idempotency_key=f"{request.pk}:erase"
        )

    DyingBatchConnector.dying = True
    with pytest.raises(WorkerKilled):  # the records are gone; the jobs were never settled
        runner.run(str(erasures["ana@example.org"].pk))
    assert set(ConnectorJob.objects.values_list("status", flat=True)) == {JobStatus.RUNNING}

    DyingBatchConnector.dying = False
    ConnectorJob.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        recovery.reconcile()  # back to pending, queued, run again (eagerly here): nothing left to erase
    for email, erased in (("ana@example.org", 2), ("ben@example.org", 1)):
        job = ConnectorJob.objects.get(pk=erasures[email].pk)
        assert (job.status, job.attempts, job.affected) == (JobStatus.SUCCEEDED, 2, erased)
        receipt = job.result["receipt"]
        assert receipt["affected"] == erased and receipt["by_category"] == {"orders": erased}
        assert receipt["confirmed_at"] >= receipt["at"]
        assert job.result["verified"] is True
    assert set(ConnectorJob.objects.values_list("request__status", flat=True)) == {Status.COMPLETED}


def test_a_first_attempt_keeps_its_own_receipt():
    system = SystemConnection.objects.create(
        name="shop", connector="dying-batch", config={"records": [{"fields": {"email": "ana@example.org"}}]}
    )
    request = RequestFactory(kind="erasure", status=Status.IN_PROGRESS, identifiers={"email": "ana@example.org"})
    job = ConnectorJob.objects.create(request=request, system=system, action="erase", idempotency_key="k")
    assert runner.run(str(job.pk)) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.affected == 1 and "confirmed_at" not in job.result["receipt"]
