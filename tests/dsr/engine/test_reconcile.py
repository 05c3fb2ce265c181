"""The reconciler queues lost work again, without flooding a long queue with copies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from dsr.celery import app as celery_app
from dsr.core import queue
from dsr.core.models import AuditEvent, ConnectorJob, JobStatus, Status, SystemConnection
from dsr.engine import fanout, recovery
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    """The job ids the engine hands to the broker (here: kept, not run)."""
    sent: list[str] = []
    monkeypatch.setattr(fanout, "enqueue_job", lambda job_id, **_: sent.append(job_id) or True)
    return sent


def pending_jobs(count: int, *, due_ago: timedelta, systems=("crm", "shop")) -> list[ConnectorJob]:
    systems = [SystemConnection.objects.create(name=name, connector="memory") for name in systems]
    jobs = []
    for _ in range(count):
        request = RequestFactory(kind="access", status=Status.IN_PROGRESS)
        for system in systems:
            jobs.append(ConnectorJob.objects.create(
                request=request, system=system, action="export", idempotency_key=f"{request.pk}:{system.pk}",
                next_attempt_at=timezone.now() - due_ago,
            ))
    return jobs


def test_a_job_still_behind_a_long_queue_is_queued_again_once_per_period(published, settings):
    settings.DSR_JOB_REQUEUE_AFTER_SECONDS = 60
    jobs = pending_jobs(3, due_ago=timedelta(minutes=5))  # lost, or still waiting in a long queue

    first = recovery.reconcile()
    assert sorted(published) == sorted(str(j.pk) for j in jobs)
    assert (first["stale_jobs"], first["stale_requests"]) == (6, 3)
    for job in ConnectorJob.objects.all():
        assert timezone.now() - job.next_attempt_at < timedelta(seconds=10)

    # The next runs, within the period, add nothing to the queue: that message may still come.
    for _ in range(3):
        assert recovery.reconcile()["stale_jobs"] == 0
    assert len(published) == 6

    # A period later the job is still pending: that message was lost too; queue it again.
    ConnectorJob.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=61))
    assert recovery.reconcile()["stale_jobs"] == 6
    assert len(published) == 12


def test_a_job_due_within_the_period_is_left_to_its_message(published, settings):
    settings.DSR_JOB_REQUEUE_AFTER_SECONDS = 60
    pending_jobs(2, due_ago=timedelta(seconds=30))
    assert recovery.reconcile()["stale_jobs"] == 0
    assert published == []


def test_a_later_phase_queued_again_still_waits_for_the_identity_lookup(settings):
    settings.DSR_JOB_REQUEUE_AFTER_SECONDS = 60
    lookup, crm = (SystemConnection.objects.create(name=name, connector="memory") for name in ("idp", "crm"))
    request = RequestFactory(kind="access", status=Status.IN_PROGRESS)
    long_ago = timezone.now() - timedelta(minutes=5)
    ConnectorJob.objects.create(
        request=request, system=lookup, action="locate", phase=0, idempotency_key="a", status=JobStatus.RUNNING,
        attempts=1, lease_expires_at=timezone.now() + timedelta(minutes=1), next_attempt_at=long_ago,
    )
    later = ConnectorJob.objects.create(
        request=request, system=crm, action="export", phase=1, idempotency_key="b", next_attempt_at=long_ago,
    )
    assert recovery.reconcile()["stale_jobs"] == 1  # queued (the tasks run eagerly here)...
    later.refresh_from_db()
    assert (later.status, later.attempts) == (JobStatus.PENDING, 0)  # ...and refused by its claim


def test_nothing_is_added_while_the_jobs_queue_still_holds_messages(published, monkeypatch, settings):
    settings.DSR_JOB_REQUEUE_AFTER_SECONDS = 60
    pending_jobs(2, due_ago=timedelta(minutes=5))
    monkeypatch.setattr(queue, "waiting_job_messages", lambda: 40)  # their messages may be among those
    counts = recovery.reconcile()
    assert (counts["stale_jobs"], counts["backlog"], published) == (0, 40, [])
    monkeypatch.setattr(queue, "waiting_job_messages", lambda: 0)  # drained, and they are still pending
    assert recovery.reconcile()["stale_jobs"] == 4
    assert len(published) == 4


def test_a_job_whose_worker_died_goes_back_to_pending_and_is_queued_once(published, monkeypatch, settings):
    settings.DSR_JOB_REQUEUE_AFTER_SECONDS = 60
    monkeypatch.setattr(queue, "waiting_job_messages", lambda: 40)  # even behind a long queue
    job = pending_jobs(1, due_ago=timedelta(seconds=0))[0]
    ConnectorJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert recovery.reconcile()["expired_leases"] == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_expires_at) == (JobStatus.PENDING, 1, None)
    assert published == [str(job.pk)]
    recovery.reconcile()
    assert published == [str(job.pk)]


@pytest.fixture
def real_broker():
    """The configured broker (Redis in CI, folders on a laptop), not the eager shortcut."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    yield
    celery_app.control.purge()
    celery_app.conf.task_always_eager = django_settings.CELERY_TASK_ALWAYS_EAGER


def test_the_jobs_queue_is_counted_on_the_real_broker(real_broker):
    assert queue.waiting_job_messages() == 0
    for job_id in ("a", "b", "c"):
        assert fanout.enqueue_job(job_id)
    assert queue.waiting_job_messages() == 3


def test_a_broker_that_cannot_be_reached_counts_as_unknown(real_broker, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    assert queue.waiting_job_messages() is None


def test_a_job_that_keeps_losing_its_worker_fails_visibly_after_its_attempts(published, django_capture_on_commit_callbacks):
    [job] = pending_jobs(1, due_ago=timedelta(seconds=0), systems=["crm"])
    job.system.max_attempts = 3
    job.system.save()
    lapsed = timezone.now() - timedelta(seconds=1)
    ConnectorJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=2, lease_expires_at=lapsed)
    recovery.reconcile()
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and published == [str(job.pk)]  # one attempt left

    ConnectorJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=3, lease_expires_at=lapsed)
    with django_capture_on_commit_callbacks(execute=True):
        counts = recovery.reconcile()
    job.refresh_from_db()
    assert (job.status, counts["expired_leases"]) == (JobStatus.FAILED, 0)
    assert "worker stopped before it finished, 3 times" in job.error
    assert published == [str(job.pk)]
    assert AuditEvent.objects.filter(request=job.request, verb="request.needs_attention").exists()
